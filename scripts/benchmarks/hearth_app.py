"""The same scenarios as bare_app, written as a Hearth worker using its env bindings."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"hello": "world"})


routes = [Route("/hello", hello)]
app = Starlette(routes=routes)
