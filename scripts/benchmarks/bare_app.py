"""The baseline: a bare Starlette app doing each scenario's work directly (no Hearth)."""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import AsyncIterator

import aiosqlite
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
    rows = await request.app.state.db.execute_fetchall(D1_SELECT, (random.randint(1, D1_ROWS),))
    return JSONResponse(dict(zip(("id", "name", "email", "score"), rows[0], strict=True)))


async def d1_insert(request: Request) -> JSONResponse:
    params = (random.randint(1, D1_ROWS), "click", time.time())
    cursor = await request.app.state.db.execute(D1_INSERT, params)
    return JSONResponse({"id": cursor.lastrowid})


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    # The d1 suite names the database (prepared like Hearth's: WAL, synchronous=NORMAL).
    path = os.environ.get("BENCH_D1_DATABASE")
    db = await aiosqlite.connect(path, isolation_level=None) if path else None
    if db is not None:
        for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "foreign_keys = ON"):
            await db.execute(f"PRAGMA {pragma}")
    app.state.db = db
    yield
    if db is not None:
        await db.close()


routes = [
    Route("/hello", hello),
    Route("/d1/select", d1_select),
    Route("/d1/insert", d1_insert, methods=["POST"]),
]
app = Starlette(routes=routes, lifespan=lifespan)
