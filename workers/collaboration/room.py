"""``CollaborationRoom``: one room's Durable Object (``env.ROOMS.getByName(room)``).

It holds the document (``Document``: text, version, the tail of operations) and the sockets
of the people editing it, accepted for hibernation: each socket's attachment is its session
(session id, user id, name, colour), so who is who survives the object being evicted. Every
handler of a frame runs without awaiting, so operations are applied one whole operation at a
time, in the order they arrive, whichever socket they come from.

An ``operation`` is transformed and applied (``Document.receive``), stored (``RoomStorage``,
committed before any frame about it leaves: the output gate), sent to everyone else as the
operation(s) actually applied, acknowledged to its sender with the new version, and queued
for the D1 log (``Journal``, after the broadcast). A refused operation gets an ``error``
followed by a fresh ``document_state``, so its client starts again from the server's text.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from workers import DurableObject, Response, WebSocketPair, WebSocketRequestResponsePair
from workers.collaboration import ot
from workers.collaboration.document import Applied, Rejected, cursor_at
from workers.collaboration.journal import Journal
from workers.collaboration.protocol import (
    CLOSE_TOO_BIG,
    COLOR,
    FRAMES_PER_SECOND,
    MAX_FRAME_BYTES,
    MAX_SOCKETS,
    PALETTE,
    valid_room,
)
from workers.collaboration.storage import RoomStorage
from workers.common.attachments import Attachments
from workers.common.frames import dumps, parse, too_big
from workers.common.ratelimit import Bucket

if TYPE_CHECKING:
    from bindings.websocket import WebSocket

# Set by the worker from the route and the authenticated caller, never by the client.
ROOM_HEADER = "x-collaboration-room"
USER_HEADER = "x-collaboration-user"  # JSON {"id", "name"}

Session = dict[str, Any]  # a socket's attachment: sessionId, userId, name, color
Handler = Callable[["CollaborationRoom", "WebSocket", Session, dict[str, Any]], None]


class CollaborationRoom(DurableObject):
    """One room's document and editors (see the module docstring)."""

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.storage = RoomStorage(ctx.storage.sql)
        self.document = self.storage.load()
        self.journal = Journal(ctx, getattr(env, "DB", None))
        self.sessions: Attachments[Session] = Attachments()
        self.buckets: dict[WebSocket, Bucket] = {}
        self.rate = float(getattr(env, "FRAMES_PER_SECOND", FRAMES_PER_SECOND))
        ctx.setWebSocketAutoResponse(
            WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}')
        )

    # -- joining and leaving ------------------------------------------------------------------

    async def fetch(self, request: Any) -> Response:
        """The upgrade the worker forwarded, after authenticating the caller."""
        room, user = request.headers.get(ROOM_HEADER), _user(request.headers.get(USER_HEADER))
        if request.headers.get("upgrade", "").lower() != "websocket" or user is None:
            return Response.json({"error": "Expected a WebSocket upgrade"}, status=426)
        if not valid_room(room):
            return Response.json({"error": "Invalid room name"}, status=400)
        if len(self.ctx.getWebSockets()) >= MAX_SOCKETS:
            return Response.json({"error": "This room is full"}, status=503)
        self.storage.name_room(room, self.document)
        client, server = WebSocketPair()
        self.ctx.acceptWebSocket(server, [user["id"]])
        session = {"sessionId": secrets.token_hex(8), "userId": user["id"],
                   "name": user["name"], "color": _color(user["id"])}  # fmt: skip
        self.sessions.keep(server, session)
        server.send(self._state(session))
        self._broadcast({"type": "presence", "action": "join", "user": session}, server)
        return Response(None, status=101, web_socket=client)

    async def webSocketClose(self, ws: WebSocket, code: int, reason: str, clean: bool) -> None:
        self._leave(ws)

    async def webSocketError(self, ws: WebSocket, error: BaseException) -> None:
        self._leave(ws)

    def _leave(self, ws: WebSocket) -> None:
        self.buckets.pop(ws, None)
        session = self.sessions.forget(ws)
        if session is not None:  # None: it already left (an error, then a close)
            ws.serializeAttachment(None)
            self._broadcast({"type": "presence", "action": "leave", "user": session}, ws)

    # -- frames ---------------------------------------------------------------------------------

    async def webSocketMessage(self, ws: WebSocket, message: str | bytes) -> None:
        if too_big(message, MAX_FRAME_BYTES):
            ws.close(CLOSE_TOO_BIG, "frame over 64 KiB")
            return
        frame = parse(message)
        now = time.monotonic()
        bucket = self.buckets.get(ws)
        if bucket is None:
            bucket = self.buckets[ws] = Bucket(self.rate, 2 * self.rate, now)
        if not bucket.take(now):  # every frame counts, malformed ones too
            _error(ws, "rate_limited", "too many frames; slow down")
            if frame is not None and frame["type"] == "operation":  # dropped: start again
                ws.send(self._state(self.sessions.get(ws)))
            return
        if frame is None:
            _error(ws, "malformed", "frames are JSON objects with a string 'type'")
            return
        handler = HANDLERS.get(frame["type"])
        if handler is None:
            _error(ws, "unknown_type", f"unknown frame type {frame['type'][:40]!r}")
            return
        handler(self, ws, self.sessions.get(ws), frame)

    def _operation(self, ws: WebSocket, session: Session, frame: dict[str, Any]) -> None:
        base = frame.get("baseVersion")
        try:
            if type(base) is not int:
                raise Rejected("invalid_operation", "baseVersion must be an integer")
            op = ot.from_json(frame.get("operation"))
            applied = self.document.receive(op, base, session["sessionId"])
        except (Rejected, ot.InvalidOperation) as exc:
            code = exc.code if isinstance(exc, Rejected) else "invalid_operation"
            _error(ws, code, str(exc))
            ws.send(self._state(session))  # start the client again from the server's text
            return
        self._publish(applied, session, ws)
        ws.send(dumps({"type": "ack", "version": self.document.version}))

    def _cursor(self, ws: WebSocket, session: Session, frame: dict[str, Any]) -> None:
        cursor, version = frame.get("cursor"), frame.get("version")
        position = cursor.get("position") if isinstance(cursor, dict) else None
        end = cursor.get("end", position) if isinstance(cursor, dict) else None
        if not (ot.is_index(position) and ot.is_index(end) and ot.is_index(version)):
            _error(ws, "malformed", "cursor takes cursor {position, end?} and version")
            return
        try:
            moved = {"position": cursor_at(self.document, position, version),
                     "end": cursor_at(self.document, end, version)}  # fmt: skip
        except Rejected as exc:
            _error(ws, exc.code, exc.message)
            return
        self._broadcast({"type": "cursor", "sessionId": session["sessionId"], "cursor": moved,
                         "version": self.document.version}, ws)  # fmt: skip

    def _user_info(self, ws: WebSocket, session: Session, frame: dict[str, Any]) -> None:
        user = frame.get("user")
        color = user.get("color") if isinstance(user, dict) else None
        if not isinstance(color, str) or not COLOR.fullmatch(color):
            _error(ws, "malformed", "user_info takes user {color: '#rrggbb'}")
            return
        session = {**session, "color": color.lower()}
        self.sessions.keep(ws, session)
        self._broadcast({"type": "user_info", "user": session}, ws)

    # -- over RPC, for the worker's HTTP routes -------------------------------------------------

    async def read(self, room: str) -> dict[str, Any]:
        """``GET /rooms/{room}/document``: the text and its version."""
        self.storage.name_room(room, self.document)
        return {"room": room, "content": self.document.content, "version": self.document.version}

    async def save(
        self, room: str, content: str, base: int | None, user: dict[str, str]
    ) -> dict[str, Any]:
        """``POST /rooms/{room}/save``: make the text ``content``, as operations everyone
        connected receives. ``base`` (optional) must be the current version, else nothing
        changes and ``{"conflict": True}`` comes back."""
        self.storage.name_room(room, self.document)
        if base is not None and base != self.document.version:
            return {"conflict": True, "version": self.document.version}
        session = {"sessionId": "save-" + secrets.token_hex(6), "userId": user["id"]}
        try:
            applied = self.document.replace(content, session["sessionId"])
        except Rejected as exc:
            return {"error": exc.message, "code": exc.code}
        self._publish(applied, session, None)
        return {"room": room, "version": self.document.version, "changed": bool(applied)}

    # -- plumbing -------------------------------------------------------------------------------

    def _publish(self, applied: list[Applied], session: Session, sender: WebSocket | None) -> None:
        """Store applied operations, send them to everyone but their sender, log them to D1."""
        if not applied:
            return
        self.storage.record(self.document, applied)
        sid = session["sessionId"]
        for entry in applied:
            self._broadcast({"type": "operation", "operation": entry.op.to_json(),
                             "version": entry.version, "sessionId": sid}, sender)  # fmt: skip
        self.journal.append(self.storage.name or "", session["userId"], applied)

    def _broadcast(self, frame: dict[str, Any], sender: WebSocket | None) -> None:
        text = dumps(frame)
        for ws in self.ctx.getWebSockets():
            if ws is not sender and ws.readyState == ws.OPEN:
                ws.send(text)

    def _state(self, session: Session) -> str:
        present = [self.sessions.get(ws) for ws in self.ctx.getWebSockets()]
        return dumps({"type": "document_state", "sessionId": session["sessionId"],
                      "document": {"content": self.document.content,
                                   "version": self.document.version},
                      "user": session, "present": present})  # fmt: skip


HANDLERS: dict[str, Handler] = {
    "operation": CollaborationRoom._operation,
    "cursor": CollaborationRoom._cursor,
    "user_info": CollaborationRoom._user_info,
}


def _user(header: str | None) -> dict[str, str] | None:
    """The caller the worker authenticated (``USER_HEADER``), or None."""
    try:
        user = json.loads(header or "")
    except ValueError:
        return None
    if not isinstance(user, dict) or not all(isinstance(user.get(k), str) for k in ("id", "name")):
        return None
    return {"id": user["id"], "name": user["name"][:100]}


def _color(user_id: str) -> str:
    """A colour of the palette, the same for a user each time."""
    return PALETTE[sum(user_id.encode()) % len(PALETTE)]


def _error(ws: WebSocket, code: str, message: str) -> None:
    ws.send(dumps({"type": "error", "code": code, "message": message}))
