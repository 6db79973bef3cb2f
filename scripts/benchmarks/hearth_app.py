"""The same scenarios as bare_app, written as a Hearth worker using its env bindings."""

from __future__ import annotations

import random
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from bindings.r2 import object_response
from bindings.websocket import forward_upgrade
from workers import DurableObject, WebSocketPair
from workers import Response as WorkerResponse

KV_KEY = "bench-key"  # seeded by the kv suite with `python -m bindings kv key put`
D1_ROWS = 10_000  # the d1 suite fills users with ids 1..D1_ROWS
D1_SELECT = "SELECT id, name, email, score FROM users WHERE id = ?"
D1_INSERT = "INSERT INTO events (user_id, kind, at) VALUES (?, ?, ?)"


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"hello": "world"})


async def kv_get(request: Request) -> Response:
    value = await request.scope["env"].KV.get(KV_KEY)
    if value is None:
        return PlainTextResponse("not found", status_code=404)
    return PlainTextResponse(value)


class Counter(DurableObject):
    """A counter object: one get and one put per increment (the "DO counter" scenario)."""

    async def increment(self) -> int:
        n: int = await self.ctx.storage.get("n") or 0
        await self.ctx.storage.put("n", n + 1)
        return n + 1

    async def ping(self) -> int:
        return 1


class Room(DurableObject):
    """A chat room: every message is sent to every hibernatable socket in the room."""

    async def fetch(self, request: Any) -> WorkerResponse:
        client, server = WebSocketPair()
        self.ctx.acceptWebSocket(server)
        return WorkerResponse(None, status=101, web_socket=client)

    async def webSocketMessage(self, ws: Any, message: str | bytes) -> None:
        for peer in self.ctx.getWebSockets():
            peer.send(message)


async def do_increment(request: Request) -> JSONResponse:
    n = await request.scope["env"].COUNTER.getByName("bench").increment()
    return JSONResponse({"n": n})


async def room(websocket: WebSocket) -> None:
    await forward_upgrade(websocket, websocket.scope["env"].ROOMS.getByName("bench"))


async def r2_get(request: Request) -> Response:
    obj = await request.scope["env"].BUCKET.get("bench/1k")
    media_type = obj.httpMetadata.get("contentType", "application/octet-stream")
    return Response(await obj.bytes(), media_type=media_type, headers={"etag": obj.httpEtag})


async def r2_media(request: Request) -> object:
    """Any object of the bench bucket over HTTP (the streaming-RSS scenario; Hearth only)."""
    bucket = request.scope["env"].BUCKET
    return await object_response(request, bucket, request.path_params["key"])


async def d1_select(request: Request) -> JSONResponse:
    db = request.scope["env"].DB
    return JSONResponse(await db.prepare(D1_SELECT).bind(random.randint(1, D1_ROWS)).first())


async def d1_insert(request: Request) -> JSONResponse:
    db = request.scope["env"].DB
    params = (random.randint(1, D1_ROWS), "click", time.time())
    result = await db.prepare(D1_INSERT).bind(*params).run()
    return JSONResponse({"id": result.meta.last_row_id})


routes = [
    Route("/hello", hello),
    Route("/kv/get", kv_get),
    Route("/do/increment", do_increment),
    WebSocketRoute("/do/room", room),
    Route("/r2/get", r2_get),
    Route("/r2/media/{key:path}", r2_media, methods=["GET", "HEAD"]),
    Route("/d1/select", d1_select),
    Route("/d1/insert", d1_insert, methods=["POST"]),
]
app = Starlette(routes=routes)
