"""Hibernatable sockets' attachments, read once per Durable Object instance.

A socket accepted with ``ctx.acceptWebSocket`` keeps what ``serializeAttachment`` stored
across the object's eviction; deserializing it on every frame would cost a structured-clone
decode each time, so an instance caches each socket's value the first time it needs it::

    self.sessions: Attachments[dict[str, Any]] = Attachments()
    session = self.sessions.get(ws)           # cached, or deserialized on first use
    self.sessions.keep(ws, {**session, ...})  # stored with the socket and cached
    session = self.sessions.forget(ws)        # when the socket closes
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from bindings.websocket import WebSocket

T = TypeVar("T")


class Attachments(Generic[T]):
    """Each socket's attachment, cached by this instance."""

    def __init__(self) -> None:
        self._cache: dict[WebSocket, T] = {}

    def get(self, ws: WebSocket) -> T:
        """The socket's attachment (None if it has none)."""
        value = self._cache.get(ws)
        if value is None:
            value = self._cache[ws] = ws.deserializeAttachment()
        return value

    def keep(self, ws: WebSocket, value: T) -> None:
        """Store ``value`` with the socket (it survives hibernation) and cache it."""
        ws.serializeAttachment(value)
        self._cache[ws] = value

    def forget(self, ws: WebSocket) -> T | None:
        """Drop the socket from the cache (it closed); its last attachment."""
        value = self._cache.pop(ws, None)
        if value is None:
            stored: T | None = ws.deserializeAttachment()
            return stored
        return value
