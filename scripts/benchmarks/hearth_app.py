"""The same scenarios as bare_app, written as a Hearth worker using its env bindings."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bindings.r2 import object_response

KV_KEY = "bench-key"  # seeded by the kv suite with `python -m bindings kv key put`


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"hello": "world"})


async def kv_get(request: Request) -> Response:
    value = await request.scope["env"].KV.get(KV_KEY)
    if value is None:
        return PlainTextResponse("not found", status_code=404)
    return PlainTextResponse(value)


async def r2_get(request: Request) -> Response:
    obj = await request.scope["env"].BUCKET.get("bench/1k")
    media_type = obj.httpMetadata.get("contentType", "application/octet-stream")
    return Response(await obj.bytes(), media_type=media_type, headers={"etag": obj.httpEtag})


async def r2_media(request: Request) -> object:
    """Any object of the bench bucket over HTTP (the streaming-RSS scenario; Hearth only)."""
    bucket = request.scope["env"].BUCKET
    return await object_response(request, bucket, request.path_params["key"])


routes = [
    Route("/hello", hello),
    Route("/kv/get", kv_get),
    Route("/r2/get", r2_get),
    Route("/r2/media/{key:path}", r2_media, methods=["GET", "HEAD"]),
]
app = Starlette(routes=routes)
