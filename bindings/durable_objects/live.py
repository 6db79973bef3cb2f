"""``LiveObject``: one constructed Durable Object and what its events share.

It holds the instance, its ``ctx`` and storage, the count of events in flight, the ordinary
(non-hibernatable) sockets that keep it in memory, and the input gate used by
``blockConcurrencyWhile`` and ``storage.transaction``: while ``blocker`` is set, no new event is
delivered. The gate is one future per object and is never held across an event's ordinary
awaits, so a Durable Object calling another that calls back does not deadlock.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from bindings.durable_objects.errors import DurableObjectError, DurableObjectReset
from bindings.durable_objects.state import DurableObjectState
from bindings.durable_objects.storage import DurableObjectStorage

if TYPE_CHECKING:
    from bindings.durable_objects.host import ObjectHost
    from bindings.durable_objects.ids import DurableObjectId
    from bindings.durable_objects.sqlite import ObjectDatabase
    from bindings.websocket import WebSocket

log = logging.getLogger("hearth")

MAX_BLOCK_DEPTH = 64
BLOCK_TIMEOUT = 30.0  # seconds a blockConcurrencyWhile() may run before the object is reset
CONSTRAINT_RESET = (
    "Durable Object was reset and rolled back to its last known good state because the "
    "application left the database in a state where constraints were violated: "
)
TOO_LONG = (
    "A call to blockConcurrencyWhile() in a Durable Object waited for too long. The call was "
    "canceled and the Durable Object was reset."
)

# The object whose gate the current task holds, and how deeply blockConcurrencyWhile is nested.
_holding: contextvars.ContextVar[tuple[LiveObject, int] | None] = contextvars.ContextVar(
    "hearth_do_exclusive", default=None
)


class LiveObject:
    """One live instance of a Durable Object (see the module docstring)."""

    def __init__(self, host: ObjectHost, id: DurableObjectId) -> None:
        self.host = host
        self.id = id
        self.sqlite = host.sqlite
        self.has_alarm_handler = host.has_alarm
        self.deletes_alarm = host.deletes_alarm
        self.db: ObjectDatabase | None = None
        self.active = 0  # events in flight
        self.last_used = time.monotonic()
        self.blocker: asyncio.Future[None] | None = None
        self.broken: str | None = None
        self.sockets: set[WebSocket] = set()  # accept()ed sockets: no eviction while open
        self.storage = DurableObjectStorage(self)
        self.state = DurableObjectState(self)
        self.instance: Any = None

    # -- StorageOwner ---------------------------------------------------------------------------

    def database(self) -> ObjectDatabase:
        db = self.db
        if db is None:
            if self.broken is not None:
                raise DurableObjectReset(self.broken)
            db = self.db = self.host.open_database(self)
        return db

    def now_ms(self) -> int:
        return int(self.host.clock() * 1000)

    def alarm_changed(self, scheduled_ms: int | None) -> None:
        self.host.alarm_changed(self.id, scheduled_ms)

    def exclusive(
        self,
        fn: Callable[[], Any],
        *,
        reset_on_error: bool = False,
        limit: float | None = None,
    ) -> Awaitable[Any]:
        """Run ``fn()`` with the input gate closed: no new event reaches the object until it
        settles. Starts at once (a constructor may call it without awaiting); nested calls from
        inside ``fn`` run directly."""
        held = _holding.get()
        if held is not None and held[0] is self:
            if held[1] >= MAX_BLOCK_DEPTH:
                raise DurableObjectError("blockConcurrencyWhile() calls are nested too deeply.")
            return self._nested(fn, held[1] + 1)
        loop = asyncio.get_running_loop()
        claimed = self.blocker is None
        if claimed:
            self.blocker = loop.create_future()  # now, so an event right after us waits
        task = loop.create_task(self._exclusive(fn, claimed, reset_on_error, limit))
        task.add_done_callback(_retrieve)
        return task

    async def _nested(self, fn: Callable[[], Any], depth: int) -> Any:
        token = _holding.set((self, depth))
        try:
            return await _call(fn)
        finally:
            _holding.reset(token)

    async def _exclusive(
        self, fn: Callable[[], Any], claimed: bool, reset_on_error: bool, limit: float | None
    ) -> Any:
        if not claimed:
            while self.blocker is not None:
                await asyncio.shield(self.blocker)
            self.blocker = asyncio.get_running_loop().create_future()
        _holding.set((self, 1))
        try:
            if limit is None:
                return await _call(fn)
            try:
                async with asyncio.timeout(limit):
                    return await _call(fn)
            except TimeoutError:
                self.reset(TOO_LONG)
                raise DurableObjectReset(TOO_LONG) from None
        except BaseException as exc:
            if reset_on_error and not isinstance(exc, DurableObjectReset):
                log.warning("blockConcurrencyWhile() failed: %s was reset", self.id, exc_info=exc)
                self.reset(f"{type(exc).__name__}: {exc}")
            raise
        finally:
            blocker, self.blocker = self.blocker, None
            if blocker is not None and not blocker.done():
                blocker.set_result(None)

    # -- the end of an event: the output gate -------------------------------------------------

    async def settle(self) -> None:
        """Wait until this event's writes have committed, before its result leaves.

        The commit itself is the ``flush`` scheduled when the writes began, so the writes of
        every event in the same loop turn commit together. If another event holds an explicit
        transaction open, that waits until it closes.
        """
        db = self.db
        if db is None or not db.conn.in_transaction:
            return
        try:
            await db.committed()
        except Exception:
            raise DurableObjectReset(self.broken or "Durable Object storage failed") from None

    # -- bindings.gates.Gate: the output gate for what this object sends out -----------------

    def flush(self) -> None:
        db = self.db
        if db is not None and db.conn.in_transaction:
            db.flush()

    def confirmed(self) -> Awaitable[None] | None:
        db = self.db
        if db is None or not db.conn.in_transaction or db.depth:
            return None  # nothing pending, or an explicit transaction (it commits as a whole)
        return db.committed()

    def fail(self, exc: BaseException) -> None:
        """A commit failed: the object resets to its last committed state."""
        if isinstance(exc, sqlite3.IntegrityError):
            self.reset(f"{CONSTRAINT_RESET}{exc}")
        else:
            self.reset(f"Durable Object storage failed: {exc}")

    def reset(self, reason: str) -> None:
        """Discard this instance: uncommitted writes roll back, the next event builds anew."""
        if self.broken is not None:
            return
        self.broken = reason
        db, self.db = self.db, None
        if db is not None:
            db.abandon()
        self.host.forget(self)

    def idle_for(self, now: float) -> float:
        """Seconds since the last event, or 0 while anything keeps the object in memory."""
        if self.active or self.blocker is not None or self.sockets or self.broken is not None:
            return 0.0
        return now - self.last_used

    def evict(self) -> None:
        """Idle eviction: commit and close; this instance is never used again."""
        self.broken = "This Durable Object instance was evicted; use a stub to reach it again."
        db, self.db = self.db, None
        if db is not None:
            db.close()
        self.host.forget(self)


async def _call(fn: Callable[[], Any]) -> Any:
    result = fn()
    if inspect.isawaitable(result):
        result = await result
    return result


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Mark a gate task's exception as seen: its awaiter (if any) gets it; nobody else must."""
    if not task.cancelled():
        task.exception()
