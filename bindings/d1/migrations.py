"""D1 migrations the way wrangler keeps them, so an existing project's folder applies unchanged.

* Files: ``<migrations_dir>/NNNN_<name>.sql`` beside the config (default ``migrations/``);
  every ``.sql`` file there is a migration, ordered by its number.
* Table: ``d1_migrations`` (or ``migrations_table``) with wrangler's columns ``id``, ``name``
  (the file name) and ``applied_at``; a file whose name is not in it is pending.
* Apply: each pending file, in order, runs as one ``batch()`` (one transaction) together with
  the row recording it. A failing migration is rolled back, stops the run and is named in the
  error; the ones before it stay applied.

Two deliberate differences from wrangler, neither visible in the table: the next number is
the highest existing one plus one (wrangler counts files, which collides after a gap), and the
recording row is written first in the transaction, so two processes applying at once cannot
both run a migration: the second one's insert fails, it sees the row and skips the file.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bindings.d1.errors import D1Error

if TYPE_CHECKING:
    from bindings.d1.database import D1Database

DEFAULT_DIR = "migrations"
DEFAULT_TABLE = "d1_migrations"
TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"(\d+)")


class MigrationError(Exception):
    """A migration failed; the ones before it stay applied."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"Migration {name} failed: {message}")
        self.name = name


def files(directory: Path) -> list[str]:
    """The migration files in ``directory``, ordered by number (then name)."""
    if not directory.is_dir():
        return []
    names = [p.name for p in directory.iterdir() if p.name.endswith(".sql") and p.is_file()]
    return sorted(names, key=lambda n: (_number(n) is None, _number(n) or 0, n))


def _number(name: str) -> int | None:
    m = _NUMBER.match(name.split("_", 1)[0])
    return int(m.group(1)) if m else None


def create(directory: Path, message: str, now: datetime | None = None) -> Path:
    """Write ``NNNN_<message>.sql`` (spaces become ``_``) with wrangler's header comment."""
    name = message.replace(" ", "_")
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"not a usable migration name: {message!r}")
    directory.mkdir(parents=True, exist_ok=True)
    numbers = [n for n in map(_number, files(directory)) if n is not None]
    number = f"{max(numbers, default=-1) + 1:04d}"
    when = (now or datetime.now(UTC)).astimezone(UTC)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    path = directory / f"{number}_{name}.sql"
    path.write_text(f"-- Migration number: {number} \t {stamp}\n", encoding="utf-8")
    return path


async def applied(db: D1Database, table: str = DEFAULT_TABLE) -> list[str]:
    """Names of the applied migrations, in order (creates wrangler's table when missing)."""
    _check_table(table)
    await db.prepare(
        f'CREATE TABLE IF NOT EXISTS "{table}"(\n'
        "\t\tid         INTEGER PRIMARY KEY AUTOINCREMENT,\n"
        "\t\tname       TEXT UNIQUE,\n"
        "\t\tapplied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL\n);"
    ).run()
    # The table name is checked against TABLE_NAME above (and in the config).
    rows = await db.prepare(f'SELECT name FROM "{table}" ORDER BY id').raw()  # noqa: S608
    return [row[0] for row in rows]


async def pending(db: D1Database, directory: Path, table: str = DEFAULT_TABLE) -> list[str]:
    """Migration files not recorded in ``table``, in the order they would apply."""
    done = set(await applied(db, table))
    return [name for name in files(directory) if name not in done]


async def apply(
    db: D1Database,
    directory: Path,
    table: str = DEFAULT_TABLE,
    on_applied: Callable[[str], None] | None = None,
) -> list[str]:
    """Apply every pending migration in order; return their names or raise MigrationError."""
    from bindings.d1.sql import split

    _check_table(table)
    done: list[str] = []
    for name in await pending(db, directory, table):
        text = (directory / name).read_text(encoding="utf-8")
        record = db.prepare(f'INSERT INTO "{table}" (name) VALUES (?)').bind(name)  # noqa: S608
        try:
            await db.batch([record, *(db.prepare(sql) for sql in split(text))])
        except D1Error as exc:
            if name in await applied(db, table):
                continue  # another process applied it meanwhile
            raise MigrationError(name, str(exc)) from exc
        done.append(name)
        if on_applied is not None:
            on_applied(name)
    return done


def _check_table(table: str) -> None:
    if not TABLE_NAME.fullmatch(table):
        raise ValueError(f"migrations_table must be a plain SQL name, not {table!r}")
