"""D1's API with Cloudflare's semantics: ``env.DB.prepare(sql).bind(*values).first()`` and the rest.

This module owns what D1 means: which values bind and how, result shapes, ``meta``, sessions and
bookmarks, limits and every error text. It runs SQL only through a ``SqliteDatabase``
(``bindings.d1.sqlite``), whose invariants (one request = one transaction, one thread hop)
are written in its docstring.

Where Python and JavaScript differ, Hearth keeps Python's values exact (see docs/bindings/d1.md's
section): ints bind as INTEGER (JS numbers all bind as REAL), ints past ±2**53 are refused as
Cloudflare's Python runtime refuses them (Pyodide turns them into BigInt), BLOBs come back as
``bytes`` (Cloudflare's Python runtime gives a list of ints), and REAL stays ``float``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Sequence
from typing import Any

from bindings import gates
from bindings.d1.errors import D1Error, d1_error
from bindings.d1.sql import Plan, plan
from bindings.d1.sqlite import Outcome, SqliteDatabase
from bindings.errors import JsTypeError
from bindings.jsobj import JsDict, options
from bindings.metrics import timed

# Limits Miniflare checks before running a query (tests may lower them).
D1_MAX_STATEMENT_BYTES = 100_000
D1_MAX_PARAMS = 100
D1_MAX_QUERIES_PER_BATCH = 1000
MAX_SAFE_INTEGER = 2**53 - 1  # larger Python ints reach D1 as BigInt on Cloudflare

SERVED_BY = "hearth.db"
NO_STATEMENTS = "No SQL statements detected."
ONLY_LAST_HAS_PARAMS = (
    "When executing multiple SQL statements in a single call, only the last statement can have "
    "parameters."
)
NO_TRANSACTIONS = (
    "To execute a transaction, please use the state.storage.transaction() or "
    "state.storage.transactionSync() APIs instead of the SQL BEGIN TRANSACTION or SAVEPOINT "
    "statements. The JavaScript API is safer because it will automatically roll back on "
    "exceptions, and because it interacts correctly with Durable Objects' automatic atomic "
    "write coalescing."
)
FIRST_UNCONSTRAINED = "first-unconstrained"
FIRST_PRIMARY = "first-primary"


class D1PreparedStatement:
    """A statement and its bound values; ``bind`` returns a new one, as on Cloudflare."""

    __slots__ = ("_owner", "_plan", "params", "statement")

    def __init__(self, owner: _Runner, statement: str, params: list[Any], parsed: Plan) -> None:
        self._owner = owner
        self._plan = parsed
        self.statement = statement
        self.params = params

    def bind(self, *values: Any) -> D1PreparedStatement:
        """Bind positional values (``?``, ``?NNN`` or named parameters in order of appearance)."""
        return D1PreparedStatement(
            self._owner, self.statement, [_bind_value(v) for v in values], self._plan
        )

    @timed("d1")
    async def first(self, colName: str | None = None) -> Any:
        """The first row (a JsDict), the value of column ``colName`` in it, or None."""
        outcome = await self._owner._query(self, False)
        if not outcome.rows:
            return None
        row = JsDict(zip(outcome.columns, outcome.rows[0], strict=False))  # same length
        if colName is None:
            return row
        if colName not in row:
            raise d1_error("D1_COLUMN_NOTFOUND", f"Column not found ({colName})")
        return row[colName]

    @timed("d1")
    async def run(self) -> JsDict:
        """``{success, meta, results}``; the rows are included, as Miniflare does."""
        return _result(await self._owner._query(self, True))

    @timed("d1")
    async def all(self) -> JsDict:
        """``{success, meta, results}`` with every row as a JsDict."""
        return _result(await self._owner._query(self, True))

    @timed("d1")
    async def raw(self, *args: Any, **kwargs: Any) -> list[list[Any]]:
        """Rows as lists; ``columnNames=True`` puts the column names first (duplicates kept)."""
        column_names = bool(options(args, kwargs).get("columnNames"))
        outcome = await self._owner._query(self, False)
        rows = [list(row) for row in outcome.rows]
        return [outcome.columns, *rows] if column_names else rows

    def __repr__(self) -> str:
        return f"<D1PreparedStatement {self.statement!r} params={self.params!r}>"


class _Runner:
    """Sends statements to the store; D1Database (always primary) and sessions are runners."""

    __slots__ = ("_store",)

    def __init__(self, store: SqliteDatabase) -> None:
        self._store = store

    def prepare(self, query: str) -> D1PreparedStatement:
        """A statement for ``query``; nothing runs and nothing is checked until it is awaited."""
        if not isinstance(query, str):
            raise JsTypeError(f"prepare() takes the SQL as a str, not {type(query).__name__}")
        return D1PreparedStatement(self, query, [], plan(query))

    @timed("d1")
    async def batch(self, statements: Sequence[D1PreparedStatement]) -> list[JsDict]:
        """Run every statement in one transaction: all of them, or none and a D1Error that
        names the failing statement (``... [batch statement 2 of 3: INSERT ...]``)."""
        if not isinstance(statements, (list, tuple)) or not all(
            isinstance(s, D1PreparedStatement) for s in statements
        ):
            raise JsTypeError("batch() takes a list of D1PreparedStatement")
        # Miniflare drops comment-only entries; keep each one's place for error messages.
        kept = [(i, s) for i, s in enumerate(statements) if not s._plan.blank]
        if not kept:
            raise d1_error("D1_ERROR", NO_STATEMENTS)
        if len(kept) > D1_MAX_QUERIES_PER_BATCH:
            raise d1_error("D1_ERROR", _too_many(len(kept)))
        for i, statement in kept:
            problem = _problem(statement._plan, statement.params)
            if problem:
                raise d1_error("D1_ERROR", problem + _which(statements, i))
        await gates.wait()  # from a Durable Object: its writes commit first (the output gate)
        try:
            outcomes = await self._store.request([(s._plan, s.params) for _, s in kept])
        except D1Error as exc:
            where = "" if exc._index is None else _which(statements, kept[exc._index][0])
            error = d1_error("D1_ERROR", exc.detail + where, _original(exc))
            raise error from error.__cause__
        self._note()
        return [_result(outcome) for outcome in outcomes]

    def _query(self, statement: D1PreparedStatement, counters: bool) -> Awaitable[Outcome]:
        """Check one statement and hand it to the store (no coroutine of its own: hot path)."""
        parsed = statement._plan
        if parsed.blank:
            raise d1_error("D1_ERROR", NO_STATEMENTS)
        problem = _problem(parsed, statement.params)
        if problem:
            raise d1_error("D1_ERROR", problem)
        if gates.current() is not None:  # from a Durable Object: its writes commit first
            return self._after_gate(parsed, statement.params, counters)
        return self._store.query(parsed, statement.params, counters)

    async def _after_gate(self, parsed: Plan, params: list[Any], counters: bool) -> Outcome:
        await gates.wait()
        return await self._store.query(parsed, params, counters)

    def _note(self) -> None:
        """Sessions record the bookmark each answer carries; the database ignores it."""


class D1Database(_Runner):
    """``env.DB``: ``prepare``, ``batch``, ``exec``, ``withSession``, ``dump``."""

    __slots__ = ()

    @timed("d1")
    async def exec(self, query: str) -> JsDict:
        """Run ``query`` line by line (each line one entry, several ``;`` allowed), all in one
        transaction; ``{count, duration}``. The error names the line that failed."""
        if not isinstance(query, str):
            raise JsTypeError(f"exec() takes the SQL as a str, not {type(query).__name__}")
        lines = query.strip().split("\n")
        plans = [(n, plan(line)) for n, line in enumerate(lines, 1)]
        kept = [(n, parsed) for n, parsed in plans if not parsed.blank]
        try:
            if not kept:
                raise d1_error("D1_ERROR", NO_STATEMENTS)
            if len(kept) > D1_MAX_QUERIES_PER_BATCH:
                raise d1_error("D1_ERROR", _too_many(len(kept)))
            for index, (_, parsed) in enumerate(kept):
                problem = _problem(parsed, ())
                if problem:
                    raise d1_error("D1_ERROR", problem, index=index)
            await gates.wait()  # from a Durable Object: its writes commit first
            outcomes = await self._store.request([(parsed, ()) for _, parsed in kept])
        except D1Error as exc:
            n = 1 if exc._index is None else kept[exc._index][0]
            text = f"Error in line {n}: {lines[n - 1]}: {exc.detail}"
            error = d1_error("D1_EXEC_ERROR", text, _original(exc))
            raise error from error.__cause__
        duration = sum(o.counters.duration for o in outcomes if o.counters)
        return JsDict(count=len(outcomes), duration=duration)

    def withSession(self, constraintOrBookmark: str | None = None) -> D1DatabaseSession:
        """A session: ``"first-unconstrained"`` (default), ``"first-primary"`` or a bookmark.
        Hearth has one primary, so every query already sees every earlier write."""
        if constraintOrBookmark is not None and not isinstance(constraintOrBookmark, str):
            raise d1_error("D1_SESSION_ERROR", "invalid bookmark or constraint")
        value = (constraintOrBookmark or "").strip() or FIRST_UNCONSTRAINED
        return D1DatabaseSession(self._store, value)

    @timed("d1")
    async def dump(self) -> bytes:
        """The database file as bytes: a consistent snapshot (deprecated on Cloudflare)."""
        return await self._store.dump()

    def __repr__(self) -> str:
        return f"<D1Database {self._store.path.name}>"


class D1DatabaseSession(_Runner):
    """``db.withSession(...)``: ``prepare``, ``batch`` and ``getBookmark``."""

    __slots__ = ("_bookmark",)

    def __init__(self, store: SqliteDatabase, bookmark_or_constraint: str) -> None:
        super().__init__(store)
        self._bookmark = bookmark_or_constraint

    def getBookmark(self) -> str | None:
        """The latest bookmark seen; None until a query ran when opened with a constraint."""
        if self._bookmark in (FIRST_UNCONSTRAINED, FIRST_PRIMARY):
            return None
        return self._bookmark

    async def _query(self, statement: D1PreparedStatement, counters: bool) -> Outcome:
        outcome = await super()._query(statement, counters)
        self._note()
        return outcome

    def _note(self) -> None:
        latest = self._store.bookmark()
        current = self.getBookmark()
        if current is None or current < latest:
            self._bookmark = latest


def _problem(parsed: Plan, params: Sequence[Any]) -> str | None:
    """What Cloudflare refuses about a query before (or instead of) running it."""
    if parsed.nbytes > D1_MAX_STATEMENT_BYTES:
        return (
            f"SQL statement exceeds maximum size of {D1_MAX_STATEMENT_BYTES} bytes "
            f"({parsed.nbytes} bytes)"
        )
    if len(params) > D1_MAX_PARAMS:
        return f"Query has {len(params)} bound parameters, exceeding the limit of {D1_MAX_PARAMS}"
    if parsed.early_params:
        return ONLY_LAST_HAS_PARAMS
    if parsed.transaction:
        return NO_TRANSACTIONS
    return None


def _too_many(count: int) -> str:
    return (
        f"Your query batch has {count} queries, exceeding the limit of "
        f"{D1_MAX_QUERIES_PER_BATCH} queries per batch"
    )


def _original(error: D1Error) -> BaseException | None:
    """The SQLite error under a D1Error (beneath its JsException cause), if any."""
    return error.__cause__.__cause__ if error.__cause__ is not None else None


_SPACE = re.compile(r"\s+")


def _which(statements: Sequence[D1PreparedStatement], index: int) -> str:
    """`` [batch statement 2 of 3: INSERT INTO t ...]``: where a batch failed."""
    sql = _SPACE.sub(" ", statements[index].statement).strip()
    if len(sql) > 80:
        sql = sql[:77] + "..."
    return f" [batch statement {index + 1} of {len(statements)}: {sql}]"


def _result(outcome: Outcome) -> JsDict:
    columns, rows, counters = outcome
    assert counters is not None
    duration, changes, last_row_id, changed_db, size_after, rows_read, rows_written = counters
    meta = JsDict(
        served_by=SERVED_BY,
        served_by_primary=True,
        duration=duration,
        changes=changes,
        last_row_id=last_row_id,
        changed_db=changed_db,
        size_after=size_after,
        rows_read=rows_read,
        rows_written=rows_written,
    )
    results = [JsDict(zip(columns, row, strict=False)) for row in rows]  # same length
    return JsDict(success=True, meta=meta, results=results)


def _bind_value(value: Any) -> Any:
    """A value as D1 binds it, or D1_TYPE_ERROR as Cloudflare words it."""
    kind = type(value)
    if kind is str or kind is float or value is None or kind is bytes:
        return value
    if kind is int:
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return value
        raise _type_error("bigint", value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return _bind_value(int(value))
    if isinstance(value, str):
        return str(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)  # a copy: later changes to the buffer do not reach the statement
    if isinstance(value, (list, tuple)) and all(type(b) is int and 0 <= b < 256 for b in value):
        return bytes(value)  # an array of byte values is a BLOB, as on Cloudflare
    raise _type_error("function" if callable(value) else "object", value)


def _type_error(js_type: str, value: Any) -> D1Error:
    return d1_error(
        "D1_TYPE_ERROR", f"Type '{js_type}' not supported for value '{_js_string(value)}'"
    )


def _js_string(value: Any) -> str:
    """``String(value)`` as JavaScript would print the value Pyodide hands it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "[object Object]"
    if isinstance(value, (list, tuple)):
        return ",".join("" if v is None else _js_string(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
