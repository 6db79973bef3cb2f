"""``ctx.storage.sql``: synchronous SQL on the object's own database, with workerd's rules.

``exec(query, *bindings)`` runs at once, inside the object's implicit transaction, and returns a
cursor over the rows (INTEGER comes back as int, REAL as float, TEXT as str, BLOB as bytes,
NULL as None; rows are dicts with attribute access). Several ``;``-separated statements run in
order and the cursor holds the last one's rows. What workerd forbids is refused here too, by
the same rules: transaction statements, names starting ``_cf_`` (the KV API's hidden tables),
pragmas and functions outside workerd's allowlists, ATTACH, temporary tables and virtual tables
other than FTS5 and R*Tree.

``rowsRead`` counts the rows returned (SQLite does not report rows scanned through Python's
driver) and ``rowsWritten`` the rows changed, triggers included.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from bindings.durable_objects.errors import SqlError
from bindings.errors import JsTypeError
from bindings.jsobj import JsDict

if TYPE_CHECKING:
    from bindings.durable_objects.storage import StorageOwner

TRANSACTION_FORBIDDEN = (
    "To execute a transaction, please use the state.storage.transaction() or "
    "state.storage.transactionSync() APIs instead of the SQL BEGIN TRANSACTION or SAVEPOINT "
    "statements. The JavaScript API is safer because it will automatically roll back on "
    "exceptions, and because it interacts correctly with Durable Objects' automatic atomic "
    "write coalescing."
)
PARAMETERS_IN_LAST_ONLY = (
    "When executing multiple SQL statements in a single call, only the last statement can have "
    "parameters."
)

# workerd's allowlisted SQL functions (core, date, aggregate, window, math, JSON, FTS5, R*Tree,
# and the helpers ALTER TABLE uses internally).
ALLOWED_FUNCTIONS = frozenset(
    [
        "abs",
        "changes",
        "char",
        "coalesce",
        "concat",
        "concat_ws",
        "format",
        "glob",
        "hex",
        "ifnull",
        "iif",
        "instr",
        "last_insert_rowid",
        "length",
        "like",
        "likelihood",
        "likely",
        "lower",
        "ltrim",
        "max_scalar",
        "min_scalar",
        "nullif",
        "octet_length",
        "printf",
        "quote",
        "random",
        "randomblob",
        "replace",
        "round",
        "rtrim",
        "sign",
        "soundex",
        "substr",
        "substring",
        "total_changes",
        "trim",
        "typeof",
        "unhex",
        "unicode",
        "unlikely",
        "upper",
        "zeroblob",
        "date",
        "time",
        "datetime",
        "julianday",
        "unixepoch",
        "strftime",
        "timediff",
        "current_date",
        "current_time",
        "current_timestamp",
        "avg",
        "count",
        "group_concat",
        "max",
        "min",
        "string_agg",
        "sum",
        "total",
        "row_number",
        "rank",
        "dense_rank",
        "percent_rank",
        "cume_dist",
        "ntile",
        "lag",
        "lead",
        "first_value",
        "last_value",
        "nth_value",
        "acos",
        "acosh",
        "asin",
        "asinh",
        "atan",
        "atan2",
        "atanh",
        "ceil",
        "ceiling",
        "cos",
        "cosh",
        "degrees",
        "exp",
        "floor",
        "ln",
        "log",
        "log10",
        "log2",
        "mod",
        "pi",
        "pow",
        "power",
        "radians",
        "sin",
        "sinh",
        "sqrt",
        "tan",
        "tanh",
        "trunc",
        "json",
        "jsonb",
        "json_array",
        "jsonb_array",
        "json_array_length",
        "json_extract",
        "jsonb_extract",
        "->",
        "->>",
        "json_insert",
        "jsonb_insert",
        "json_object",
        "jsonb_object",
        "json_patch",
        "jsonb_patch",
        "json_remove",
        "jsonb_remove",
        "json_replace",
        "jsonb_replace",
        "json_set",
        "jsonb_set",
        "json_type",
        "json_valid",
        "json_quote",
        "json_group_array",
        "jsonb_group_array",
        "json_group_object",
        "jsonb_group_object",
        "json_each",
        "json_tree",
        "match",
        "highlight",
        "bm25",
        "snippet",
        "rtreecheck",
        "sqlite_rename_column",
        "sqlite_rename_table",
        "sqlite_rename_test",
        "sqlite_drop_column",
        "sqlite_rename_quotefix",
    ]
)

# Pragmas workerd allows, by the argument they accept.
_PRAGMA_NO_ARG = frozenset({"data_version", "page_size"})
_PRAGMA_BOOLEAN = frozenset(
    {
        "case_sensitive_like", "foreign_keys", "defer_foreign_keys", "ignore_check_constraints",
        "legacy_alter_table", "recursive_triggers", "reverse_unordered_selects",
    }
)  # fmt: skip
_PRAGMA_NAME = frozenset({"foreign_key_list", "index_info", "index_list", "index_xinfo"})
_BOOLEANS = ("true", "false", "yes", "no", "on", "off", "1", "0")
_VTABLE_MODULES = frozenset({"fts5", "fts5vocab", "rtree", "rtree_i32"})

_ALLOWED_ACTIONS = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_RECURSIVE, sqlite3.SQLITE_ANALYZE}
)
_NAMED_ACTIONS = frozenset(
    {
        sqlite3.SQLITE_CREATE_TABLE, sqlite3.SQLITE_DELETE, sqlite3.SQLITE_DROP_TABLE,
        sqlite3.SQLITE_INSERT, sqlite3.SQLITE_CREATE_VIEW, sqlite3.SQLITE_DROP_VIEW,
        sqlite3.SQLITE_REINDEX, sqlite3.SQLITE_READ, sqlite3.SQLITE_UPDATE,
    }
)  # fmt: skip
_TWO_NAME_ACTIONS = frozenset(
    {
        sqlite3.SQLITE_CREATE_INDEX, sqlite3.SQLITE_DROP_INDEX, sqlite3.SQLITE_CREATE_TRIGGER,
        sqlite3.SQLITE_DROP_TRIGGER,
    }
)  # fmt: skip


def allowed_name(name: str | None) -> bool:
    """Names starting ``_cf_`` (any case) belong to the runtime."""
    return name is None or name[:4].lower() != "_cf_"


def authorize(action: int, arg1: str | None, arg2: str | None, db: str | None) -> str | None:
    """None when user SQL may do ``action``; otherwise why not ("transaction" or "denied")."""
    if action == sqlite3.SQLITE_ALTER_TABLE:
        arg1, db = arg2, arg1  # SQLite passes (database, table) for this one
    if action in (sqlite3.SQLITE_TRANSACTION, sqlite3.SQLITE_SAVEPOINT):
        return "transaction"
    if db == "temp":
        ok = action in (sqlite3.SQLITE_READ, sqlite3.SQLITE_UPDATE) and allowed_name(arg1)
        return None if ok else "denied"
    if db not in (None, "main"):
        return "denied"
    if action in _ALLOWED_ACTIONS:
        return None
    if action in _NAMED_ACTIONS or action == sqlite3.SQLITE_ALTER_TABLE:
        return None if allowed_name(arg1) else "denied"
    if action in _TWO_NAME_ACTIONS:
        return None if allowed_name(arg1) and allowed_name(arg2) else "denied"
    if action == sqlite3.SQLITE_FUNCTION:
        return None if (arg2 or "").lower() in ALLOWED_FUNCTIONS else "denied"
    if action == sqlite3.SQLITE_PRAGMA:
        return None if _pragma_allowed((arg1 or "").lower(), arg2) else "denied"
    if action in (sqlite3.SQLITE_CREATE_VTABLE, sqlite3.SQLITE_DROP_VTABLE):
        ok = (arg2 or "").lower() in _VTABLE_MODULES and allowed_name(arg1)
        return None if ok else "denied"
    return "denied"  # ATTACH, DETACH, temporary objects, anything new


def _pragma_allowed(name: str, arg: str | None) -> bool:
    if name == "table_list":
        return True
    if name in ("table_info", "table_xinfo"):
        return arg is not None and allowed_name(arg)
    if name in _PRAGMA_NO_ARG:
        return arg is None
    if name in _PRAGMA_BOOLEAN:
        return arg is None or arg.strip("'\"").lower() in _BOOLEANS
    if name in _PRAGMA_NAME:
        return arg is not None and allowed_name(arg)
    if name == "foreign_key_check":
        return allowed_name(arg)
    if name == "quick_check":
        return arg is None or arg.isdigit() or allowed_name(arg)
    if name == "optimize":
        return arg is None or arg.lstrip("-").isdigit()
    return False


class SqlStorage:
    """``ctx.storage.sql``: ``exec`` and ``databaseSize``."""

    def __init__(self, owner: StorageOwner) -> None:
        self._owner = owner

    def exec(self, query: str, *bindings: Any) -> SqlStorageCursor:
        """Run ``query`` with ``bindings`` for its ``?`` placeholders; returns a cursor."""
        if not isinstance(query, str):
            raise JsTypeError("exec() takes an SQL string")
        params = [_binding(b) for b in bindings]
        db = self._owner.database()
        written = db.conn.total_changes
        try:
            try:
                cursor = db.execute_user(query, params)
            except sqlite3.ProgrammingError as exc:
                if "one statement at a time" not in str(exc):
                    raise
                cursor = self._exec_script(query, params)
            rows = cursor.fetchall()
        except sqlite3.Error as exc:
            raise _translate(exc, db.denied) from None
        names = [d[0] for d in cursor.description] if cursor.description else []
        return SqlStorageCursor(names, rows, db.conn.total_changes - written)

    def _exec_script(self, query: str, params: list[Any]) -> sqlite3.Cursor:
        statements = split_statements(query)
        db = self._owner.database()
        for statement in statements[:-1]:
            try:
                db.execute_user(statement)
            except sqlite3.ProgrammingError as exc:
                if "Incorrect number of bindings" in str(exc):
                    raise SqlError(PARAMETERS_IN_LAST_ONLY) from None
                raise
        return db.execute_user(statements[-1] if statements else "", params)

    @property
    def databaseSize(self) -> int:
        """The database's size in bytes (a fresh object's is 4096)."""
        return self._owner.database().size


class SqlStorageCursor:
    """The rows of one ``exec``: iterate it for dicts, or ``toArray()``, ``one()``, ``raw()``;
    ``columnNames``, ``rowsRead``, ``rowsWritten``. Iterating consumes it, as in workerd."""

    def __init__(self, names: list[str], rows: list[tuple[Any, ...]], written: int) -> None:
        self.columnNames = names
        self._rows = rows
        self._at = 0
        self.rowsRead = len(rows)
        self.rowsWritten = written

    def _row(self, values: tuple[Any, ...]) -> JsDict:
        return JsDict(zip(self.columnNames, values, strict=True))

    def __iter__(self) -> Iterator[JsDict]:
        return self

    def __next__(self) -> JsDict:
        if self._at >= len(self._rows):
            raise StopIteration
        self._at += 1
        return self._row(self._rows[self._at - 1])

    def next(self) -> JsDict:
        """JS iterator protocol: ``{done, value}``."""
        try:
            return JsDict(done=False, value=next(self))
        except StopIteration:
            return JsDict(done=True, value=None)

    def toArray(self) -> list[JsDict]:
        rest = [self._row(r) for r in self._rows[self._at :]]
        self._at = len(self._rows)
        return rest

    def one(self) -> JsDict:
        rest = self.toArray()
        if not rest:
            raise SqlError("Expected exactly one result from SQL query, but got no results.")
        if len(rest) > 1:
            raise SqlError("Expected exactly one result from SQL query, but got multiple results.")
        return rest[0]

    def raw(self) -> Iterator[list[Any]]:
        """The remaining rows as lists of values."""
        rows, self._at = self._rows[self._at :], len(self._rows)
        return (list(r) for r in rows)


def split_statements(script: str) -> list[str]:
    """Split at the ``;`` that end complete statements (not inside strings, comments or
    trigger bodies), dropping those that hold only comments."""
    out, start = [], 0
    for i, char in enumerate(script):
        if char == ";" and sqlite3.complete_statement(script[start : i + 1]):
            statement = script[start : i + 1].strip()
            if _has_code(statement):
                out.append(statement)
            start = i + 1
    tail = script[start:].strip()
    if _has_code(tail):
        out.append(tail)
    return out


def _has_code(text: str) -> bool:
    """Whether ``text`` has anything besides whitespace, comments and semicolons."""
    i, n = 0, len(text)
    while i < n:
        if text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif text[i].isspace() or text[i] == ";":
            i += 1
        else:
            return True
    return False


def _binding(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise JsTypeError(f"Unsupported type of SQL binding: {type(value).__name__}")


def _translate(exc: sqlite3.Error, denied: str | None) -> SqlError:
    if denied == "transaction":
        return SqlError(TRANSACTION_FORBIDDEN)
    code = getattr(exc, "sqlite_errorname", None)
    return SqlError(f"{exc}: {code}" if code else str(exc))
