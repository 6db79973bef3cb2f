"""The default KV backend: every namespace in one SQLite file under ``<state>/kv/``.

Several processes may share the file (WAL: readers never wait for the writer). Statements run
on the event-loop thread whenever they cannot wait: a point read or a WAL commit with
synchronous=NORMAL takes microseconds, far less than a hop to a thread. Only what can wait goes
to one writer thread: a write that finds another process holding the write lock (it retries
there with a busy timeout instead of stalling the loop), and checkpoints, which fsync.
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


CHECKPOINT_EVERY = 1000  # loop-side commits between two checkpoints in the writer thread


def _connect(path: Path, busy_timeout_ms: int = 5000) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def _busy(exc: sqlite3.Error) -> bool:
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in (
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
    )


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
        self._waiter = _connect(self.path)  # used in the writer thread only
        with _translated("PUT"):
            self._waiter.execute("PRAGMA journal_mode = WAL")
            self._waiter.execute(SCHEMA)
        self._reader = _connect(self.path)
        # The loop's writer never waits for a lock and never checkpoints (that fsyncs).
        self._writer = _connect(self.path, busy_timeout_ms=0)
        self._writer.execute("PRAGMA wal_autocheckpoint = 0")
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="hearth-kv-sqlite")
        self._commits = 0
        self._closed = False

    async def _write(self, op: str, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` on the loop; if the write lock is taken, wait for it in the thread."""
        try:
            result = work(self._writer)
        except sqlite3.Error as exc:
            if not _busy(exc):
                raise KVError(op, 500, f"SQLite: {exc}") from exc
        else:
            self._commits += 1
            if self._commits >= CHECKPOINT_EVERY:
                self._commits = 0
                self._thread.submit(self._checkpoint)
            return result

        def wait_and_run() -> T:
            with _translated(op):
                return work(self._waiter)

        return await asyncio.get_running_loop().run_in_executor(self._thread, wait_and_run)

    def _checkpoint(self) -> None:
        with contextlib.suppress(sqlite3.Error):  # a busy checkpoint simply happens next time
            self._waiter.execute("PRAGMA wal_checkpoint(PASSIVE)")

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
        self._waiter.close()
