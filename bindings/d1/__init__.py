"""D1 databases: each ``[[d1_databases]]`` entry becomes ``env.<binding>``, a ``D1Database``.

One SQLite file per database id under ``<state>/d1/``, opened once per process and shared by
every worker that binds the same id. When the ``dev`` server starts, the plugin applies pending
migrations while opening, as ``make dev`` promises (``wrangler dev`` leaves that to you); a
command that opens plugins without loading the workers migrates nothing.

Every server imports this module to read its config, so the engine (``database``, ``sqlite``,
aiosqlite) is imported only when a database is opened.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from bindings.d1 import migrations
from bindings.d1.errors import D1Error
from bindings.errors import ConfigError
from bindings.plugin import BindingDecl, BindingPlugin, ParseContext

if TYPE_CHECKING:
    from bindings.config import WorkerConfig
    from bindings.d1.database import D1Database, D1DatabaseSession, D1PreparedStatement
    from bindings.d1.sqlite import SqliteDatabase
    from bindings.runtime import Runtime, Worker

__all__ = [
    "D1Database",
    "D1DatabaseSession",
    "D1Decl",
    "D1Error",
    "D1Plugin",
    "D1PreparedStatement",
    "Settings",
    "database_path",
]


def __getattr__(name: str) -> Any:
    if name in ("D1Database", "D1DatabaseSession", "D1PreparedStatement"):
        from bindings.d1 import database

        return getattr(database, name)
    raise AttributeError(name)


log = logging.getLogger("hearth.d1")

# wrangler's keys of a d1_databases entry; the ones Hearth has no use for are accepted, ignored.
_KEYS = frozenset(
    {"binding", "database_name", "database_id", "preview_database_id", "migrations_dir",
     "migrations_table", "database_internal_env", "remote", "experimental_remote"}
)  # fmt: skip
_SYNCHRONOUS = ("NORMAL", "FULL", "EXTRA")


@dataclass(frozen=True, kw_only=True)
class D1Decl(BindingDecl):
    """One d1_databases entry. ``database_id`` is the local identity: ``preview_database_id``
    when set (as ``wrangler dev`` uses it), else ``database_id``, else ``database_name``."""

    database_name: str
    database_id: str
    migrations_dir: Path
    migrations_table: str


@dataclass(frozen=True)
class Settings:
    """``[hearth.d1]``: durability and lock waiting, the same for every database."""

    synchronous: str = "NORMAL"  # NORMAL | FULL | EXTRA
    busy_timeout_ms: int = 5000


def database_path(state_dir: Path, database_id: str) -> Path:
    """The SQLite file of a database id: ids may hold ``/`` or spaces, so they are %-encoded."""
    name = quote(database_id, safe="")
    if len(name) > 120:  # keep within file name limits, still unique
        import hashlib

        name = name[:80] + "-" + hashlib.sha256(database_id.encode()).hexdigest()[:24]
    return state_dir / "d1" / f"{name}.sqlite"


def settings(hearth: Mapping[str, Any], file: object = "") -> Settings:
    """``[hearth.d1]``: ``synchronous`` (NORMAL, FULL or EXTRA) and ``busy_timeout_ms``."""
    table = hearth.get("d1", {})
    if not isinstance(table, Mapping):
        raise ConfigError(file, "hearth.d1", "must be a table")
    unknown = set(table) - {"synchronous", "busy_timeout_ms"}
    if unknown:
        raise ConfigError(file, f"hearth.d1.{sorted(unknown)[0]}", "unknown key")
    synchronous = table.get("synchronous", "NORMAL")
    if not isinstance(synchronous, str) or synchronous.upper() not in _SYNCHRONOUS:
        raise ConfigError(
            file, "hearth.d1.synchronous", f"must be one of {', '.join(_SYNCHRONOUS)}"
        )
    timeout = table.get("busy_timeout_ms", 5000)
    if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout < 0:
        raise ConfigError(file, "hearth.d1.busy_timeout_ms", "must be a whole number >= 0")
    return Settings(synchronous=synchronous.upper(), busy_timeout_ms=timeout)


class D1Plugin(BindingPlugin):
    kind = "d1"
    sections = ("d1_databases",)

    @classmethod
    def parse(cls, table: Mapping[str, Any], ctx: ParseContext) -> list[BindingDecl]:
        settings(ctx.hearth, ctx.file)
        decls: list[BindingDecl] = []
        for entry, key in ctx.tables(table.get("d1_databases"), "d1_databases"):
            for field in entry:
                if field not in _KEYS:
                    raise ctx.error(f"{key}.{field}", "unknown key of a d1_databases entry")
            binding = ctx.string(entry, "binding", key)
            name = entry.get("database_name")
            if name is not None:
                name = ctx.string(entry, "database_name", key)
            ids = [ctx.string(entry, f, key) for f in ("preview_database_id", "database_id")
                   if entry.get(f) is not None]  # fmt: skip
            if not ids and name is None:
                raise ctx.error(f"{key}.database_id", "is required")
            table_name = ctx.string(
                entry, "migrations_table", key, default=migrations.DEFAULT_TABLE
            )
            if not migrations.TABLE_NAME.fullmatch(table_name):
                raise ctx.error(f"{key}.migrations_table", "must be a plain SQL name")
            directory = ctx.string(entry, "migrations_dir", key, default=migrations.DEFAULT_DIR)
            decls.append(
                D1Decl(
                    name=binding,
                    key=key,
                    database_name=name or ids[-1],
                    database_id=ids[0] if ids else str(name),
                    migrations_dir=(ctx.base_dir / directory).resolve(),
                    migrations_table=table_name,
                )
            )
        return decls

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        self._databases: dict[str, SqliteDatabase] = {}

    def _decls(self) -> dict[str, D1Decl]:
        """The first declaration of each database id, across every worker."""
        first: dict[str, D1Decl] = {}
        for worker in self.runtime.config.workers:
            for _, decl in worker.bindings:
                if isinstance(decl, D1Decl):
                    first.setdefault(decl.database_id, decl)
        return first

    def check(self) -> None:
        seen: dict[str, tuple[WorkerConfig, D1Decl]] = {}
        for worker in self.runtime.config.workers:
            for _, decl in worker.bindings:
                if not isinstance(decl, D1Decl):
                    continue
                other = seen.setdefault(decl.database_id, (worker, decl))[1]
                if (other.migrations_dir, other.migrations_table) != (
                    decl.migrations_dir,
                    decl.migrations_table,
                ):
                    raise worker.error(
                        decl.key,
                        f"database {decl.database_id!r} is also bound at {other.key} with "
                        "other migrations_dir/migrations_table settings",
                    )

    async def open(self) -> None:
        from bindings.d1.sqlite import SqliteDatabase

        config = self.runtime.config
        options = settings(config.hearth, config.file)
        for database_id in self._decls():
            if database_id in self._databases:
                continue
            path = database_path(self.runtime.state_dir, database_id)
            database = await SqliteDatabase.open(path, options, self.runtime.clock)
            self._databases[database_id] = database
        if self.runtime.mode == "dev" and self.runtime.workers:  # the dev server starting
            await self.migrate()

    async def migrate(self, report: Callable[[str], None] | None = None) -> None:
        """Apply every database's pending migrations (dev server start, operator scripts)."""
        from bindings.d1.database import D1Database

        for database_id, decl in self._decls().items():
            await _migrate(D1Database(self._databases[database_id]), decl, report)

    def bind(self, decl: BindingDecl, worker: Worker) -> D1Database:
        from bindings.d1.database import D1Database

        assert isinstance(decl, D1Decl)
        return D1Database(self._databases[decl.database_id])

    async def close(self) -> None:
        databases, self._databases = self._databases, {}
        for database in databases.values():
            await database.close()


async def _migrate(
    db: D1Database, decl: D1Decl, report: Callable[[str], None] | None = None
) -> None:
    """Apply pending migrations, reporting each (to the log by default); a failure raises."""
    if not migrations.files(decl.migrations_dir):
        return

    def applied(name: str) -> None:
        if report is not None:
            report(f"{decl.database_name}: applied migration {name}")
        else:
            log.info("D1 %s: applied migration %s", decl.database_name, name)

    try:
        await migrations.apply(db, decl.migrations_dir, decl.migrations_table, applied)
    except migrations.MigrationError as exc:
        raise ConfigError(decl.migrations_dir, decl.key, str(exc)) from exc
