"""The messaging worker: ``POST /api/register``, ``GET /api/users?username=``, and the
WebSocket at ``GET /ws?username=`` (the seed used ``/``, which other workers share on Hearth's
one origin). Handlers are thin: the ``Registry`` object keeps users and rate limits, each
user's ``Inbox`` object keeps their sockets, contacts and undelivered ciphertexts."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from bindings.websocket import deny_upgrade, forward_upgrade
from workers import Response as WorkersResponse
from workers import asgi
from workers.common.cors import AllowlistCORS, origin_allowed
from workers.common.http import client_ip, exception_handlers, json_object
from workers.messaging.inbox import USER_HEADER, Inbox
from workers.messaging.protocol import USERNAME_RULE, valid_username
from workers.messaging.registry import NAME, Registry

__all__ = ["Default", "Inbox", "Registry", "app"]

MAX_BODY_BYTES = 8 * 1024


async def register(request: Request) -> Response:
    body = await json_object(request, MAX_BODY_BYTES)
    result = await _registry(request).register(
        client_ip(request), body.get("username"), body.get("publicKey"), body.get("encryptionKey")
    )
    headers = {"Retry-After": str(result["retryAfter"])} if "retryAfter" in result else None
    return JSONResponse(result["body"], status_code=result["status"], headers=headers)


async def users(request: Request) -> Response:
    username = request.query_params.get("username")
    if not username:
        raise HTTPException(400, "Username required")
    record = await _registry(request).lookup(username) if valid_username(username) else None
    if record is None:
        raise HTTPException(404, "User not found")
    return JSONResponse(record)


async def connect(websocket: WebSocket) -> None:
    """Hand the upgrade to the user's inbox, which then asks the client to prove the name."""
    env = websocket.scope["env"]
    if not origin_allowed(websocket.headers.get("origin"), env):
        await deny_upgrade(websocket, 403)
        return
    username = websocket.query_params.get("username", "")
    if not valid_username(username):
        await deny_upgrade(websocket, WorkersResponse.json({"error": USERNAME_RULE}, status=400))
        return
    verdict = await _registry(websocket).admitConnection(client_ip(websocket), username)
    if verdict != "ok":
        await deny_upgrade(websocket, 429 if verdict == "rate_limited" else 404)
        return
    inbox = env.INBOX.getByName(username)
    await forward_upgrade(websocket, inbox, headers={USER_HEADER: username})


def _registry(connection: HTTPConnection) -> Any:
    return connection.scope["env"].REGISTRY.getByName(NAME)


app = Starlette(
    routes=[
        Route("/api/register", register, methods=["POST"]),
        Route("/api/users", users, methods=["GET"]),
        WebSocketRoute("/ws", connect),
    ],
    middleware=[Middleware(AllowlistCORS)],
    exception_handlers=exception_handlers,
)
Default = asgi.entrypoint(app)
