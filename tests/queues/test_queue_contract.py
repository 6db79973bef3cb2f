"""The Queues contract, run on every backend: sending, batching, acks, retries, dead letters."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

import pytest

from bindings import JsDict, JsTypeError, Runtime
from bindings.queues import QueueSendError, QueuesPlugin
from bindings.queues.backend import Outcome, Stored
from tests.queues.conftest import quiet, until

START = dt.datetime.fromtimestamp(1_000_000, dt.UTC)


async def test_send_returns_metrics_from_before_and_delivers_in_order(queues):
    q = await queues(consumers=[{"queue": "q", "max_batch_timeout": 0}])
    q.hook("q", lambda b: None)
    first = await q.env.Q.send({"n": 1})
    assert first == {"metadata": {"metrics": {"backlogCount": 0, "backlogBytes": 0}}}
    await until(lambda: q.bodies() == [[{"n": 1}]])
    second = await q.env.Q.sendBatch([{"body": {"n": i}} for i in range(2, 5)])
    assert second.metadata.metrics.backlogCount == 0  # the first was acked before
    await until(lambda: sum(len(b) for b in q.bodies()) == 4)
    assert [body for batch in q.bodies() for body in batch] == [{"n": n} for n in range(1, 5)]
    message = q.batches()[0].messages[0]
    assert len(message.id) == 32 and int(message.id, 16) >= 0
    assert message.timestamp == START
    assert message.attempts == 1
    assert isinstance(message.body, JsDict) and message.body.n == 1


async def test_metrics_count_what_waits_and_the_oldest_timestamp(queues):
    q = await queues()  # no consumer: messages stay
    r1 = await q.env.Q.send("a", contentType="text")
    q.advance(5)
    r2 = await q.env.Q.sendBatch([{"body": "bb", "contentType": "text"}], {"delaySeconds": 60})
    assert r1.metadata.metrics == {"backlogCount": 0, "backlogBytes": 0}
    assert r2.metadata.metrics == {
        "backlogCount": 1,
        "backlogBytes": 1,
        "oldestMessageTimestamp": START,
    }
    assert await q.env.Q.metrics() == {
        "backlogCount": 2,
        "backlogBytes": 3,
        "oldestMessageTimestamp": START,
    }


async def test_content_types_round_trip(queues):
    q = await queues(consumers=[{"queue": "q", "max_batch_timeout": 0, "max_batch_size": 10}])
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    cyclic: dict = {"name": "loop"}
    cyclic["self"] = cyclic
    await q.env.Q.sendBatch(
        [
            {"body": "hello", "contentType": "text"},
            {"body": {"a": [1, 2.5, None, True], "when": when}, "contentType": "JSON"},
            {"body": b"\x00\xffbin", "contentType": "bytes"},
            {"body": {"big": 2**80, "when": when, "set": {1, 2}, "raw": b"x", "c": cyclic},
             "contentType": "v8"},
        ]
    )  # fmt: skip
    await until(lambda: len(q.bodies()) == 1)
    text, data, raw, cloned = q.bodies()[0]
    assert text == "hello"
    assert data == {"a": [1, 2.5, None, True], "when": "2026-01-02T03:04:05.000Z"}
    assert isinstance(raw, memoryview) and bytes(raw) == b"\x00\xffbin"
    assert cloned["big"] == 2**80 and cloned["when"] == when and cloned["set"] == {1, 2}
    assert cloned["raw"] == b"x" and cloned.c["self"] is cloned.c


async def test_default_content_type_follows_the_compatibility_date(queues):
    q = await queues(
        consumers=[{"queue": "q", "max_batch_timeout": 0}], compatibility_date="2024-01-01"
    )
    await q.env.Q.send({"kept": {1, 2}})  # v8 before queues_json_messages: a set survives
    await until(lambda: q.bodies() == [[{"kept": {1, 2}}]])
    with pytest.raises(JsTypeError, match="cannot be sent as JSON"):
        await q.env.Q.send({"s": {1}}, contentType="json")


async def test_send_errors_carry_cloudflare_messages(queues):
    q = await queues()
    Q = q.env.Q
    big = b"x" * 128_001
    cases = [
        (Q.send("x", contentType="yaml"), JsTypeError,
         "Unsupported queue message content type: yaml"),
        (Q.send(5, contentType="text"), JsTypeError,
         'Content Type "text" requires a value of type string, but received: number'),
        (Q.send("x", contentType="bytes"), JsTypeError,
         'Content Type "bytes" requires a value of type ArrayBufferView, but received: string'),
        (Q.sendBatch([]), JsTypeError, "sendBatch() requires at least one message"),
        (Q.sendBatch([{"contentType": "text"}]), JsTypeError, "Message body cannot be undefined"),
        (Q.send({"t": (1, 2)}), JsTypeError,
         "Tuples cannot be cloned or sent over RPC; use a list."),
        (Q.send(big, contentType="bytes"), QueueSendError,
         "Queue send failed: message length of 128001 bytes exceeds limit of 128000"),
        (Q.sendBatch([{"body": i} for i in range(101)]), QueueSendError,
         "Queue sendBatch failed: batch message count of 101 exceeds limit of 100"),
        (Q.sendBatch([{"body": big, "contentType": "bytes"}]), QueueSendError,
         "Queue sendBatch failed: message in batch has length 128001 bytes which exceeds "
         "single message size limit of 128000"),
        (Q.sendBatch([{"body": b"x" * 100_000, "contentType": "bytes"}] * 3), QueueSendError,
         "Queue sendBatch failed: batch size of 300000 bytes exceeds limit of 288000"),
        (Q.send("x", delaySeconds=86_401), QueueSendError,
         "Queue send failed: message delay 86401 is invalid: "
         "Number must be less than or equal to 86400"),
        (Q.sendBatch([{"body": 1}], delaySeconds=-1), QueueSendError,
         "Queue sendBatch failed: message delay -1 is invalid: "
         "Number must be greater than or equal to 0"),
        (Q.sendBatch([{"body": 1, "delaySeconds": 1.5}]), QueueSendError,
         "Queue sendBatch failed: message delay 1.5 is invalid: "
         "Expected integer, received float"),
    ]  # fmt: skip
    for call, error, message in cases:
        with pytest.raises(error) as info:
            await call
        assert str(info.value) == message
    assert (await Q.metrics()).backlogCount == 0  # nothing refused was stored


async def test_batches_flush_when_full_and_otherwise_after_the_timeout(queues):
    q = await queues(consumers=[{"queue": "q"}])  # max_batch_size 5, max_batch_timeout 1 s
    await q.env.Q.send(0)
    await quiet()
    assert q.bodies() == []  # one message waits for the timeout (the clock is frozen)
    q.advance(0.5)
    await quiet()
    assert q.bodies() == []
    q.advance(0.5)
    await until(lambda: q.bodies() == [[0]])

    await q.env.Q.sendBatch([{"body": i} for i in range(1, 8)])  # 7: 5 at once, 2 later
    await until(lambda: len(q.bodies()) == 2)
    await quiet()
    assert q.bodies()[1:] == [[1, 2, 3, 4, 5]]
    q.advance(1)
    await until(lambda: len(q.bodies()) == 3)
    assert q.bodies()[2] == [6, 7]

    await q.env.Q.sendBatch([{"body": i} for i in range(8, 14)])  # 6, then 5 more: 5, 5, 1
    await until(lambda: len(q.bodies()) == 4)
    await q.env.Q.sendBatch([{"body": i} for i in range(14, 19)])
    await until(lambda: len(q.bodies()) == 5)
    await quiet()
    assert q.bodies()[3:] == [[8, 9, 10, 11, 12], [13, 14, 15, 16, 17]]
    q.advance(1)
    await until(lambda: len(q.bodies()) == 6)
    assert q.bodies()[5] == [18]


async def test_batch_size_bounds_each_delivery(queues):
    q = await queues(consumers=[{"queue": "q", "max_batch_size": 3, "max_batch_timeout": 0}])
    await q.env.Q.sendBatch([{"body": i} for i in range(8)])
    await until(lambda: sum(map(len, q.bodies())) == 8)
    assert [body for batch in q.bodies() for body in batch] == list(range(8))
    assert all(len(batch) <= 3 for batch in q.bodies())


async def test_explicit_retry_redelivers_only_that_message(queues, caplog):
    caplog.set_level(logging.DEBUG, "hearth.queues")
    q = await queues(consumers=[{"queue": "q", "max_batch_timeout": 0}])

    def retry_second(batch):
        if batch.messages[0].attempts == 1:
            batch.messages[1].retry()

    q.hook("q", retry_second)
    await q.env.Q.sendBatch([{"body": i} for i in range(3)])
    await until(lambda: len(q.bodies()) == 2)
    assert q.bodies() == [[0, 1, 2], [1]]
    again = q.batches()[1].messages[0]
    assert again.attempts == 2 and again.id == q.batches()[0].messages[1].id
    text = caplog.text
    assert f'Retrying message "{again.id}" on queue "q"...' in text
    assert "QUEUE q 2/3 (" in text and "QUEUE q 1/1 (" in text


async def test_retry_all_and_an_exception_retry_what_was_not_acked(queues, caplog):
    caplog.set_level(logging.INFO, "hearth.queues")
    q = await queues(consumers=[{"queue": "q", "max_batch_timeout": 0}])
    seen: list[int] = []

    def first_time(batch):
        seen.append(len(batch.messages))
        if len(seen) == 1:
            batch.retryAll()
        elif len(seen) == 2:
            batch.messages[0].ack()
            raise RuntimeError("boom")

    q.hook("q", first_time)
    await q.env.Q.sendBatch([{"body": i} for i in range(3)])
    await until(lambda: len(q.bodies()) == 3)
    assert q.bodies() == [[0, 1, 2], [0, 1, 2], [1, 2]]
    assert [m.attempts for m in q.batches()[2].messages] == [3, 3]
    assert "QUEUE q 0/3 (" in caplog.text and "QUEUE q 1/3 (" in caplog.text
    assert "QUEUE q 2/2 (" in caplog.text
    assert "RuntimeError: boom" in caplog.text
    await until(lambda: _empty(q, "q"))


async def _empty(q, queue):
    return (await q.metrics(queue)).count == 0


async def test_messages_are_dropped_after_max_retries(queues, caplog):
    caplog.set_level(logging.WARNING, "hearth.queues")
    q = await queues(consumers=[{"queue": "q", "max_batch_timeout": 0}])  # max_retries 2
    q.hook("q", lambda batch: batch.retryAll())
    await q.env.Q.send("doomed")
    await until(lambda: len(q.bodies()) == 3)
    await until(lambda: _empty(q, "q"))
    await quiet()
    assert len(q.bodies()) == 3
    msg_id = q.batches()[0].messages[0].id
    assert f'Dropped message "{msg_id}" on queue "q" after 3 failed attempts!' in caplog.text


async def test_dead_letters_keep_id_and_body_and_start_attempts_again(queues, caplog):
    caplog.set_level(logging.WARNING, "hearth.queues")
    q = await queues(
        consumers=[
            {"queue": "bad", "max_retries": 0, "dead_letter_queue": "dlq", "max_batch_timeout": 0},
            {"queue": "dlq", "max_retries": 0, "dead_letter_queue": "bad", "max_batch_timeout": 0},
        ],
        producers=[{"binding": "Q", "queue": "bad"}],
    )
    q.hook("bad", lambda batch: batch.retryAll())
    q.hook("dlq", lambda batch: None)
    await q.env.Q.sendBatch([{"body": "x"}, {"body": "y"}])
    await until(lambda: len(q.batches("dlq")) == 1)
    original, dead = q.batches("bad")[0].messages, q.batches("dlq")[0].messages
    assert [(m.id, m.body, m.timestamp) for m in dead] == [
        (m.id, m.body, m.timestamp) for m in original
    ]
    assert [m.attempts for m in dead] == [1, 1]
    assert (
        f'Moving message "{original[0].id}" on queue "bad" to dead letter queue "dlq" after 1 '
        "failed attempt..."
    ) in caplog.text


async def test_delays_follow_message_then_batch_then_producer(queues):
    q = await queues(
        consumers=[{"queue": "q", "max_batch_timeout": 0, "max_batch_size": 10}],
        producers=[{"binding": "Q", "queue": "q", "delivery_delay": 2}],
    )
    await q.env.Q.send("default")  # producer delivery_delay: 2 s
    await q.env.Q.send("own", delaySeconds=1)
    await q.env.Q.sendBatch(
        [
            {"body": "batch"},
            {"body": "message", "delaySeconds": 4},
            {"body": "zero", "delaySeconds": 0},
        ],
        delaySeconds=3,
    )
    await until(lambda: q.bodies() == [["zero"]])
    for step, expected in [(1, ["own"]), (1, ["default"]), (1, ["batch"]), (1, ["message"])]:
        await quiet()
        assert q.bodies()[-1] != expected
        q.advance(step)
        await until(lambda expected=expected: q.bodies()[-1] == expected)


async def test_retry_delays(queues):
    q = await queues(consumers=[{"queue": "q", "max_batch_timeout": 0, "retry_delay": 5}])

    def fail_then_own_delay(batch):
        if batch.messages[0].attempts == 1:
            raise ValueError("first attempt fails")
        if batch.messages[0].attempts == 2:
            batch.messages[0].retry(delaySeconds=10)

    q.hook("q", fail_then_own_delay)
    await q.env.Q.send("m")
    await until(lambda: len(q.bodies()) == 1)
    q.advance(4)
    await quiet()
    assert len(q.bodies()) == 1  # retry_delay is 5 s
    q.advance(1)
    await until(lambda: len(q.bodies()) == 2)
    q.advance(9)
    await quiet()
    assert len(q.bodies()) == 2  # retry(delaySeconds=10) beats retry_delay
    q.advance(1)
    await until(lambda: len(q.bodies()) == 3)
    assert q.batches()[2].messages[0].attempts == 3


async def test_ack_and_retry_precedence_warns_and_keeps_the_first_decision(queues, caplog):
    caplog.set_level(logging.WARNING, "hearth.queues")
    q = await queues(consumers=[{"queue": "q", "max_batch_timeout": 0}])

    def conflicting(batch):
        if len(batch.messages) != 3:
            return
        a, b, c = batch.messages
        a.ack()
        a.retry()
        b.retry()
        b.ack()
        batch.ackAll()
        batch.retryAll()  # ignored: ackAll came first
        c.retry()  # ignored after ackAll

    q.hook("q", conflicting)
    await q.env.Q.sendBatch([{"body": i} for i in range(3)])
    await until(lambda: len(q.bodies()) == 2)
    await quiet()
    assert q.bodies() == [[0, 1, 2], [1]]  # only b's retry() stood
    a, b, c = (m.id for m in q.batches()[0].messages)
    text = caplog.text
    assert (
        f"Received a call to retry() on message {a} after ack() was already called. "
        "Calling retry() on a message after calling ack() has no effect."
    ) in text
    assert f"Received a call to ack() on message {b} after retry() was already called." in text
    assert "Received a call to retryAll() after ackAll() was already called." in text
    assert f"Received a call to retry() on message {c} after ackAll() was already called." in text


async def test_max_concurrency_bounds_batches_in_flight(queues):
    q = await queues(
        consumers=[
            {"queue": "q", "max_batch_size": 1, "max_batch_timeout": 0, "max_concurrency": 2}
        ]
    )
    gate = asyncio.Event()

    async def hold(batch):
        await gate.wait()

    q.hook("q", hold)
    await q.env.Q.sendBatch([{"body": i} for i in range(3)])
    await until(lambda: len(q.batches()) == 2)
    await quiet()
    assert len(q.batches()) == 2  # the third waits for a free slot
    gate.set()
    await until(lambda: len(q.batches()) == 3)
    await until(lambda: _empty(q, "q"))


async def test_a_slow_handler_keeps_its_lease(queues):
    """Leases are renewed while the handler runs: nothing is handed out twice meanwhile."""
    q = await queues(
        consumers=[{"queue": "q", "max_batch_timeout": 0, "max_concurrency": 2}],
        clock=False,
        settings={"visibility_timeout": 0.3},
    )

    async def slow(batch):
        await asyncio.sleep(1.0)

    q.hook("q", slow)
    await q.env.Q.send("slow")
    await until(lambda: _empty(q, "q"))
    assert [[m.attempts for m in b.messages] for b in q.batches()] == [[1]]


async def test_expired_leases_are_claimed_again_as_a_new_attempt(queues):
    """A consumer that vanished loses its messages once its lease runs out."""
    q = await queues(settings={"visibility_timeout": 0.2})
    store = q.plugin.backend("orphan")
    now = int(q.clock() * 1000)
    await store.enqueue("orphan", [(Stored("m1", now, "text", b"x"), now)])
    first = await store.claim("orphan", now, 10, now + 200)
    assert [c.message.attempts for c in first] == [1]
    assert await store.claim("orphan", now, 10, now + 200) == []
    q.advance(0.3)
    await asyncio.sleep(0.3)  # Redis measures idle time with its own clock
    later = int(q.clock() * 1000)
    second = await store.claim("orphan", later, 10, later + 200)
    assert [(c.message.id, c.message.attempts) for c in second] == [("m1", 2)]
    assert await store.settle("orphan", Outcome(acked=first), later) == 0  # stale lease
    assert await store.settle("orphan", Outcome(acked=second), later) == 1
    assert (await store.metrics("orphan")).count == 0


async def test_dead_letters_can_be_replayed_to_their_queue(queues):
    q = await queues(settings={})
    store = q.plugin.backend("src")
    now = int(q.clock() * 1000)
    await store.enqueue("src", [(Stored("m1", now, "text", b"x"), now)])
    claimed = await store.claim("src", now, 10, now + 1000)
    assert await store.settle("src", Outcome(dead=claimed, dead_letter_queue="dead"), now) == 1
    [peeked] = await store.peek("dead", 10, now)
    assert (peeked.message.id, peeked.message.origin, peeked.state) == ("m1", "src", "ready")
    assert await store.replay("dead", None, None, now) == [("m1", "src")]
    [back] = await store.claim("src", now, 10, now + 1000)
    assert (back.message.id, back.message.attempts, back.message.origin) == ("m1", 1, None)
    assert (await store.metrics("dead")).count == 0


async def test_shutdown_lets_batches_in_flight_finish(queues):
    q = await queues(consumers=[{"queue": "q", "max_batch_timeout": 0}])
    finished: list[str] = []

    async def slow(batch):
        await asyncio.sleep(0.3)
        finished.append(batch.messages[0].body)

    q.hook("q", slow)
    await q.env.Q.send("in flight")
    await until(lambda: q.batches())
    runtime = q.h.runtime
    await runtime.stop()
    assert finished == ["in flight"]
    # It was settled before the store closed: a new runtime finds nothing to deliver again.
    after = Runtime(runtime.config, state_dir=runtime.state_dir, mode="check")
    await after.open_plugins()
    try:
        plugin = after.plugins[QueuesPlugin]
        assert isinstance(plugin, QueuesPlugin)
        assert (await plugin.backend("q").metrics("q")).count == 0
    finally:
        await after.stop()
