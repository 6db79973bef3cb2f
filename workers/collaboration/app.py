"""The collaboration worker: rooms of live co-edited text (docs/apps/collaboration.md).

``GET /rooms/{room}`` is the editing page, ``GET /rooms/{room}/ws`` its WebSocket,
``GET /rooms/{room}/document`` and ``POST /rooms/{room}/save`` read and replace the text over
HTTP. Every route needs a signed-in caller (the auth worker's helper: session cookie, bearer
token, API key, or ``?token=`` on the WebSocket); an unauthenticated upgrade is refused with
an HTTP 401 before it happens. The room itself is the ``CollaborationRoom`` Durable Object.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException, WebSocketException
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from bindings.websocket import deny_upgrade, forward_upgrade
from workers import Response as WorkersResponse
from workers import asgi
from workers.auth.client import Identity, current_user, require_scope
from workers.auth.client import exception_handlers as auth_handlers
from workers.collaboration.document import MAX_DOCUMENT_CHARS
from workers.collaboration.page import asset, page
from workers.collaboration.protocol import ROOM_RULE, valid_room
from workers.collaboration.room import ROOM_HEADER, USER_HEADER, CollaborationRoom
from workers.common.cors import trusted_origin
from workers.common.fields import MAX_ID, integer
from workers.common.http import exception_handlers, json_object

__all__ = ["CollaborationRoom", "Default", "app"]

READ, WRITE = "rooms:read", "rooms:write"  # API keys may be limited to these scopes
MAX_SAVE_BYTES = 8 * MAX_DOCUMENT_CHARS  # JSON may escape a character into several bytes


async def room_page(request: Request) -> Response:
    """The editing page; signed-out visitors are sent to /login."""
    room = _room(request)
    if await current_user(request) is None:
        return RedirectResponse("/login", status_code=303)
    return page(room)


async def connect(websocket: WebSocket) -> None:
    """Authenticate, then hand the upgrade to the room (or refuse it with an HTTP status)."""
    room = websocket.path_params["room"]
    if not valid_room(room):
        await deny_upgrade(websocket, WorkersResponse.json({"error": ROOM_RULE}, status=400))
        return
    try:
        user = await current_user(websocket)
    except WebSocketException:  # an API key over its rate limit
        await deny_upgrade(websocket, 429)
        return
    if user is None:
        await deny_upgrade(websocket, 401)
        return
    if not user.allows(WRITE) or not _same_site(websocket, user):
        await deny_upgrade(websocket, 403)
        return
    caller = json.dumps({"id": user.user_id, "name": user.name or user.email})
    await forward_upgrade(websocket, _stub(websocket, room),
                          headers={ROOM_HEADER: room, USER_HEADER: caller})  # fmt: skip


async def read(request: Request) -> Response:
    room = _room(request)
    await require_scope(request, READ)
    return JSONResponse(await _stub(request, room).read(room))


async def save(request: Request) -> Response:
    """``{content, baseVersion?}``: make the text ``content`` (line endings become ``\\n``)."""
    room = _room(request)
    user = await require_scope(request, WRITE)
    if not _same_site(request, user):
        raise HTTPException(403, "Cross-origin request refused")
    body = await json_object(request, MAX_SAVE_BYTES)
    content = body.get("content")
    if not isinstance(content, str):  # not fields.text: whitespace is content here
        raise HTTPException(400, "content must be a string")
    base = integer(body.get("baseVersion"), "baseVersion", 0, MAX_ID, default=None)
    try:
        content.encode()
    except UnicodeEncodeError:
        raise HTTPException(400, "content must be valid Unicode") from None
    content = content.replace("\r\n", "\n").replace("\r", "\n")
    if len(content) > MAX_DOCUMENT_CHARS:
        raise HTTPException(413, f"documents hold at most {MAX_DOCUMENT_CHARS} characters")
    result = await _stub(request, room).save(room, content, base, {"id": user.user_id})
    if result.get("conflict"):
        message = "The document changed since baseVersion"
        return JSONResponse({"error": message, "version": result["version"]}, status_code=409)
    if "error" in result:
        raise HTTPException(413, result["error"])
    return JSONResponse(result)


def _room(request: Request) -> str:
    room = request.path_params["room"]
    if not valid_room(room):
        raise HTTPException(400, ROOM_RULE)
    return str(room)


def _same_site(conn: HTTPConnection, user: Identity) -> bool:
    """A browser's cookie rides along on cross-site requests: those must come from here."""
    return user.via != "session" or trusted_origin(conn)


def _stub(conn: HTTPConnection, room: str) -> Any:
    return conn.scope["env"].ROOMS.getByName(room)


app = Starlette(
    routes=[
        Route("/rooms/_assets/{name}", asset, methods=["GET"]),
        Route("/rooms/{room}", room_page, methods=["GET"]),
        WebSocketRoute("/rooms/{room}/ws", connect),
        Route("/rooms/{room}/document", read, methods=["GET"]),
        Route("/rooms/{room}/save", save, methods=["POST"]),
    ],
    exception_handlers={**exception_handlers, **auth_handlers},
)
Default = asgi.entrypoint(app)
