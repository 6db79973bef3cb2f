"""The baseline: a bare Starlette app doing each scenario's work directly (no Hearth)."""

from __future__ import annotations

import os
import sqlite3
import tempfile

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"hello": "world"})


# /do/increment: the closest direct equivalent of Hearth's Durable Object counter: one SQLite
# file (WAL, synchronous=NORMAL) used on the event-loop thread, a row read, written and committed
# per request. What it leaves out is what the DO adds: the stub, the RPC copies, the gates.
_db = sqlite3.connect(
    os.path.join(tempfile.mkdtemp(prefix="bare-counter-"), "counter.sqlite"),
    isolation_level=None,
)
_db.execute("PRAGMA journal_mode=WAL")
_db.execute("PRAGMA synchronous=NORMAL")
_db.execute("CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value INTEGER)")


async def do_increment(request: Request) -> JSONResponse:
    _db.execute("BEGIN")
    row = _db.execute("SELECT value FROM kv WHERE key = 'n'").fetchone()
    n = (row[0] if row else 0) + 1
    _db.execute("INSERT OR REPLACE INTO kv VALUES ('n', ?)", (n,))
    _db.execute("COMMIT")
    return JSONResponse({"n": n})


routes = [Route("/hello", hello), Route("/do/increment", do_increment)]
app = Starlette(routes=routes)
