"""Migrations as wrangler keeps them: files, numbering, the d1_migrations table, failures."""

import asyncio
import re
from datetime import UTC, datetime

import pytest

from bindings.d1 import migrations
from bindings.d1.database import D1Database
from bindings.d1.migrations import MigrationError
from bindings.d1.sqlite import SqliteDatabase

# The table exactly as wrangler creates it.
WRANGLER_TABLE = """CREATE TABLE IF NOT EXISTS d1_migrations(
\t\tid         INTEGER PRIMARY KEY AUTOINCREMENT,
\t\tname       TEXT UNIQUE,
\t\tapplied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
);"""


def write(folder, files):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def test_create_numbers_files_like_wrangler(tmp_path):
    folder = tmp_path / "migrations"
    first = migrations.create(
        folder, "create users", now=datetime(2026, 1, 2, 3, 4, 5, 678000, UTC)
    )
    assert first.name == "0000_create_users.sql"
    assert first.read_text() == "-- Migration number: 0000 \t 2026-01-02T03:04:05.678Z\n"
    assert migrations.create(folder, "next").name == "0001_next.sql"
    (folder / "0007_gap.sql").write_text("")
    assert migrations.create(folder, "after gap").name == "0008_after_gap.sql"
    assert re.fullmatch(
        r"-- Migration number: 0008 \t \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\n",
        (folder / "0008_after_gap.sql").read_text(),
    )
    for bad in ["../escape", "a/b", ".hidden", ""]:
        with pytest.raises(ValueError):
            migrations.create(folder, bad)


def test_files_are_the_sql_files_in_number_order(tmp_path):
    folder = write(
        tmp_path / "m",
        {"0010_b.sql": "", "0002_b.sql": "", "0002_a.sql": "", "notes.txt": "", "zz.sql": ""},
    )
    assert migrations.files(folder) == ["0002_a.sql", "0002_b.sql", "0010_b.sql", "zz.sql"]
    assert migrations.files(tmp_path / "missing") == []


async def test_apply_runs_pending_files_in_order_and_records_them(db, tmp_path):
    folder = write(
        tmp_path / "migrations",
        {
            "0000_users.sql": "-- Migration number: 0000\n"
            "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT);\n",
            "0001_email_index.sql": "CREATE UNIQUE INDEX users_email ON users (email);\n"
            "INSERT INTO users (email) VALUES ('a@example.com');",
            "0002_empty.sql": "-- nothing to do\n",
        },
    )
    seen = []
    assert await migrations.apply(db, folder, on_applied=seen.append) == seen == [
        "0000_users.sql", "0001_email_index.sql", "0002_empty.sql",
    ]  # fmt: skip
    columns = await db.prepare("PRAGMA table_info(d1_migrations)").all()
    assert [(c.name, c.type, c.pk) for c in columns.results] == [
        ("id", "INTEGER", 1), ("name", "TEXT", 0), ("applied_at", "TIMESTAMP", 0),
    ]  # fmt: skip
    rows = await db.prepare("SELECT id, name, applied_at FROM d1_migrations").raw()
    assert [r[:2] for r in rows] == [[1, "0000_users.sql"], [2, "0001_email_index.sql"],
                                     [3, "0002_empty.sql"]]  # fmt: skip
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", r[2]) for r in rows)
    assert await migrations.pending(db, folder) == []
    assert await migrations.apply(db, folder) == []
    write(folder, {"0003_more.sql": "ALTER TABLE users ADD COLUMN name TEXT;"})
    assert await migrations.pending(db, folder) == ["0003_more.sql"]
    assert await migrations.apply(db, folder) == ["0003_more.sql"]


async def test_a_wrangler_database_carries_on_where_wrangler_left_it(db, tmp_path):
    await db.prepare(WRANGLER_TABLE).run()
    await db.exec("CREATE TABLE t (x INTEGER);")
    await db.prepare("INSERT INTO d1_migrations (name) VALUES ('0000_t.sql')").run()
    folder = write(
        tmp_path / "migrations",
        {"0000_t.sql": "CREATE TABLE t (x INTEGER);", "0001_u.sql": "CREATE TABLE u (y TEXT);"},
    )
    assert await migrations.apply(db, folder) == ["0001_u.sql"]


async def test_a_failing_migration_stops_and_keeps_the_earlier_ones(db, tmp_path):
    folder = write(
        tmp_path / "migrations",
        {
            "0000_ok.sql": "CREATE TABLE a (x);",
            "0001_bad.sql": "CREATE TABLE b (x);\nINSERT INTO b VALUES (1);\n"
            "INSERT INTO nope VALUES (1);",
            "0002_later.sql": "CREATE TABLE c (x);",
        },
    )
    with pytest.raises(MigrationError) as info:
        await migrations.apply(db, folder)
    assert info.value.name == "0001_bad.sql"
    assert str(info.value) == (
        "Migration 0001_bad.sql failed: D1_ERROR: no such table: nope: SQLITE_ERROR "
        "[batch statement 4 of 4: INSERT INTO nope VALUES (1)]"
    )
    tables = await db.prepare(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite%' "
        "ORDER BY name"
    ).raw()
    assert tables == [["a"], ["d1_migrations"]]  # b rolled back, c never ran
    assert await migrations.applied(db) == ["0000_ok.sql"]
    assert await migrations.pending(db, folder) == ["0001_bad.sql", "0002_later.sql"]


async def test_two_processes_applying_at_once_run_each_migration_once(tmp_path):
    folder = write(
        tmp_path / "migrations",
        {f"{i:04d}_t{i}.sql": f"CREATE TABLE t{i} (x);" for i in range(6)},
    )
    path = tmp_path / "shared.sqlite"
    one, two = await SqliteDatabase.open(path), await SqliteDatabase.open(path)
    try:
        done = await asyncio.gather(
            migrations.apply(D1Database(one), folder), migrations.apply(D1Database(two), folder)
        )
        assert sorted(done[0] + done[1]) == migrations.files(folder)
        assert await migrations.applied(D1Database(one)) == migrations.files(folder)
    finally:
        await one.close()
        await two.close()


async def test_a_custom_table(db, tmp_path):
    folder = write(tmp_path / "m", {"0000_a.sql": "CREATE TABLE a (x);"})
    assert await migrations.apply(db, folder, "schema_history") == ["0000_a.sql"]
    assert await migrations.applied(db, "schema_history") == ["0000_a.sql"]
    with pytest.raises(ValueError):
        await migrations.applied(db, "bad name")
