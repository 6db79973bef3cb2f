"""The same scenarios as bare_app, written as a Hearth worker using its env bindings."""

from __future__ import annotations

import random
import time

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

D1_ROWS = 10_000  # the d1 suite fills users with ids 1..D1_ROWS
D1_SELECT = "SELECT id, name, email, score FROM users WHERE id = ?"
D1_INSERT = "INSERT INTO events (user_id, kind, at) VALUES (?, ?, ?)"


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"hello": "world"})


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
    Route("/d1/select", d1_select),
    Route("/d1/insert", d1_insert, methods=["POST"]),
]
app = Starlette(routes=routes)
