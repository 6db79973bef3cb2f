"""The same scenarios as bare_app, written as a Hearth worker using its env bindings."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

KV_KEY = "bench-key"  # seeded by the kv suite with `python -m bindings kv key put`


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"hello": "world"})


async def kv_get(request: Request) -> Response:
    value = await request.scope["env"].KV.get(KV_KEY)
    if value is None:
        return PlainTextResponse("not found", status_code=404)
    return PlainTextResponse(value)


routes = [Route("/hello", hello), Route("/kv/get", kv_get)]
app = Starlette(routes=routes)
