"""``python -m bindings d1 ...``: wrangler's D1 verbs, on the local state.

``<DB>`` is a binding name or a ``database_name`` from the config, as wrangler accepts::

    d1 migrations create <DB> <name>     d1 migrations list <DB>     d1 migrations apply <DB>
    d1 execute <DB> --command "SQL" | --file x.sql [--json]
    d1 export <DB> [--output file.sql] [--table T ...] [--no-schema] [--no-data]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bindings.cli import run, state_dir
from bindings.config import Config, load
from bindings.d1 import D1Decl, database_path, migrations, settings
from bindings.d1.database import D1Database
from bindings.d1.errors import D1Error
from bindings.d1.export import ExportError, dump_sql
from bindings.d1.sql import split
from bindings.d1.sqlite import SqliteDatabase
from bindings.errors import ConfigError

EXIT_FAILED = 1


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add ``d1`` and its verbs to the command line."""
    shared = argparse.ArgumentParser(add_help=False, parents=[common])
    shared.add_argument("database", metavar="DB", help="binding or database_name")
    shared.add_argument("--local", action="store_true", help="accepted; Hearth is always local")
    d1 = sub.add_parser("d1", help="D1 databases: migrations, execute, export")
    verbs = d1.add_subparsers(dest="d1_command", required=True)

    mig = verbs.add_parser("migrations", help="create, list and apply migrations")
    mig_verbs = mig.add_subparsers(dest="migrations_command", required=True)
    create = mig_verbs.add_parser("create", parents=[shared], help="add an empty migration")
    create.add_argument("message", help="what the migration does (its file name)")
    create.set_defaults(func=_sync(cmd_create))
    listing = mig_verbs.add_parser("list", parents=[shared], help="show pending migrations")
    listing.set_defaults(func=_async(cmd_list))
    apply = mig_verbs.add_parser("apply", parents=[shared], help="apply pending migrations")
    apply.add_argument("--yes", "-y", action="store_true", help="accepted; Hearth never asks")
    apply.set_defaults(func=_async(cmd_apply))

    execute = verbs.add_parser("execute", parents=[shared], help="run SQL (one transaction)")
    what = execute.add_mutually_exclusive_group(required=True)
    what.add_argument("--command", help="SQL, several statements separated by ';'")
    what.add_argument("--file", type=Path, help="a .sql file")
    execute.add_argument("--json", action="store_true", help="print the results as JSON")
    execute.add_argument("--yes", "-y", action="store_true", help="accepted; Hearth never asks")
    execute.set_defaults(func=_async(cmd_execute))

    export = verbs.add_parser("export", parents=[shared], help="write the database as SQL")
    export.add_argument("--output", type=Path, help="file to write (default: standard output)")
    export.add_argument("--table", action="append", default=[], help="only this table")
    export.add_argument("--no-schema", action="store_true", help="rows only")
    export.add_argument("--no-data", action="store_true", help="schema only")
    export.set_defaults(func=_async(cmd_export))


def find(config: Config, wanted: str) -> D1Decl:
    """The database a command names, by binding or database_name (or id), in any worker."""
    found: dict[str, D1Decl] = {}
    for worker in config.workers:
        for _, decl in worker.bindings:
            if isinstance(decl, D1Decl) and wanted in (
                decl.name,
                decl.database_name,
                decl.database_id,
            ):
                found.setdefault(decl.database_id, decl)
    if not found:
        raise ConfigError(config.file, "", f"no D1 database with the name or binding {wanted!r}")
    if len(found) > 1:
        ids = ", ".join(sorted(found))
        raise ConfigError(config.file, "", f"{wanted!r} names several D1 databases: {ids}")
    return next(iter(found.values()))


def _sync(
    handler: Callable[[argparse.Namespace, Config, D1Decl], int],
) -> Callable[[argparse.Namespace], int]:
    def func(args: argparse.Namespace) -> int:
        config = load(args.config, args.env)
        return int(handler(args, config, find(config, args.database)))

    return func


def _async(
    handler: Callable[[argparse.Namespace, SqliteDatabase, D1Decl], Awaitable[int]],
) -> Callable[[argparse.Namespace], int]:
    async def main(args: argparse.Namespace) -> int:
        config = load(args.config, args.env)
        decl = find(config, args.database)
        path = database_path(state_dir(args, config), decl.database_id)
        store = await SqliteDatabase.open(path, settings(config.hearth, config.file))
        try:
            return await handler(args, store, decl)
        except (D1Error, ExportError, migrations.MigrationError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_FAILED
        finally:
            await store.close()

    return lambda args: run(main(args))


def cmd_create(args: argparse.Namespace, config: Config, decl: D1Decl) -> int:
    try:
        path = migrations.create(decl.migrations_dir, args.message)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"Created migration {path.name}: {path}")
    return 0


async def cmd_list(args: argparse.Namespace, store: SqliteDatabase, decl: D1Decl) -> int:
    await _show_pending(D1Database(store), decl)
    return 0


async def cmd_apply(args: argparse.Namespace, store: SqliteDatabase, decl: D1Decl) -> int:
    db = D1Database(store)
    if await _show_pending(db, decl):
        await migrations.apply(
            db, decl.migrations_dir, decl.migrations_table, lambda n: print(f"applied {n}")
        )
    return 0


async def _show_pending(db: D1Database, decl: D1Decl) -> list[str]:
    if not decl.migrations_dir.is_dir():
        raise ConfigError(decl.migrations_dir, "", "no migrations folder (set migrations_dir)")
    todo = await migrations.pending(db, decl.migrations_dir, decl.migrations_table)
    if not todo:
        print("No migrations to apply.")
    else:
        print("Migrations to be applied:")
        for name in todo:
            print(f"  {name}")
    return todo


async def cmd_execute(args: argparse.Namespace, store: SqliteDatabase, decl: D1Decl) -> int:
    db = D1Database(store)
    if args.file is not None:
        raw = args.file.read_bytes()
        if raw.startswith(b"SQLite format 3"):
            print(f"error: {args.file} is a SQLite database file, not SQL text", file=sys.stderr)
            return EXIT_FAILED
        sql = raw.decode("utf-8")
    else:
        sql = args.command
    results = await db.batch([db.prepare(s) for s in split(sql)] or [db.prepare(sql)])
    shown = [
        {"results": r.results, "success": r.success, "meta": {"duration": r.meta.duration}}
        for r in results
    ]
    if args.json:
        print(json.dumps(shown, indent=2, default=_jsonable))
        return 0
    for result in shown:
        if result["results"]:
            _table(result["results"])
    duration = sum(r["meta"]["duration"] for r in shown)
    print(f"Executed {len(shown)} command{'s' * (len(shown) != 1)} in {duration:.2f}ms")
    return 0


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return list(value)  # D1's wire form of a BLOB
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _table(rows: list[dict[str, Any]]) -> None:
    header = list(rows[0])
    cells = [header, *([_cell(row.get(c)) for c in header] for row in rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    for n, line in enumerate(cells):
        print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def _cell(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bytes):
        return f"[{', '.join(map(str, value))}]"
    return str(value)


async def cmd_export(args: argparse.Namespace, store: SqliteDatabase, decl: D1Decl) -> int:
    def dump(connection: Any) -> list[str]:
        return list(
            dump_sql(connection, args.table, schema=not args.no_schema, data=not args.no_data)
        )

    lines = await store.call(dump)
    text = "\n".join(lines) + "\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
        print(f"Exported {decl.database_name} to {args.output}")
    return 0
