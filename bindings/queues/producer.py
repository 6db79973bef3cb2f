"""``env.QUEUE``: ``send``, ``sendBatch`` and ``metrics``, with Cloudflare's limits and messages.

Validation happens in workerd's order: the content type, then serialising the body (a wrong
type is a TypeError), then the broker's checks — size, then delay — which surface as
``QueueSendError("Queue send failed: ...")`` (``Queue sendBatch failed: ...``), the text
workerd gives before the ``queue_expose_error_codes`` flag (Miniflare then shows only
``Unknown Internal Error (15000)``; Hearth keeps the readable message).
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from bindings.errors import JsException, JsTypeError
from bindings.jsobj import JsDict, options
from bindings.metrics import timed
from bindings.queues import codec
from bindings.queues.backend import BackendError, Metrics, Stored

if TYPE_CHECKING:
    from bindings.queues.plugin import QueuesPlugin

QUEUE_MAX_MESSAGE_BYTES = 128_000
QUEUE_MAX_BATCH_MESSAGES = 100
QUEUE_MAX_BATCH_BYTES = 288_000
QUEUE_MAX_DELAY_SECONDS = 86_400


class QueueSendError(JsException):
    """A message the queue refused (too large, bad delay) or could not store."""


def delay_seconds(value: Any) -> int | None:
    """A validated ``delaySeconds`` (None when absent); ValueError with the broker's text."""
    if value is None:
        return None
    shown = str(value).lower() if isinstance(value, bool) else value
    if isinstance(value, bool) or not isinstance(value, int | float):
        problem = f"Expected number, received {codec.js_typeof(value)}"
    elif not math.isfinite(value) or value != int(value):
        problem = "Expected integer, received float"
    elif value < 0:
        problem = "Number must be greater than or equal to 0"
    elif value > QUEUE_MAX_DELAY_SECONDS:
        problem = f"Number must be less than or equal to {QUEUE_MAX_DELAY_SECONDS}"
    else:
        return int(value)
    raise ValueError(f"message delay {shown} is invalid: {problem}")


def metrics_dict(metrics: Metrics) -> JsDict:
    """Metrics as Cloudflare returns them (an oldest timestamp of 0 is left out)."""
    out = JsDict(backlogCount=metrics.count, backlogBytes=metrics.bytes)
    if metrics.oldest:
        out["oldestMessageTimestamp"] = dt.datetime.fromtimestamp(metrics.oldest / 1000, dt.UTC)
    return out


def new_id() -> str:
    """A message id: 32 lowercase hex characters, as Miniflare makes them."""
    return secrets.token_hex(16)


class Queue:
    """A producer binding for one queue."""

    def __init__(
        self, plugin: QueuesPlugin, queue: str, *, delivery_delay: int, content_type: str
    ) -> None:
        self._plugin = plugin
        self._queue = queue
        self._delivery_delay = delivery_delay
        self._content_type = content_type
        self._clock: Callable[[], float] = plugin.runtime.clock

    @timed("queue")
    async def send(self, body: Any, *args: Any, **kwargs: Any) -> JsDict:
        """Send one message; returns ``{"metadata": {"metrics": ...}}`` from before it."""
        opts = options(args, kwargs)
        kind = self._kind(opts.get("contentType"))
        data = codec.encode(body, kind)
        try:
            if len(data) > QUEUE_MAX_MESSAGE_BYTES:
                raise ValueError(
                    f"message length of {len(data)} bytes exceeds limit of "
                    f"{QUEUE_MAX_MESSAGE_BYTES}"
                )
            delay = _first(delay_seconds(opts.get("delaySeconds")), self._delivery_delay)
        except ValueError as exc:
            raise QueueSendError(f"Queue send failed: {exc}") from None
        now = self._now()
        return await self._store([(Stored(new_id(), now, kind, data), now + delay * 1000)], "send")

    @timed("queue")
    async def sendBatch(self, messages: Sequence[Any], *args: Any, **kwargs: Any) -> JsDict:
        """Send up to 100 messages atomically; each a dict with ``body`` and optionally
        ``contentType`` and ``delaySeconds``."""
        if isinstance(messages, tuple):
            raise JsTypeError("Tuples cannot be cloned or sent over RPC; use a list.")
        items = list(messages)
        if not items:
            raise JsTypeError("sendBatch() requires at least one message")
        encoded = []
        for item in items:
            if not isinstance(item, dict) or "body" not in item:
                raise JsTypeError("Message body cannot be undefined")
            kind = self._kind(item.get("contentType"))
            encoded.append((item, kind, codec.encode(item["body"], kind)))
        sizes = [len(data) for _, _, data in encoded]
        opts = options(args, kwargs)
        try:
            if len(items) > QUEUE_MAX_BATCH_MESSAGES:
                raise ValueError(
                    f"batch message count of {len(items)} exceeds limit of "
                    f"{QUEUE_MAX_BATCH_MESSAGES}"
                )
            if max(sizes) > QUEUE_MAX_MESSAGE_BYTES:
                raise ValueError(
                    f"message in batch has length {max(sizes)} bytes which exceeds single "
                    f"message size limit of {QUEUE_MAX_MESSAGE_BYTES}"
                )
            if sum(sizes) > QUEUE_MAX_BATCH_BYTES:
                raise ValueError(
                    f"batch size of {sum(sizes)} bytes exceeds limit of {QUEUE_MAX_BATCH_BYTES}"
                )
            batch_delay = _first(delay_seconds(opts.get("delaySeconds")), self._delivery_delay)
            delays = [
                _first(delay_seconds(i.get("delaySeconds")), batch_delay) for i, _, _ in encoded
            ]
        except ValueError as exc:
            raise QueueSendError(f"Queue sendBatch failed: {exc}") from None
        now = self._now()
        stored = [
            (Stored(new_id(), now, kind, data), now + delay * 1000)
            for (_, kind, data), delay in zip(encoded, delays, strict=True)
        ]
        return await self._store(stored, "sendBatch")

    async def metrics(self) -> JsDict:
        """The backlog now: ``backlogCount``, ``backlogBytes``, ``oldestMessageTimestamp``."""
        try:
            metrics = await self._plugin.backend(self._queue).metrics(self._queue)
        except BackendError as exc:
            raise QueueSendError(f"Queue metrics failed: {exc}") from None
        return metrics_dict(metrics)

    async def _store(self, messages: list[tuple[Stored, int]], op: str) -> JsDict:
        try:
            before = await self._plugin.backend(self._queue).enqueue(self._queue, messages)
        except BackendError as exc:
            raise QueueSendError(f"Queue {op} failed: {exc}") from None
        now = self._now()
        self._plugin.notify(self._queue, sum(at <= now for _, at in messages) or None)
        return JsDict(metadata=JsDict(metrics=metrics_dict(before)))

    def _kind(self, value: Any) -> str:
        return self._content_type if value is None else codec.content_type(value)

    def _now(self) -> int:
        return int(self._clock() * 1000)

    def __repr__(self) -> str:
        return f"<Queue {self._queue!r}>"


def _first(value: int | None, default: int) -> int:
    return default if value is None else value
