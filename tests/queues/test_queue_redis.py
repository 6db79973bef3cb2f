"""The Redis backend's own edge: keys changed behind its back (eviction, a hand-run DEL)."""

from __future__ import annotations

import pytest

from bindings.queues.backend import Outcome, Stored


@pytest.fixture
def backend(redis_prefix):
    """Only Redis here (the contract suite covers both backends)."""
    return {"backend": "redis", "poll_interval": 0.01, "redis_prefix": redis_prefix}


async def test_a_message_whose_payload_vanished_in_flight_still_settles(queues):
    q = await queues(settings={})
    store = q.plugin.backend("gone")
    now = int(q.clock() * 1000)
    messages = [(Stored(i, now, "text", b"body"), now) for i in ("m1", "m2", "m3")]
    await store.enqueue("gone", messages)
    claimed = await store.claim("gone", now, 10, now + 1000)
    assert [c.message.id for c in claimed] == ["m1", "m2", "m3"]
    payloads = store._keys("gone", "m")[0]
    await store._redis.hdel(payloads, "m1", "m3")  # evicted while the batch ran
    acked, dead = claimed[:2], claimed[2:]
    outcome = Outcome(acked=acked, dead=dead, dead_letter_queue="gone-dlq")
    assert await store.settle("gone", outcome, now) == 3  # no script error halfway through
    assert (await store.metrics("gone")).count == 0
    [peeked] = await store.peek("gone-dlq", 10, now)
    assert peeked.message.id == "m3"
