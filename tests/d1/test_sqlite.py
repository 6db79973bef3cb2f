"""The SQLite storage under D1: sizes from the WAL index, lock waiting, refusals, limits."""

import sqlite3
import threading

import pytest

from bindings.d1 import Settings, database_path
from bindings.d1 import sqlite as storage
from bindings.d1.database import D1Database
from bindings.d1.errors import D1Error
from bindings.d1.sqlite import SqliteDatabase, WalSize


def page_count_bytes(path):
    with sqlite3.connect(path) as conn:
        size = (
            conn.execute("PRAGMA page_count").fetchone()[0]
            * conn.execute("PRAGMA page_size").fetchone()[0]
        )
    conn.close()
    return size


async def test_the_wal_index_gives_the_committed_size(tmp_path):
    path = tmp_path / "w.sqlite"
    with sqlite3.connect(path) as conn:  # a database whose WAL was checkpointed away
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE t (x)")
        conn.executemany("INSERT INTO t VALUES (?)", [(b"x" * 3000,)] * 20)
    conn.close()
    store = await SqliteDatabase.open(path)
    try:
        wal = WalSize(path)
        assert wal.size() == page_count_bytes(path)  # empty WAL: the file is the database
        db = D1Database(store)
        await db.prepare("INSERT INTO t VALUES (?)").bind(b"y" * 9000).run()
        assert wal.size() == page_count_bytes(path)
        with sqlite3.connect(path) as other:  # another connection (process) writes
            other.execute("CREATE TABLE u (y)")
        other.close()
        assert wal.size() == page_count_bytes(path)
        meta = (await db.prepare("SELECT 1").run()).meta
        assert meta.size_after == page_count_bytes(path)
        wal.close()
        assert wal.size() is None
    finally:
        await store.close()


async def test_a_locked_database_is_waited_for_and_retried(tmp_path, monkeypatch):
    monkeypatch.setattr(storage, "BUSY_RETRY_DELAY", 0.05)
    path = tmp_path / "l.sqlite"
    store = await SqliteDatabase.open(path, Settings(busy_timeout_ms=50))
    db = D1Database(store)
    await db.exec("CREATE TABLE t (x)")
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock ...
        timer = threading.Timer(0.2, holder.execute, ["COMMIT"])  # ... for a while
        timer.start()
        await db.prepare("INSERT INTO t VALUES (1)").run()  # longer than the busy timeout
        await db.batch([db.prepare("INSERT INTO t VALUES (2)")])
        timer.join()
        holder.execute("BEGIN IMMEDIATE")  # and now for good
        with pytest.raises(D1Error) as info:
            await db.prepare("INSERT INTO t VALUES (3)").run()
        assert str(info.value) == "D1_ERROR: database is locked: SQLITE_BUSY"
        holder.execute("ROLLBACK")
        assert await db.prepare("SELECT count(*) AS n FROM t").first("n") == 2
    finally:
        holder.close()
        await store.close()


async def test_reserved_tables_stay_unreadable(store, db):
    await store.call(lambda c: c.execute("CREATE TABLE _cf_KV (key TEXT, value BLOB)"))
    with pytest.raises(D1Error) as info:
        await db.prepare("SELECT key FROM _cf_KV").all()
    assert str(info.value) == "D1_ERROR: access to _cf_KV.key is prohibited: SQLITE_AUTH"


async def test_values_above_the_limit_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(storage, "D1_MAX_VALUE_BYTES", 1000)
    store = await SqliteDatabase.open(tmp_path / "v.sqlite")
    try:
        db = D1Database(store)
        with pytest.raises(D1Error) as info:
            await db.prepare("SELECT ? AS v").bind("x" * 1001).first()
        assert str(info.value) == "D1_ERROR: string or blob too big: SQLITE_TOOBIG"
        assert await db.prepare("SELECT length(?) AS n").bind("x" * 1000).first("n") == 1000
    finally:
        await store.close()


async def test_a_failed_request_leaves_no_transaction_open(db):
    await db.exec("CREATE TABLE t (x UNIQUE)")
    for _ in range(2):
        with pytest.raises(D1Error):
            await db.prepare("INSERT INTO t VALUES (1); INSERT INTO t VALUES (1)").run()
    assert await db.prepare("SELECT count(*) AS n FROM t").first("n") == 0
    await db.prepare("INSERT INTO t VALUES (1)").run()
    assert await db.prepare("SELECT count(*) AS n FROM t").first("n") == 1


def test_long_ids_get_a_bounded_unique_file_name(tmp_path):
    one, two = database_path(tmp_path, "x" * 300), database_path(tmp_path, "x" * 299 + "y")
    assert one != two and len(one.name) < 130 and one.parent == tmp_path / "d1"
