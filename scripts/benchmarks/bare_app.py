"""The baseline: a bare Starlette app doing each scenario's work directly (no Hearth)."""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
from cachetools import TTLCache
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

# The 1 KiB object of the "R2 get 1 KiB" scenario, written by scripts/benchmarks/r2.py.
R2_FILE = os.environ.get("BENCH_R2_FILE", "/tmp/hearth-bench-r2-1k.bin")
KV_KEY = "bench-key"
KV_VALUE = '{"id": 42, "name": "bench", "tags": ["a", "b", "c"], "body": "' + "x" * 150 + '"}'
D1_ROWS = 10_000  # the d1 suite fills users with ids 1..D1_ROWS
D1_SELECT = "SELECT id, name, email, score FROM users WHERE id = ?"
D1_INSERT = "INSERT INTO events (user_id, kind, at) VALUES (?, ?, ?)"


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"hello": "world"})


# /kv/get does what Hearth's `env.KV.get(key)` does on its hot path, by hand: a per-process
# cachetools cache (60 s, like the KV read cache) in front of a sqlite3 point read of a
# (namespace, key) row on the event-loop thread, returning the value as text.
_kv_cache: TTLCache[str, bytes | None] = TTLCache(maxsize=10_000, ttl=60)
_kv_db: sqlite3.Connection | None = None


def _kv() -> sqlite3.Connection:
    global _kv_db
    if _kv_db is None:
        path = os.environ.get("BENCH_KV_DB") or str(Path(tempfile.gettempdir()) / "bench-kv.db")
        _kv_db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        _kv_db.execute("PRAGMA journal_mode = WAL")
        _kv_db.execute(
            "CREATE TABLE IF NOT EXISTS kv (namespace TEXT, key TEXT, value BLOB, "
            "PRIMARY KEY (namespace, key))"
        )
        _kv_db.execute(
            "INSERT OR REPLACE INTO kv VALUES (?, ?, ?)", ("bench", KV_KEY, KV_VALUE.encode())
        )
    return _kv_db


async def kv_get(request: Request) -> Response:
    try:
        value = _kv_cache[KV_KEY]
    except KeyError:
        row = (
            _kv()
            .execute("SELECT value FROM kv WHERE namespace = ? AND key = ?", ("bench", KV_KEY))
            .fetchone()
        )
        value = _kv_cache[KV_KEY] = None if row is None else row[0]
    if value is None:
        return PlainTextResponse("not found", status_code=404)
    return PlainTextResponse(value.decode())


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


async def r2_get(request: Request) -> Response:
    # The same work as Hearth's /r2/get: find the object (open + fstat give its size, and an
    # etag from mtime and size as Starlette's FileResponse derives one), read its bytes from
    # disk, answer with its content type and etag. No index lookup: that is Hearth's extra.
    fd = os.open(R2_FILE, os.O_RDONLY)
    try:
        stat = os.fstat(fd)
        data = os.read(fd, stat.st_size)
    finally:
        os.close(fd)
    etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'
    return Response(data, media_type="application/octet-stream", headers={"etag": etag})


# /d1/select and /d1/insert: plain aiosqlite on a connection opened once, in the lifespan.
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
    Route("/kv/get", kv_get),
    Route("/do/increment", do_increment),
    Route("/r2/get", r2_get),
    Route("/d1/select", d1_select),
    Route("/d1/insert", d1_insert, methods=["POST"]),
]
app = Starlette(routes=routes, lifespan=lifespan)
