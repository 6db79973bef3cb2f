"""The hibernatable WebSockets of one Durable Object, kept outside its instance.

A group outlives the instance that accepted its sockets: when an object holding only
hibernatable sockets is evicted, the sockets (with their tags and attachments) stay here, and
the next message constructs a new instance and calls its ``webSocketMessage``. An exact match
of the auto-response request is answered here, without waking the object.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bindings.errors import JsException
from bindings.websocket import WebSocket, WebSocketRequestResponsePair

MAX_TAGS = 10
MAX_TAG_LENGTH = 256
MAX_SOCKETS = 32_768
MAX_EVENT_TIMEOUT_MS = 604_800_000

Dispatch = Callable[..., Awaitable[None]]  # (handler name, ws, *args): an event to the object


class HibernationGroup:
    """Accepted hibernatable sockets, by tag; the auto-response rule; the event timeout."""

    def __init__(self, dispatch: Dispatch, now: Callable[[], float]) -> None:
        self._dispatch = dispatch
        self._now = now
        self.sockets: dict[WebSocket, None] = {}  # insertion-ordered set
        self._by_tag: dict[str, dict[WebSocket, None]] = {}
        self.auto_response: WebSocketRequestResponsePair | None = None
        self.event_timeout_ms: int | None = None

    def accept(self, ws: WebSocket, tags: list[str] | None) -> None:
        """``ctx.acceptWebSocket(ws, tags)``."""
        if not isinstance(ws, WebSocket):
            raise JsException("acceptWebSocket() takes the server end of a WebSocketPair")
        if len(self.sockets) >= MAX_SOCKETS:
            raise JsException(
                f"only {MAX_SOCKETS} websockets can be accepted on a single Durable Object instance"
            )
        distinct: list[str] = []
        for tag in tags or ():
            if not isinstance(tag, str):
                raise JsException("WebSocket tags must be strings")
            if tag in distinct:
                continue
            if len(distinct) >= MAX_TAGS:
                raise JsException(f"a Hibernatable WebSocket cannot have more than {MAX_TAGS} tags")
            if len(tag) > MAX_TAG_LENGTH:
                raise JsException(
                    f'"{tag}" is longer than the max tag length ({MAX_TAG_LENGTH} characters).'
                )
            distinct.append(tag)
        ws._hibernate(self, tuple(distinct))
        self.sockets[ws] = None
        for tag in distinct:
            self._by_tag.setdefault(tag, {})[ws] = None

    def get(self, tag: str | None = None) -> list[WebSocket]:
        """``ctx.getWebSockets(tag)``: open sockets, oldest first."""
        if tag is None:
            return list(self.sockets)
        return list(self._by_tag.get(tag, ()))

    def _forget(self, ws: WebSocket) -> None:
        if ws in self.sockets:
            del self.sockets[ws]
            for tag in ws._tags:
                members = self._by_tag.get(tag)
                if members is not None:
                    members.pop(ws, None)
                    if not members:
                        del self._by_tag[tag]

    # -- SocketHandler: events of the sockets -------------------------------------------------

    async def on_message(self, ws: WebSocket, data: str | bytes) -> None:
        rule = self.auto_response
        if rule is not None and data == rule.request:
            ws._auto_response_at = self._now()
            ws.send(rule.response)
            return
        await self._dispatch("webSocketMessage", ws, data)

    async def on_close(self, ws: WebSocket, code: int, reason: str, was_clean: bool) -> None:
        self._forget(ws)
        await self._dispatch("webSocketClose", ws, code, reason, was_clean)

    async def on_error(self, ws: WebSocket, error: BaseException) -> None:
        self._forget(ws)
        await self._dispatch("webSocketError", ws, error)


def tags_of(ws: Any) -> list[str]:
    """``ctx.getTags(ws)``."""
    if not isinstance(ws, WebSocket) or not (ws._hibernatable or ws._accepted):
        raise JsException(
            "you must call 'acceptWebSocket()' before attempting to access the tags of a WebSocket."
        )
    if not ws._hibernatable:
        raise JsException("only hibernatable websockets can have tags.")
    return list(ws._tags)
