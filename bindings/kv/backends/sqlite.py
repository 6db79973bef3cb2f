"""The default KV backend: every namespace in one SQLite file under ``<state>/kv/``.

Reads run on the event-loop thread over their own connection: a point select in WAL mode takes
microseconds and never waits for a writer, which costs far less than a hop to a thread. Writes
go to one writer thread with its own connection, so a commit (or waiting on another process's
write lock) never stalls the loop. Several processes may share the file: WAL lets them read
while one writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from bindings.kv.backends import Entry, Listed
from bindings.kv.errors import KVError

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    namespace  TEXT NOT NULL,
    key        TEXT NOT NULL,
    expiration INTEGER,
    metadata   TEXT,
    value      BLOB NOT NULL,  -- last, so listings never read a large value's overflow pages
    PRIMARY KEY (namespace, key)
)
"""
# TEXT compares with BINARY collation: memcmp of UTF-8, which is the order KV lists in.

GET = "SELECT value, expiration, metadata FROM kv WHERE namespace = ? AND key = ?"
PUT = (
    "INSERT OR REPLACE INTO kv (namespace, key, expiration, metadata, value) VALUES (?, ?, ?, ?, ?)"
)
DELETE = "DELETE FROM kv WHERE namespace = ? AND key = ?"
PURGE = "DELETE FROM kv WHERE namespace = ? AND key = ? AND expiration = ?"


@contextlib.contextmanager
def _translated(op: str) -> Iterator[None]:
    """Turn a SQLite failure into a KVError (the one place this backend translates errors)."""
    try:
        yield
    except sqlite3.Error as exc:
        raise KVError(op, 500, f"SQLite: {exc}") from exc


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def prefix_end(prefix: str) -> str | None:
    """The least string greater than every string starting with ``prefix`` (None: unbounded).

    Code-point order is UTF-8 byte order, so bumping the last code point that can be bumped
    bounds the range: "ab" -> "ac". Surrogates are skipped (they have no UTF-8 form).
    """
    chars = list(prefix)
    while chars:
        point = ord(chars.pop()) + 1
        if point == 0xD800:
            point = 0xE000
        if point <= 0x10FFFF:
            return "".join(chars) + chr(point)
    return None


class SQLiteBackend:
    """KV rows in ``kv.sqlite3``: one table, a namespace id column selects the namespace."""

    name = "sqlite"

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "kv.sqlite3"
        self._writer = _connect(self.path)
        with _translated("PUT"):
            self._writer.execute("PRAGMA journal_mode = WAL")
            self._writer.execute(SCHEMA)
        self._reader = _connect(self.path)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="hearth-kv-sqlite")
        self._closed = False

    async def _write(self, op: str, work: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            with _translated(op):
                return work(self._writer)

        return await asyncio.get_running_loop().run_in_executor(self._thread, run)

    async def get(self, namespace: str, key: str) -> Entry | None:
        with _translated("GET"):
            row = self._reader.execute(GET, (namespace, key)).fetchone()
        return None if row is None else Entry(*row)

    async def get_many(self, namespace: str, keys: Sequence[str]) -> list[Entry | None]:
        marks = ",".join("?" * len(keys))
        # Only "?" marks are interpolated; the keys are bound as parameters.
        sql = f"SELECT key, value, expiration, metadata FROM kv WHERE namespace = ? AND key IN ({marks})"  # noqa: S608, E501
        with _translated("GET_BULK"):
            rows = self._reader.execute(sql, (namespace, *keys)).fetchall()
        found = {key: Entry(value, exp, meta) for key, value, exp, meta in rows}
        return [found.get(key) for key in keys]

    async def put(self, namespace: str, key: str, entry: Entry) -> None:
        params = (namespace, key, entry.expiration, entry.metadata, entry.value)
        await self._write("PUT", lambda db: db.execute(PUT, params))

    async def delete(self, namespace: str, key: str) -> None:
        await self._write("DELETE", lambda db: db.execute(DELETE, (namespace, key)))

    async def purge(self, namespace: str, expired: Sequence[tuple[str, int]]) -> None:
        rows = [(namespace, key, expiration) for key, expiration in expired]
        await self._write("DELETE", lambda db: db.executemany(PURGE, rows))

    async def list(self, namespace: str, prefix: str, after: str, limit: int) -> list[Listed]:
        sql = "SELECT key, expiration, metadata FROM kv WHERE namespace = ? AND key > ?"
        params: list[object] = [namespace, after]
        if prefix:
            sql += " AND key >= ?"
            params.append(prefix)
            end = prefix_end(prefix)
            if end is not None:
                sql += " AND key < ?"
                params.append(end)
        sql += " ORDER BY key LIMIT ?"
        params.append(limit)
        with _translated("GET"):
            rows = self._reader.execute(sql, params).fetchall()
        return [Listed(*row) for row in rows]

    def watch(self, namespace: str) -> None:
        """Nothing to sweep: expired rows go lazily, on get and list."""

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._thread.shutdown(wait=True)
        self._reader.close()
        self._writer.close()
