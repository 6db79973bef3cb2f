"""MessageBatch: what each combination of ack/retry calls decides for a message."""

from __future__ import annotations

import datetime as dt

import pytest

from bindings import JsDict, JsRangeError
from bindings.queues import Message, MessageBatch


def batch_of(n: int) -> MessageBatch:
    batch = MessageBatch("q", JsDict(backlogCount=n, backlogBytes=0))
    when = dt.datetime.fromtimestamp(0, dt.UTC)
    batch.messages = [Message(batch, f"m{i}", when, {"i": i}, 1) for i in range(n)]
    return batch


def verdicts(batch: MessageBatch, failed: bool) -> list[tuple[bool, int | None]]:
    return [batch.verdict(m, failed) for m in batch.messages]


def test_a_returning_handler_acks_and_a_raising_one_retries_what_it_did_not_ack():
    batch = batch_of(3)
    batch.messages[0].ack()
    batch.messages[1].retry(delaySeconds=7)
    assert verdicts(batch, failed=False) == [(False, None), (True, 7), (False, None)]
    assert verdicts(batch, failed=True) == [(False, None), (True, 7), (True, None)]


def test_retry_all_gives_its_delay_to_messages_without_their_own():
    batch = batch_of(3)
    batch.messages[0].ack()
    batch.messages[1].retry({"delaySeconds": 2})
    batch.retryAll(delaySeconds=9)
    batch.messages[2].ack()  # ignored after retryAll()
    assert verdicts(batch, failed=False) == [(False, None), (True, 2), (True, 9)]


def test_ack_all_acks_all_but_earlier_retries():
    batch = batch_of(2)
    batch.messages[0].retry()
    batch.ackAll()
    assert verdicts(batch, failed=True) == [(True, None), (False, None)]


def test_retry_delays_are_checked_and_fields_read_both_ways():
    batch = batch_of(1)
    with pytest.raises(JsRangeError, match="message delay -5 is invalid"):
        batch.messages[0].retry(delaySeconds=-5)
    with pytest.raises(JsRangeError, match="Expected integer"):
        batch.retryAll(delaySeconds=float("inf"))
    message = batch.messages[0]
    assert message["body"] == message.body == {"i": 0}
    assert batch["queue"] == "q" and batch.metadata.metrics.backlogCount == 1
    with pytest.raises(KeyError):
        message["_batch"]
