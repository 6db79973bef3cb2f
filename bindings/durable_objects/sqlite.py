"""One Durable Object's SQLite file: the storage backend under the KV, SQL and alarm APIs.

The connection is synchronous and used only on the event-loop thread, as workerd runs SQLite on
the object's own thread: a storage call never yields, so no other event can interleave inside
it (the input gate, for free). Invariants the API modules rely on:

- Every write happens inside one implicit transaction, opened by the first write and committed
  by ``flush()``, which the first write schedules on the event loop: it runs as soon as the
  object awaits anything, after every event of that turn of the loop has written (group
  commit). Results and messages wait for it (``committed()``), or force it (``commit()``)
  before a synchronous output. That is the output gate.
- Explicit transactions (``transaction``, ``transactionSync``) are savepoints inside it; while
  one is open nothing commits.
- Values cross this interface as serialized bytes; keys are str and order by UTF-8 bytes
  (SQLite's BINARY collation).
- The file is locked exclusively (``flock`` on ``<id>.lock``) while open, so a second process
  opening the same object fails loudly instead of corrupting it.
- Tables are created on first use, so a fresh object's database is one 4096-byte page.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import secrets
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from bindings.durable_objects.errors import DurableObjectError

KV_TABLE = "_cf_KV"
META_TABLE = "_cf_METADATA"
ALARM_KEY = 1
SAVEPOINT = "_cf_savepoint_"

# workerd's SQLite limits (bound parameters, columns, statement length, compound selects, LIKE).
LIMITS = {
    sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER: 100,
    sqlite3.SQLITE_LIMIT_COLUMN: 100,
    sqlite3.SQLITE_LIMIT_SQL_LENGTH: 100_000,
    sqlite3.SQLITE_LIMIT_COMPOUND_SELECT: 5,
    sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH: 50,
}

_TRUSTED = f" -- hearth {secrets.token_hex(8)}"  # unguessable: user SQL can never match it

Authorizer = Callable[[int, str | None, str | None, str | None], str | None]


class ObjectDatabase:
    """The SQLite file of one object; see the module docstring for the rules it keeps."""

    def __init__(
        self,
        path: Path,
        *,
        synchronous: str = "NORMAL",
        authorize: Authorizer | None = None,
        on_failure: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.path = path
        self._lock_fd = _lock(path.with_suffix(".lock"))
        try:
            self.conn = sqlite3.connect(path, isolation_level=None, cached_statements=256)
        except BaseException:
            os.close(self._lock_fd)
            raise
        conn = self.conn
        self._run("PRAGMA journal_mode=WAL")
        self._run(f"PRAGMA synchronous={'FULL' if synchronous == 'FULL' else 'NORMAL'}")
        self._run("PRAGMA foreign_keys=ON")
        for limit, value in LIMITS.items():
            conn.setlimit(limit, value)
        self._authorize = authorize
        self._untrusted = False
        self.denied: str | None = None  # why the authorizer refused the last user statement
        conn.set_authorizer(self._authorizer)
        self.depth = 0  # open savepoints
        self.closed = False
        self._committed: asyncio.Future[None] | None = None
        self._on_failure = on_failure
        tables = {row[0] for row in self._run("SELECT name FROM sqlite_master")}
        self._kv_ready = KV_TABLE in tables
        self._meta_ready = META_TABLE in tables

    def _run(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        """Run trusted SQL. The tag keeps its cached statement apart from user SQL of the same
        text: the authorizer only sees a statement when it is first prepared."""
        return self.conn.execute(sql + _TRUSTED, params)

    def _run_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.conn.executemany(sql + _TRUSTED, rows)

    # -- the implicit transaction -------------------------------------------------------------

    def begin(self) -> None:
        """Open the implicit transaction if it is not open (before any write)."""
        if self.conn.in_transaction:
            return
        self._run("BEGIN")
        with contextlib.suppress(RuntimeError):  # no event loop: the caller commits
            asyncio.get_running_loop().call_soon(self.flush)

    def commit(self) -> None:
        """Commit the implicit transaction (unless a savepoint is open); raises on failure."""
        if self.depth == 0 and self.conn.in_transaction:
            try:
                self._run("COMMIT")
            except BaseException as exc:
                self._rollback(exc)
                raise
        if not self.conn.in_transaction:
            self._settle(None)

    def committed(self) -> asyncio.Future[None]:
        """Resolves once the open implicit transaction has committed (fails if it cannot).

        Events that wrote in the same turn of the event loop wait on one future and share one
        COMMIT (run by the ``flush`` scheduled when the transaction opened): group commit.
        """
        if self._committed is None:
            self._committed = asyncio.get_running_loop().create_future()
        return self._committed

    def _settle(self, error: BaseException | None) -> None:
        waiting, self._committed = self._committed, None
        if waiting is not None and not waiting.done():
            if error is None:
                waiting.set_result(None)
            else:
                waiting.set_exception(error)

    def flush(self) -> None:
        """``commit()`` for the event loop and the output gate: failures reset the object."""
        if self.closed:
            return
        try:
            self.commit()
        except Exception as exc:
            if self._on_failure is None:
                raise
            self._on_failure(exc)

    def rollback(self) -> None:
        """Drop every uncommitted write (the object is being reset)."""
        self._rollback(DurableObjectError("the pending writes were rolled back"))

    def _rollback(self, error: BaseException) -> None:
        if self.conn.in_transaction:
            self._run("ROLLBACK")
        self.depth = 0
        self._settle(error)

    def savepoint(self) -> int:
        self.begin()
        self.depth += 1
        self._run(f"SAVEPOINT {SAVEPOINT}{self.depth}")
        return self.depth

    def rollback_to(self, depth: int) -> None:
        """Undo the writes made since the savepoint at ``depth`` opened; it stays open."""
        self._run(f"ROLLBACK TO {SAVEPOINT}{depth}")

    def release(self, depth: int, *, rollback: bool = False) -> None:
        """Close the savepoint at ``depth``, keeping (or rolling back) its writes."""
        name = f"{SAVEPOINT}{depth}"
        if rollback:
            self._run(f"ROLLBACK TO {name}")
        self._run(f"RELEASE {name}")
        self.depth = depth - 1
        if self.depth == 0:
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().call_soon(self.flush)

    # -- key-value primitives (values are serialized bytes) -----------------------------------

    def _kv(self) -> None:
        self.begin()
        if not self._kv_ready:
            self._run(
                "CREATE TABLE IF NOT EXISTS _cf_KV (key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID"
            )
            self._kv_ready = True

    def get(self, key: str) -> bytes | None:
        if not self._kv_ready:
            return None
        row = self._run("SELECT value FROM _cf_KV WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def get_many(self, keys: list[str]) -> list[tuple[str, bytes]]:
        """The found keys only, in key order."""
        if not self._kv_ready or not keys:
            return []
        return self._run(
            "SELECT key, value FROM _cf_KV WHERE key IN (SELECT value FROM json_each(?))"
            " ORDER BY key",
            (_json_list(keys),),
        ).fetchall()

    def put(self, key: str, value: bytes) -> None:
        self._kv()
        self._run("INSERT OR REPLACE INTO _cf_KV VALUES (?, ?)", (key, value))

    def put_many(self, entries: Iterable[tuple[str, bytes]]) -> None:
        self._kv()
        self._run_many("INSERT OR REPLACE INTO _cf_KV VALUES (?, ?)", entries)

    def delete(self, key: str) -> bool:
        if not self._kv_ready:
            return False
        self.begin()
        cur = self._run("DELETE FROM _cf_KV WHERE key = ?", (key,))
        return cur.rowcount > 0

    def delete_many(self, keys: list[str]) -> int:
        if not self._kv_ready or not keys:
            return 0
        self.begin()
        cur = self._run(
            "DELETE FROM _cf_KV WHERE key IN (SELECT value FROM json_each(?))",
            (_json_list(keys),),
        )
        return cur.rowcount

    def scan(
        self,
        start: str | None,
        start_inclusive: bool,
        end: str | None,
        reverse: bool,
        limit: int | None,
    ) -> list[tuple[str, bytes]]:
        """Keys in ``[start, end)`` (``(start, end)`` when not inclusive), ascending or not."""
        if not self._kv_ready:
            return []
        where: list[str] = []
        params: list[str | int] = []
        if start is not None:
            where.append("key >= ?" if start_inclusive else "key > ?")
            params.append(start)
        if end is not None:
            where.append("key < ?")
            params.append(end)
        sql = "SELECT key, value FROM _cf_KV"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY key DESC" if reverse else " ORDER BY key"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return self._run(sql, params).fetchall()

    def delete_everything(self, keep_alarm: bool) -> None:
        """Drop every table, index, view and trigger (workerd deletes the whole database), keep
        the alarm if asked, and shrink the file back to one page. Commits."""
        alarm = self.get_alarm() if keep_alarm else None
        if self.conn.in_transaction:  # whatever was pending is about to be deleted anyway
            self._run("ROLLBACK")
        self.begin()
        self._run("PRAGMA defer_foreign_keys=ON")
        for kind, name in self._run(
            "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view')"
            " AND name NOT LIKE 'sqlite_%'"
        ).fetchall():
            self._run(f"DROP {kind.upper()} IF EXISTS {_quote(name)}")
        self._kv_ready = self._meta_ready = False
        if alarm is not None:
            self.set_alarm(alarm)
        self.commit()
        self._run("VACUUM")

    # -- the alarm ---------------------------------------------------------------------------

    def get_alarm(self) -> int | None:
        if not self._meta_ready:
            return None
        row = self._run("SELECT value FROM _cf_METADATA WHERE key = ?", (ALARM_KEY,)).fetchone()
        return None if row is None else int(row[0])

    def set_alarm(self, scheduled_ms: int | None) -> None:
        if scheduled_ms is None:
            if self._meta_ready:
                self.begin()
                self._run("DELETE FROM _cf_METADATA WHERE key = ?", (ALARM_KEY,))
            return
        self.begin()
        if not self._meta_ready:
            self._run("CREATE TABLE IF NOT EXISTS _cf_METADATA (key INTEGER PRIMARY KEY, value)")
            self._meta_ready = True
        self._run("INSERT OR REPLACE INTO _cf_METADATA VALUES (?, ?)", (ALARM_KEY, scheduled_ms))

    # -- user SQL -------------------------------------------------------------------------------

    def execute_user(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        """Run one statement of user SQL under the authorizer, inside the implicit transaction."""
        self.begin()
        self.denied = None
        self._untrusted = True
        try:
            return self.conn.execute(sql, params)
        finally:
            self._untrusted = False

    def _authorizer(
        self, action: int, arg1: str | None, arg2: str | None, db: str | None, _src: str | None
    ) -> int:
        if not self._untrusted or self._authorize is None:
            return sqlite3.SQLITE_OK
        reason = self._authorize(action, arg1, arg2, db)
        if reason is None:
            return sqlite3.SQLITE_OK
        self.denied = reason
        return sqlite3.SQLITE_DENY

    @property
    def size(self) -> int:
        """Bytes in use: (pages - free pages) x page size, as workerd's ``databaseSize``."""
        pages, free, size = self._run(
            "SELECT (SELECT * FROM pragma_page_count), (SELECT * FROM pragma_freelist_count),"
            " (SELECT * FROM pragma_page_size)"
        ).fetchone()
        return int((pages - free) * size)

    def close(self) -> None:
        """Commit what is pending, close the file and drop the lock (idempotent)."""
        if self.closed:
            return
        self.closed = True
        try:
            if self.depth == 0 and self.conn.in_transaction:
                self._run("COMMIT")
            self._settle(None)
        finally:
            self.conn.close()
            os.close(self._lock_fd)

    def abandon(self) -> None:
        """Roll back what is pending and close (the object is being reset)."""
        if self.closed:
            return
        try:
            self.rollback()
        finally:
            self.close()


def _lock(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DurableObjectError(
            f"Durable Object storage {path.with_suffix('.sqlite')} is open in another process "
            "(or twice in this one); each object must have exactly one owner"
        ) from None
    return fd


def _json_list(keys: list[str]) -> str:
    return json.dumps(keys, ensure_ascii=False)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def snapshot(
    path: Path, key: str | None = None
) -> tuple[list[tuple[str, bytes]], int | None, list[str]]:
    """For commands: (key-value rows, or just ``key``'s; the alarm; user tables), read-only.

    No lock is taken: a WAL reader never blocks the process that owns the object.
    """
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        rows: list[tuple[str, bytes]] = []
        if KV_TABLE in tables:
            if key is None:
                rows = conn.execute("SELECT key, value FROM _cf_KV ORDER BY key").fetchall()
            else:
                rows = conn.execute(
                    "SELECT key, value FROM _cf_KV WHERE key = ?", (key,)
                ).fetchall()
        alarm = None
        if META_TABLE in tables:
            row = conn.execute("SELECT value FROM _cf_METADATA WHERE key = ?", (ALARM_KEY,))
            found = row.fetchone()
            alarm = None if found is None else int(found[0])
        user = [t for t in tables if t[:4].lower() != "_cf_" and not t.startswith("sqlite_")]
        return rows, alarm, user
    finally:
        conn.close()
