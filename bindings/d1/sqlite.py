"""D1's storage: one SQLite file per database, one aiosqlite connection per database per process.

Invariants the D1 layer above relies on:

* A request (one query, a batch, an exec) runs as ONE function on the connection's thread, the
  single choke point aiosqlite gives each connection. Requests of one process therefore never
  interleave, and one thread hop is the whole cost of a query.
* Except the commonest query of all: one read-only statement (SELECT, VALUES, EXPLAIN, a WITH
  that changes nothing). It runs on the event loop itself, on a second, read-only connection,
  because a point select takes a few microseconds and the thread hop costs ten times that. WAL
  gives it a snapshot of everything committed, so a write that returned is always seen. It has
  a budget (``INLINE_BUDGET``): a read still stepping past it is interrupted and run again on
  the thread, as is one that meets a lock or turns out to write, so the loop never waits long.
* A request of more than one statement runs inside ``BEGIN IMMEDIATE`` (``BEGIN`` when nothing
  in it writes) and commits before the call returns; any error rolls all of it back. A single
  statement relies on SQLite's own statement atomicity (autocommit).
* Another process's lock is waited for (busy timeout; writers take the write lock up front),
  and a request that still meets ``SQLITE_BUSY`` is retried whole, a bounded number of times.
* WAL, ``synchronous=NORMAL`` by default: a returned write is in the WAL file, so it survives
  a killed process; ``FULL`` also survives power loss (see docs/bindings/d1.md).
* The SQL Cloudflare refuses is refused here too, by an authorizer: transactions and savepoints,
  ATTACH, names starting ``_cf_``, PRAGMAs off workerd's allow-list. Hearth's own statements
  run "trusted" and carry a marker comment, so a user's identical text is never served from
  the statement cache unchecked.
"""

from __future__ import annotations

import asyncio
import mmap
import os
import sqlite3
import struct
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, cast

from bindings.clock import Clock, system_clock
from bindings.d1 import Settings
from bindings.d1.errors import D1Error, d1_error
from bindings.d1.sql import Plan, Statement

if TYPE_CHECKING:
    import aiosqlite

T = TypeVar("T")

# SQLite limits workerd sets for D1 (tests may lower them before opening a database).
D1_MAX_COLUMNS = 100
D1_MAX_VARIABLE_NUMBER = 100  # highest ?NNN
D1_MAX_VALUE_BYTES = 2_000_000  # Cloudflare's documented string/BLOB/row limit
D1_MAX_LIKE_PATTERN_BYTES = 50
D1_MAX_COMPOUND_SELECT = 5

INLINE_BUDGET = 0.002  # seconds a read may hold the event loop before it moves to the thread
INLINE_CHECK_STEPS = 1000  # SQLite VM steps between looks at the clock

BUSY_RETRIES = 3  # whole-request retries after the busy timeout still ended in SQLITE_BUSY
BUSY_RETRY_DELAY = 0.05  # seconds, doubled per retry
STATEMENT_CACHE = 512

WRONG_BINDINGS = "Wrong number of parameter bindings for SQL query."

# workerd's allow-list; ``page_size`` may only be read.
ALLOWED_PRAGMAS = frozenset(
    {
        "data_version", "case_sensitive_like", "foreign_keys", "defer_foreign_keys",
        "ignore_check_constraints", "legacy_alter_table", "recursive_triggers",
        "reverse_unordered_selects", "foreign_key_check", "foreign_key_list", "index_info",
        "index_list", "index_xinfo", "quick_check", "optimize", "table_list", "table_info",
        "table_xinfo",
    }
)  # fmt: skip
_DENIED_ACTIONS = frozenset(
    {sqlite3.SQLITE_TRANSACTION, sqlite3.SQLITE_SAVEPOINT, sqlite3.SQLITE_ATTACH,
     sqlite3.SQLITE_DETACH}
)  # fmt: skip
_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
# An inline read that ends in one of these is run again on the connection thread.
_NOT_INLINE_CODES = _BUSY_CODES | {sqlite3.SQLITE_INTERRUPT, sqlite3.SQLITE_READONLY}

# Hearth's own statements; the marker keeps them apart in sqlite3's statement cache.
_BEGIN_WRITE = "BEGIN IMMEDIATE /* hearth */"
_BEGIN_READ = "BEGIN DEFERRED /* hearth */"
_COMMIT = "COMMIT /* hearth */"
_ROLLBACK = "ROLLBACK /* hearth */"
_PAGE_COUNT = "PRAGMA page_count /* hearth */"


class WalSize:
    """The database size the last commit left, read from SQLite's WAL index (``-shm``).

    The WAL-index header (sqlite.org/walformat.html) is stored twice, in native byte order,
    and holds the page size (u16 at offset 14) and the database size in pages (u32 at 20).
    Reading it is a memory read, where ``PRAGMA page_count`` is compiled afresh on every run
    (SQLite runs a PRAGMA statement once per prepare). ``size()`` is None whenever the header
    cannot be trusted (mid-update by another process, missing, unmapped): ask the PRAGMA then.
    An empty WAL records no size (0 pages): the database file is then the whole database.
    """

    _FIELDS = struct.Struct("=HII")  # szPage, mxFrame, nPage

    def __init__(self, database: Path) -> None:
        self._database = database
        self._map: mmap.mmap | None = None
        self._closed = False
        self._header = b""  # the last header read, and the size it gave
        self._bytes = 0

    def _mapped(self) -> mmap.mmap | None:
        """Map the -shm file, which a new database gets only at its first transaction."""
        if not self._closed:
            try:
                with open(f"{self._database}-shm", "rb") as file:
                    self._map = mmap.mmap(file.fileno(), 96, access=mmap.ACCESS_READ)
            except (OSError, ValueError):
                pass
        return self._map

    def size(self) -> int | None:
        """Bytes, or None when unknown."""
        m = self._map or self._mapped()
        if m is None:
            return None
        header = m[:48]
        if header == self._header:
            return self._bytes
        if header != m[48:96] or not header[12]:  # two copies differ, or not initialised
            return None
        page_size, _, pages = self._FIELDS.unpack_from(header, 14)
        if pages:
            size = int(pages) * (65536 if page_size == 1 else int(page_size))
        else:
            try:
                size = os.stat(self._database).st_size
            except OSError:
                return None
        self._header, self._bytes = header, size
        return size

    def close(self) -> None:
        self._closed = True
        if self._map is not None:
            self._map.close()
            self._map = None


class Counters(NamedTuple):
    """What one query did, for D1's ``meta``."""

    duration: float  # ms
    changes: int
    last_row_id: int
    changed_db: bool
    size_after: int
    rows_read: int
    rows_written: int


class Outcome(NamedTuple):
    """One query's result: the last statement's columns and rows, and counters when asked."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    counters: Counters | None


def describe(exc: BaseException) -> str:
    """workerd's text for a SQLite error: ``<message>: <CODE>[ (extended: <XCODE>)]``."""
    message = str(exc)
    if isinstance(exc, sqlite3.ProgrammingError) and message.startswith(
        ("Incorrect number of bindings", "You did not supply a value")
    ):
        return WRONG_BINDINGS
    name = getattr(exc, "sqlite_errorname", None)
    if not name:
        return message
    primary = "_".join(name.split("_", 2)[:2])
    return f"{message}: {primary}" + (f" (extended: {name})" if name != primary else "")


def _failure(exc: BaseException, index: int | None) -> D1Error:
    """A SQLite failure as D1 reports it: translated once, here."""
    return d1_error("D1_ERROR", describe(exc), exc, index=index, sqlite_code=_code(exc))


def _code(exc: BaseException) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else int(code) & 0xFF


class Authorizer:
    """Refuses the SQL Cloudflare refuses, unless Hearth's own statement is running (trusted).
    One per connection: each connection's trust changes only on the thread that uses it."""

    __slots__ = ("trusted",)

    def __init__(self) -> None:
        self.trusted = True  # until setup has run

    def __call__(self, action: int, arg1: str | None, arg2: str | None, *_: Any) -> int:
        if self.trusted:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_PRAGMA:
            pragma = (arg1 or "").lower()
            if pragma in ALLOWED_PRAGMAS or (pragma == "page_size" and arg2 is None):
                return sqlite3.SQLITE_OK
            return sqlite3.SQLITE_DENY
        if action in _DENIED_ACTIONS:
            return sqlite3.SQLITE_DENY
        table = arg2 if action == sqlite3.SQLITE_ALTER_TABLE else arg1
        if action != sqlite3.SQLITE_FUNCTION and table and table[:4].lower() == "_cf_":
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK


def _set_limits(db: sqlite3.Connection) -> None:
    """The SQLite limits workerd sets for D1."""
    for limit, value in (
        (sqlite3.SQLITE_LIMIT_COLUMN, D1_MAX_COLUMNS),
        (sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, D1_MAX_VARIABLE_NUMBER),
        (sqlite3.SQLITE_LIMIT_LENGTH, D1_MAX_VALUE_BYTES),
        (sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH, D1_MAX_LIKE_PATTERN_BYTES),
        (sqlite3.SQLITE_LIMIT_COMPOUND_SELECT, D1_MAX_COMPOUND_SELECT),
    ):
        db.setlimit(limit, value)


class _Elsewhere(Exception):
    """An inline read that must run on the connection thread instead."""


Entry = tuple[Plan, Sequence[Any]]
_CAUGHT = (sqlite3.Error, sqlite3.Warning, ValueError, OverflowError)


class SqliteDatabase:
    """One D1 database file, opened once per process; see the module docstring."""

    def __init__(self, path: Path, settings: Settings, clock: Clock = system_clock) -> None:
        self.path = path
        self.settings = settings
        self._aio: aiosqlite.Connection | None = None
        self._run: Callable[..., Awaitable[Any]] | None = None
        self._auth = Authorizer()
        self._reader: sqlite3.Connection | None = None  # the event loop's read-only connection
        self._deadline = 0.0
        self._page_size = 4096
        self._commits = 0
        self._epoch = int(clock() * 1000)

    @classmethod
    async def open(
        cls, path: Path, settings: Settings | None = None, clock: Clock = system_clock
    ) -> SqliteDatabase:
        """Open (creating if needed) the database file at ``path``."""
        import aiosqlite

        self = cls(path, settings or Settings(), clock)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._aio = await aiosqlite.Connection(self._connect, iter_chunk_size=64)
        # aiosqlite's one thread per connection is the choke point we want; its queue entry
        # point is private but has been stable since aiosqlite 0.1.
        self._run = cast("Callable[..., Awaitable[Any]]", self._aio._execute)
        self._open_reader()
        return self

    def _open_reader(self) -> None:
        """Open the read-only connection inline reads use (after the writer made the WAL)."""
        try:
            reader = sqlite3.connect(
                f"{self.path.resolve().as_uri()}?mode=ro",
                uri=True,
                timeout=0,  # a lock sends the read to the thread, which waits for it
                isolation_level=None,
                cached_statements=STATEMENT_CACHE,
            )
        except sqlite3.Error:
            return  # every query takes the thread, as before
        _set_limits(reader)
        auth = Authorizer()
        auth.trusted = False
        reader.set_authorizer(auth)
        reader.set_progress_handler(self._over_budget, INLINE_CHECK_STEPS)
        self._reader = reader
        self._reader_cursor = reader.cursor()
        self._reader_wal = WalSize(self.path)

    def _over_budget(self) -> int:
        return time.perf_counter() > self._deadline

    def _connect(self) -> sqlite3.Connection:
        """Runs on the connection thread: connect and configure."""
        db = sqlite3.connect(
            self.path,
            timeout=self.settings.busy_timeout_ms / 1000,
            isolation_level=None,  # Hearth issues BEGIN/COMMIT itself
            cached_statements=STATEMENT_CACHE,
        )
        try:
            for attempt in range(BUSY_RETRIES + 1):
                try:
                    db.execute("PRAGMA journal_mode = WAL")
                    break
                except sqlite3.OperationalError as exc:  # another process converting it
                    if _code(exc) not in _BUSY_CODES or attempt == BUSY_RETRIES:
                        raise
                    time.sleep(BUSY_RETRY_DELAY)
            db.execute(f"PRAGMA synchronous = {self.settings.synchronous}")
            db.execute("PRAGMA foreign_keys = ON")
            _set_limits(db)
            self._page_size = int(db.execute("PRAGMA page_size").fetchone()[0])
            self._db = db
            self._cursor = db.cursor()
            self._admin = db.cursor()
            self._wal = WalSize(self.path)
            db.set_authorizer(self._auth)
            self._auth.trusted = False
        except BaseException:
            db.close()
            raise
        return db

    # -- requests ------------------------------------------------------------------------

    def query(self, plan: Plan, params: Sequence[Any], counters: bool) -> Awaitable[Outcome]:
        """Run one query as one request (the hot path: inline for a read, else one thread hop)."""
        assert self._run is not None, "the D1 database is closed"
        if self._reader is not None and not plan.writes and not plan.head and plan.last:
            try:
                return _ready(self._read_inline(plan, params, counters))
            except _Elsewhere:
                pass
        return self._run(self._single, plan, params, counters)

    def _read_inline(self, plan: Plan, params: Sequence[Any], counters: bool) -> Outcome:
        """One read on the event loop's read-only connection (see the module docstring)."""
        last = plan.last
        assert last is not None
        cur = self._reader_cursor
        started = time.perf_counter()
        self._deadline = started + INLINE_BUDGET
        try:
            cur.execute(last.sql, params if last.names is None else _named(last, params))
            rows = cur.fetchall()
        except _CAUGHT as exc:
            if _code(exc) in _NOT_INLINE_CODES:
                raise _Elsewhere from None
            error = _failure(exc, 0)
            raise error from error.__cause__
        description = cur.description
        columns = [d[0] for d in description] if description else []
        if not counters:
            return Outcome(columns, rows, None)
        size = self._reader_wal.size()
        if size is None:  # the WAL index cannot tell: the thread's PRAGMA can
            raise _Elsewhere
        rowid = self._cursor.lastrowid or 0  # the writer's, as a read on one connection reports
        duration = (time.perf_counter() - started) * 1000
        return Outcome(columns, rows, Counters(duration, 0, rowid, False, size, len(rows), 0))

    async def request(self, entries: Sequence[Entry], counters: bool = True) -> list[Outcome]:
        """Run several queries in one transaction: all of them, or none (D1Error)."""
        assert self._run is not None, "the D1 database is closed"
        return await self._run(self._retrying, self._attempt, entries, counters)  # type: ignore[no-any-return]

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(connection)`` on the connection thread, trusted: Hearth's own work
        (exports, snapshots, checks), never a worker's SQL. Its statements stay in sqlite3's
        statement cache, so they should be ones D1 allows anyway."""
        assert self._run is not None, "the D1 database is closed"
        return await self._run(self._trusted_call, fn)  # type: ignore[no-any-return]

    def _trusted_call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        self._auth.trusted = True
        try:
            return fn(self._db)
        finally:
            self._auth.trusted = False

    async def dump(self) -> bytes:
        """A consistent copy of the database file's bytes (one read transaction)."""
        return await self.call(_snapshot)

    def bookmark(self) -> str:
        """An opaque position that grows with every write request this process commits."""
        return f"{self._epoch:012x}-{self._commits:08x}"

    async def close(self) -> None:
        """Close the connection (idempotent); queued requests finish first."""
        aio, self._aio, self._run = self._aio, None, None
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.close()
            self._reader_wal.close()
        if aio is not None:
            await aio.close()
            self._wal.close()

    # -- on the connection thread --------------------------------------------------------

    def _retrying(self, work: Callable[..., T], *args: Any) -> T:
        """Run ``work``; when it met SQLITE_BUSY (and rolled back), wait and run it again."""
        delay = BUSY_RETRY_DELAY
        for _ in range(BUSY_RETRIES):
            try:
                return work(*args)
            except D1Error as exc:
                if exc._code not in _BUSY_CODES:
                    raise
            time.sleep(delay)
            delay *= 2
        return work(*args)

    def _single(self, plan: Plan, params: Sequence[Any], counters: bool) -> Outcome:
        """One query (the hot path): a first try, then retries if it met SQLITE_BUSY."""
        try:
            return self._once(plan, params, counters)
        except D1Error as exc:
            if exc._code not in _BUSY_CODES:
                raise
        return self._retrying(self._once, plan, params, counters)

    def _once(self, plan: Plan, params: Sequence[Any], counters: bool) -> Outcome:
        if plan.head:  # several statements: they need a transaction
            return self._attempt(((plan, params),), counters)[0]
        outcome = self._entry(0, plan, params, counters, False)  # autocommit is atomic enough
        if plan.writes:
            self._commits += 1
        return outcome

    def _attempt(self, entries: Sequence[Entry], counters: bool) -> list[Outcome]:
        writes = any(plan.writes for plan, _ in entries)
        self._internal(_BEGIN_WRITE if writes else _BEGIN_READ)
        try:
            out = [
                self._entry(i, plan, params, counters, writes)
                for i, (plan, params) in enumerate(entries)
            ]
            self._internal(_COMMIT)
        except BaseException:
            if self._db.in_transaction:
                self._internal(_ROLLBACK)
            raise
        if writes:
            self._commits += 1
        return out

    def _entry(
        self, index: int, plan: Plan, params: Sequence[Any], counters: bool, uncommitted: bool
    ) -> Outcome:
        """Run one query; ``uncommitted``: inside a transaction that writes, where only the
        PRAGMA knows the size."""
        db, cur, last = self._db, self._cursor, plan.last
        if counters:
            started = time.perf_counter()
            changes_before = changes_last = db.total_changes
            rowid_before = cur.lastrowid or 0
            size_before = self._size(uncommitted)
        if last is None:  # only comments: nothing runs, as on workerd
            if not counters:
                return Outcome([], [], None)
            return Outcome([], [], Counters(0.0, 0, rowid_before, False, size_before, 0, 0))
        try:
            for statement in plan.head:  # none has parameters (checked by the caller)
                cur.execute(statement.sql)
                cur.fetchall()
            if counters:
                changes_last = db.total_changes
            cur.execute(last.sql, params if last.names is None else _named(last, params))
            rows = cur.fetchall()
        except _CAUGHT as exc:
            error = _failure(exc, index)
            raise error from error.__cause__
        description = cur.description
        columns = [d[0] for d in description] if description else []
        if not counters:
            return Outcome(columns, rows, None)
        if not plan.writes:  # a read changes nothing
            duration = (time.perf_counter() - started) * 1000
            meta = Counters(duration, 0, rowid_before, False, size_before, len(rows), 0)
            return Outcome(columns, rows, meta)
        size = self._size(uncommitted)
        total = db.total_changes
        written = total - changes_last
        rowid = cur.lastrowid or 0
        changed = total != changes_before or rowid != rowid_before or size != size_before
        meta = Counters(
            (time.perf_counter() - started) * 1000,  # duration, ms
            total - changes_before,  # changes
            rowid,  # last_row_id
            changed,  # changed_db
            size,  # size_after
            len(rows) + written,  # rows_read: an approximation, see docs/bindings/d1.md
            written,  # rows_written
        )
        return Outcome(columns, rows, meta)

    def _size(self, uncommitted: bool) -> int:
        size = None if uncommitted else self._wal.size()
        if size is None:
            size = self._page_size * int(self._internal(_PAGE_COUNT)[0][0])
        return size

    def _internal(self, sql: str) -> list[Any]:
        self._auth.trusted = True
        try:
            return self._admin.execute(sql).fetchall()
        except _CAUGHT as exc:
            error = _failure(exc, None)
            raise error from error.__cause__
        finally:
            self._auth.trusted = False


def _ready(value: T) -> asyncio.Future[T]:
    """An already-finished future: awaiting it returns at once, without a trip round the loop."""
    future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
    future.set_result(value)
    return future


def _snapshot(db: sqlite3.Connection) -> bytes:
    """Copy the database in one backup step (one read transaction), then take its bytes.
    (``serialize()`` of a file database needs SQLite's optional dbpage table.)"""
    copy = sqlite3.connect(":memory:")
    try:
        db.backup(copy)
        return copy.serialize()
    finally:
        copy.close()


def _named(statement: Statement, params: Sequence[Any]) -> dict[str, Any]:
    """Positional values for a statement whose parameters are all named (:a, @b, $c)."""
    assert statement.names is not None
    if len(params) != len(statement.names):
        raise sqlite3.ProgrammingError("Incorrect number of bindings supplied")
    return dict(zip(statement.names, params, strict=True))
