"""Inline reads: one read-only statement runs on the event loop, anything else on the thread."""

import sqlite3

import pytest

from bindings.d1 import sqlite as storage
from bindings.d1.database import D1Database
from bindings.d1.errors import D1Error
from bindings.d1.sqlite import SqliteDatabase

COUNT_TO = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) " \
    "SELECT count(*) AS n FROM c"  # fmt: skip


@pytest.fixture
async def setup(tmp_path):
    """A store whose thread hops are counted, with a table of three rows."""
    store = await SqliteDatabase.open(tmp_path / "i.sqlite")
    db = D1Database(store)
    await db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    await db.prepare("INSERT INTO t (v) VALUES ('a'), ('b'), ('c')").run()
    hops = []
    run = store._run

    def counted(fn, *args):
        hops.append(fn.__name__)
        return run(fn, *args)

    store._run = counted
    yield store, db, hops
    await store.close()


async def test_a_point_read_takes_no_thread_hop_and_sees_the_last_write(setup):
    _, db, hops = setup
    await db.prepare("UPDATE t SET v = ? WHERE id = ?").bind("z", 2).run()
    assert hops == ["_single"]
    row = await db.prepare("SELECT v FROM t WHERE id = ?").bind(2).first()
    result = await db.prepare("SELECT id FROM t ORDER BY id").all()
    assert row == {"v": "z"} and [r.id for r in result.results] == [1, 2, 3]
    assert result.meta.rows_read == 3 and result.meta.changes == 0
    assert result.meta.last_row_id == 3  # the connection's last insert, as a read reports it
    assert hops == ["_single"]


async def test_a_read_over_budget_is_interrupted_and_answered_by_the_thread(setup, monkeypatch):
    _, db, hops = setup
    monkeypatch.setattr(storage, "INLINE_BUDGET", 0.0)
    assert await db.prepare(COUNT_TO).bind(100_000).first("n") == 100_000
    assert hops == ["_single"]


async def test_errors_of_inline_reads_are_d1_errors_and_refusals_hold(setup):
    store, db, hops = setup
    with pytest.raises(D1Error, match=r"^D1_ERROR: no such table: nope: SQLITE_ERROR$"):
        await db.prepare("SELECT * FROM nope").all()
    await store.call(lambda c: c.execute("CREATE TABLE _cf_KV (key TEXT)"))
    with pytest.raises(D1Error, match=r"^D1_ERROR: access to _cf_KV.key is prohibited"):
        await db.prepare("SELECT key FROM _cf_KV").all()
    assert hops == ["_trusted_call"]


async def test_a_read_while_another_process_writes_sees_the_committed_snapshot(setup):
    store, db, hops = setup
    other = sqlite3.connect(store.path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("DELETE FROM t")
        assert await db.prepare("SELECT count(*) AS n FROM t").first("n") == 3
        other.execute("COMMIT")
        assert await db.prepare("SELECT count(*) AS n FROM t").first("n") == 0
    finally:
        other.close()
    assert hops == []


async def test_writes_batches_and_several_statements_go_to_the_thread(setup):
    _, db, hops = setup
    await db.prepare("INSERT INTO t (v) VALUES ('d')").run()
    await db.prepare("SELECT 1; SELECT 2").all()
    await db.batch([db.prepare("SELECT 1"), db.prepare("SELECT 2")])
    assert hops == ["_single", "_single", "_retrying"]
