"""``d1 export``: a database as SQL text, in the shape wrangler's export writes.

The output starts with ``PRAGMA defer_foreign_keys=TRUE;``, then each table's ``CREATE`` and
its rows as ``INSERT`` statements, then indexes, triggers and views, one statement per line, so
``d1 execute --file`` (or wrangler's) loads it back. Tables named ``_cf_*`` or ``sqlite_*``
are internal and skipped (``sqlite_sequence`` is kept, as wrangler keeps it).
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

_BREAKS = re.compile(r"(\n|\r)")


class ExportError(Exception):
    """The database holds something the export format cannot carry."""


def dump_sql(
    db: sqlite3.Connection, tables: Iterable[str] = (), *, schema: bool = True, data: bool = True
) -> Iterator[str]:
    """Yield the statements that rebuild ``db`` (only ``tables``, when given)."""
    wanted = set(tables)
    yield "PRAGMA defer_foreign_keys=TRUE;"
    listed = db.execute(
        "SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND sql NOT NULL "
        "ORDER BY tbl_name = 'sqlite_sequence', rowid"
    ).fetchall()
    for name, sql in listed:
        if wanted and name not in wanted:
            continue
        if name == "sqlite_sequence":
            if schema:
                yield "DELETE FROM sqlite_sequence;"
        elif name.startswith("sqlite_stat"):
            if schema:
                yield "ANALYZE sqlite_schema;"
        elif sql.startswith("CREATE VIRTUAL TABLE"):
            raise ExportError(f"cannot export virtual table {name!r} (fts5 and the like)")
        elif name.startswith(("_cf_", "sqlite_")):
            continue
        elif schema:
            # SQLite's shell (which wrangler follows) adds IF NOT EXISTS to quoted names.
            quoted = sql[13:14] in ("'", '"')
            yield f"CREATE TABLE IF NOT EXISTS {sql[13:]};" if quoted else f"{sql};"
        if data:
            yield from _rows(db, name)
    if schema:
        rest = db.execute(
            "SELECT tbl_name, sql FROM sqlite_schema WHERE sql NOT NULL "
            "AND type IN ('index', 'trigger', 'view') ORDER BY type COLLATE NOCASE"
        )
        for table, sql in rest:
            if not wanted or table in wanted:
                yield f"{sql};"


def _rows(db: sqlite3.Connection, table: str) -> Iterator[str]:
    name = quote_name(table)
    columns = [row[1] for row in db.execute(f"PRAGMA table_info({name})")]
    # Names come from the database's own schema, each quoted.
    select = f"SELECT {', '.join(map(quote_name, columns))} FROM {name}"  # noqa: S608
    for row in db.execute(select):
        yield f"INSERT INTO {name} VALUES({','.join(map(literal, row))});"


def quote_name(name: str) -> str:
    """An SQL identifier, double-quoted."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: Any) -> str:
    """An SQL literal for a value read from SQLite, kept on one line."""
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isinf(value):
            return "9e999" if value > 0 else "-9e999"
        return repr(value)
    if isinstance(value, bytes):
        return f"X'{value.hex()}'"
    text = str(value)
    if "\n" not in text and "\r" not in text:
        return _quoted(text)
    # Line breaks become char(10)/char(13), so every statement stays on one line.
    pieces = [
        f"char({ord(part)})" if part in ("\n", "\r") else _quoted(part)
        for part in _BREAKS.split(text)
        if part
    ]
    return "(" + "||".join(pieces) + ")"


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
