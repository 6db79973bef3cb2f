"""What a consumer's ``queue(batch, env, ctx)`` receives: ``MessageBatch`` and its ``Message``s.

The ack/retry calls only record intent; the consumer settles the batch once the handler (and its
``waitUntil`` work) is done. Conflicting calls follow workerd: the first decision about a
message stands, and the later call is ignored with workerd's warning in the log.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from bindings.errors import JsRangeError
from bindings.jsobj import JsDict, options
from bindings.queues.producer import delay_seconds

log = logging.getLogger("hearth.queues")


class _Items:
    """``msg["body"]`` as well as ``msg.body``, as Cloudflare's binding wrapper allows."""

    __slots__ = ()

    def __getitem__(self, name: str) -> Any:
        if name.startswith("_"):
            raise KeyError(name)
        try:
            return getattr(self, name)
        except AttributeError:
            raise KeyError(name) from None


class Message(_Items):
    """One delivered message: ``id``, ``timestamp``, ``body``, ``attempts``, ``ack()``,
    ``retry(delaySeconds=)``."""

    __slots__ = ("_batch", "attempts", "body", "id", "timestamp")

    def __init__(
        self, batch: MessageBatch, id: str, timestamp: dt.datetime, body: Any, attempts: int
    ) -> None:
        self._batch = batch
        self.id = id
        self.timestamp = timestamp
        self.body = body
        self.attempts = attempts

    def ack(self) -> None:
        """Mark this message delivered, whatever happens to the rest of the batch."""
        batch = self._batch
        if batch._ack_all:
            return
        if batch._retry_all is not None:
            log.warning(
                "Received a call to ack() on message %s after retryAll() was already called. "
                "Calling ack() on a message after calling retryAll() has no effect.",
                self.id,
            )
            return
        if self.id in batch._retries:
            log.warning(
                "Received a call to ack() on message %s after retry() was already called. "
                "Calling ack() on a message after calling retry() has no effect.",
                self.id,
            )
            return
        batch._acks.add(self.id)

    def retry(self, *args: Any, **kwargs: Any) -> None:
        """Deliver this message again, after ``delaySeconds`` if given."""
        delay = _delay(args, kwargs)
        batch = self._batch
        if batch._retry_all is not None:
            return
        if batch._ack_all:
            log.warning(
                "Received a call to retry() on message %s after ackAll() was already called. "
                "Calling retry() on a message after calling ackAll() has no effect.",
                self.id,
            )
            return
        if self.id in batch._acks:
            log.warning(
                "Received a call to retry() on message %s after ack() was already called. "
                "Calling retry() on a message after calling ack() has no effect.",
                self.id,
            )
            return
        batch._retries.setdefault(self.id, delay)

    def __repr__(self) -> str:
        return f"<Message {self.id} attempts={self.attempts}>"


class MessageBatch(_Items):
    """A batch from one queue: ``queue``, ``messages``, ``metadata``, ``ackAll()``,
    ``retryAll(delaySeconds=)``."""

    def __init__(self, queue: str, metrics: JsDict) -> None:
        self.queue = queue
        self.messages: list[Message] = []
        self.metadata = JsDict(metrics=metrics)
        self._acks: set[str] = set()
        self._retries: dict[str, int | None] = {}  # id -> its own delay, if given
        self._ack_all = False
        self._retry_all: tuple[int | None] | None = None  # (delay,) once retryAll() was called

    def ackAll(self) -> None:
        """Mark every message delivered."""
        if self._retry_all is not None:
            log.warning(
                "Received a call to ackAll() after retryAll() was already called. "
                "Calling ackAll() after calling retryAll() has no effect."
            )
            return
        self._ack_all = True

    def retryAll(self, *args: Any, **kwargs: Any) -> None:
        """Deliver every message again (except those already acked), after ``delaySeconds``."""
        delay = _delay(args, kwargs)
        if self._ack_all:
            log.warning(
                "Received a call to retryAll() after ackAll() was already called. "
                "Calling retryAll() after calling ackAll() has no effect."
            )
            return
        if self._retry_all is None:
            self._retry_all = (delay,)

    def verdict(self, message: Message, failed: bool) -> tuple[bool, int | None]:
        """(retry?, its own delay) for ``message`` once the handler is done.

        A ``retry()`` stands (``ackAll()`` after it does not undo it, as in Miniflare); an
        explicit ``ack()`` or ``ackAll()`` is final even if the handler then raised (as
        Cloudflare documents); otherwise ``retryAll()`` or an exception retries the message.
        """
        if message.id in self._retries:
            own = self._retries[message.id]
            if own is None and self._retry_all is not None:
                own = self._retry_all[0]
            return True, own
        if self._ack_all or message.id in self._acks:
            return False, None
        if self._retry_all is not None:
            return True, self._retry_all[0]
        return failed, None

    def __repr__(self) -> str:
        return f"<MessageBatch {self.queue!r} of {len(self.messages)}>"


def _delay(args: tuple[Any, ...], kwargs: dict[str, Any]) -> int | None:
    """The ``delaySeconds`` of a retry call, checked like a send's."""
    try:
        return delay_seconds(options(args, kwargs).get("delaySeconds"))
    except ValueError as exc:
        raise JsRangeError(str(exc)) from None
