"""``ctx`` of a Durable Object (workerd's ``DurableObjectState``), under its camelCase names."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from bindings.durable_objects.errors import ABORT_MESSAGE, DurableObjectAbort, DurableObjectError
from bindings.durable_objects.hibernation import MAX_EVENT_TIMEOUT_MS, tags_of
from bindings.errors import JsTypeError
from bindings.websocket import WebSocket, WebSocketRequestResponsePair

if TYPE_CHECKING:
    from bindings.durable_objects.ids import DurableObjectId
    from bindings.durable_objects.live import LiveObject
    from bindings.durable_objects.storage import DurableObjectStorage


class DurableObjectState:
    """What a Durable Object gets as ``ctx``: ``id``, ``storage``, ``blockConcurrencyWhile``,
    ``waitUntil``, ``abort`` and the WebSocket hibernation API."""

    def __init__(self, obj: LiveObject) -> None:
        self._obj = obj
        self.id: DurableObjectId = obj.id
        self.storage: DurableObjectStorage = obj.storage
        self.props: dict[str, Any] = {}

    def blockConcurrencyWhile(self, fn: Callable[[], Any]) -> Awaitable[Any]:
        """Run ``fn()`` (an async function) while no other event reaches this object; returns
        its result. It starts at once, so a constructor can call it without awaiting. If ``fn``
        raises, or runs over 30 s, the object is reset."""
        from bindings.durable_objects.live import BLOCK_TIMEOUT

        return self._obj.exclusive(fn, reset_on_error=True, limit=BLOCK_TIMEOUT)

    def waitUntil(self, awaitable: Awaitable[Any]) -> None:
        """Keep ``awaitable`` running after the event; the object is not evicted meanwhile."""
        obj = self._obj

        async def tracked() -> None:
            obj.active += 1
            try:
                await awaitable
            finally:
                obj.active -= 1
                obj.last_used = time.monotonic()

        obj.host.runtime.tasks.spawn(tracked())

    def abort(self, reason: str | None = None) -> None:
        """Reset the object now: its uncommitted writes are dropped and its callers get an
        error; raises ``DurableObjectAbort`` to stop the code that called it."""
        message = ABORT_MESSAGE if reason is None else str(reason)
        self._obj.reset(message)
        raise DurableObjectAbort(message)

    # -- WebSocket hibernation --------------------------------------------------------------

    def acceptWebSocket(self, ws: WebSocket, tags: list[str] | None = None) -> None:
        """Accept the server end of a pair for hibernation: its events go to this class's
        ``webSocketMessage`` / ``webSocketClose`` / ``webSocketError``, and the object may be
        evicted while it stays open."""
        self._obj.host.group_for(self.id).accept(ws, tags)

    def getWebSockets(self, tag: str | None = None) -> list[WebSocket]:
        group = self._obj.host.group(self.id)
        return [] if group is None else group.get(tag)

    def getTags(self, ws: WebSocket) -> list[str]:
        return tags_of(ws)

    def setWebSocketAutoResponse(self, pair: WebSocketRequestResponsePair | None = None) -> None:
        if pair is not None and not isinstance(pair, WebSocketRequestResponsePair):
            raise JsTypeError("setWebSocketAutoResponse() takes a WebSocketRequestResponsePair")
        group = self._obj.host.group_for(self.id) if pair else self._obj.host.group(self.id)
        if group is not None:
            group.auto_response = pair

    def getWebSocketAutoResponse(self) -> WebSocketRequestResponsePair | None:
        group = self._obj.host.group(self.id)
        return None if group is None else group.auto_response

    def getWebSocketAutoResponseTimestamp(self, ws: WebSocket) -> dt.datetime | None:
        at = ws._auto_response_at
        return None if at is None else dt.datetime.fromtimestamp(at, dt.UTC)

    def setHibernatableWebSocketEventTimeout(self, timeout_ms: int | None = None) -> None:
        """Recorded and returned by the getter; Hearth does not cut handlers short."""
        if timeout_ms is not None and timeout_ms > MAX_EVENT_TIMEOUT_MS:
            raise DurableObjectError(f"Event timeout should not exceed {MAX_EVENT_TIMEOUT_MS} ms.")
        self._obj.host.group_for(self.id).event_timeout_ms = timeout_ms or None

    def getHibernatableWebSocketEventTimeout(self) -> int | None:
        group = self._obj.host.group(self.id)
        return None if group is None else group.event_timeout_ms
