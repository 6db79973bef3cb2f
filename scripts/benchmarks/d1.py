"""D1: the binding against plain aiosqlite, in one process and over HTTP, in the same run.

In-process: a point select by primary key on a 10,000-row table and a single-row insert, as
``env.DB.prepare(...).bind(...).first()/all()/run()`` and as plain aiosqlite
(``execute_fetchall`` / ``execute``: one thread hop each, the floor), on identical databases.
HTTP: the same two operations as routes of bare_app (aiosqlite) and hearth_app (``env.DB``).
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from benchmarks._util import (
    HERE,
    Options,
    fmt,
    hearth_argv,
    load,
    new_port,
    ops_per_sec,
    process,
    section,
    table,
    uvicorn_argv,
)  # fmt: skip
from benchmarks.bare_app import D1_INSERT, D1_ROWS, D1_SELECT

CONFIG = HERE / "wrangler_bench.toml"
ROUNDS = 8  # rounds of every operation in turn; each keeps its best, to damp a noisy machine


def populate(path: Path) -> None:
    """The benchmark schema with D1_ROWS users, in WAL mode like Hearth's databases."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL,"
            " score REAL NOT NULL)"
        )
        db.execute(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL,"
            " kind TEXT NOT NULL, at REAL NOT NULL)"
        )
        db.executemany(
            "INSERT INTO users VALUES (?, ?, ?, ?)",
            ((i, f"user {i}", f"user{i}@example.com", i * 0.5) for i in range(1, D1_ROWS + 1)),
        )
    db.close()


def run(opts: Options) -> None:
    section("d1: point select and insert, env.DB against plain aiosqlite")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows = asyncio.run(_in_process(folder, *((2, 0.2) if opts.quick else (ROUNDS, 0.5))))
        table(["operation", "aiosqlite ops/s", "env.DB ops/s", "env.DB cost"], rows)
        http = _over_http(folder, opts)
    print()
    table(["HTTP route", "bare Starlette req/s", "Hearth req/s", "Hearth/bare"], http)


async def _in_process(folder: Path, rounds: int, seconds: float) -> list[list[object]]:
    import aiosqlite

    from bindings.d1 import D1Database
    from bindings.d1.sqlite import SqliteDatabase

    populate(folder / "plain.sqlite")
    populate(folder / "binding.sqlite")
    plain = await aiosqlite.connect(folder / "plain.sqlite", isolation_level=None)
    for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "foreign_keys = ON"):
        await plain.execute(f"PRAGMA {pragma}")
    store = await SqliteDatabase.open(folder / "binding.sqlite")
    db = D1Database(store)

    def key() -> int:
        return random.randint(1, D1_ROWS)

    async def select() -> object:
        return next(iter(await plain.execute_fetchall(D1_SELECT, (key(),))))

    async def first() -> object:
        return await db.prepare(D1_SELECT).bind(key()).first()

    async def all_() -> object:
        return await db.prepare(D1_SELECT).bind(key()).all()

    async def insert() -> object:
        return (await plain.execute(D1_INSERT, (key(), "click", time.time()))).lastrowid

    async def run() -> object:
        return await db.prepare(D1_INSERT).bind(key(), "click", time.time()).run()

    ops: dict[str, Callable[[], Awaitable[object]]] = {
        "select": select, "first": first, "all": all_, "insert": insert, "run": run,
    }  # fmt: skip
    best = dict.fromkeys(ops, 0.0)
    try:
        for _ in range(rounds):  # interleaved, shuffled, best of each: load on the box varies
            order = list(ops)
            random.shuffle(order)
            for name in order:
                best[name] = max(best[name], await ops_per_sec(ops[name], seconds))
    finally:
        await plain.close()
        await store.close()
    rows = [
        ("point select: first()", "select", "first"),
        ("point select: all()", "select", "all"),
        ("insert one row: run()", "insert", "run"),
    ]
    return [
        [label, fmt(best[base]), fmt(best[ours]), f"{best[base] / best[ours] - 1:+.0%}"]
        for label, base, ours in rows
    ]


def _over_http(folder: Path, opts: Options) -> list[list[object]]:
    from bindings.d1 import database_path

    bare_db = folder / "bare.sqlite"
    populate(bare_db)
    state = folder / "state"
    populate(database_path(state, "bench"))
    routes = [("GET /d1/select", "GET", "/d1/select"), ("POST /d1/insert", "POST", "/d1/insert")]
    results: dict[str, dict[str, float]] = {"bare": {}, "hearth": {}}
    port = new_port()
    base = f"http://127.0.0.1:{port}"
    env = {"BENCH_D1_DATABASE": str(bare_db)}
    with process(uvicorn_argv("bare_app:app", port), base + "/hello", env=env):
        for name, method, path in routes:
            results["bare"][name] = load(base + path, opts, method).rps
    port = new_port()
    base = f"http://127.0.0.1:{port}"
    with process(hearth_argv(CONFIG, state, port), base + "/hello"):
        for name, method, path in routes:
            results["hearth"][name] = load(base + path, opts, method).rps
    return [
        [name, fmt(results["bare"][name]), fmt(results["hearth"][name]),
         f"{results['hearth'][name] / results['bare'][name]:.2f}x"]
        for name, _, _ in routes
    ]  # fmt: skip
