"""What only the SQLite backend has: its file, and writes that never wait on the event loop."""

import asyncio
import sqlite3

import pytest

from bindings.kv import KVError
from bindings.kv.backends import sqlite as sqlite_backend
from tests.kv.conftest import kv_config


@pytest.fixture
async def env(hearth, kv_worker, tmp_path):
    namespaces = [{"binding": "KV", "id": "one"}, {"binding": "OTHER", "id": "two"}]
    h = await hearth(kv_config("sqlite", "unused:", namespaces), state_dir=tmp_path / "state")
    return h.env()


async def test_one_file_under_the_state_folder_rows_by_namespace_id(env, tmp_path):
    await env.KV.put("k", "v", metadata={"m": 1})
    await env.OTHER.put("k", b"w")
    db = sqlite3.connect(tmp_path / "state" / "kv" / "kv.sqlite3")
    sql = "SELECT namespace, key, value, expiration, metadata FROM kv ORDER BY 1"
    rows = db.execute(sql).fetchall()
    assert rows == [("one", "k", b"v", None, '{"m":1}'), ("two", "k", b"w", None, None)]
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    db.close()


async def test_a_write_waits_for_another_processs_lock_off_the_loop(env, tmp_path):
    other = sqlite3.connect(tmp_path / "state" / "kv" / "kv.sqlite3", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    put = asyncio.ensure_future(env.KV.put("k", "after the lock"))
    ticks = 0
    while ticks < 20:  # the loop keeps running while the put waits
        await asyncio.sleep(0.005)
        ticks += 1
    assert not put.done()
    assert await env.KV.get("k", cacheTtl=30) is None  # reads are not blocked either
    other.execute("COMMIT")
    await put
    assert await env.KV.get("k") == "after the lock"
    other.close()


async def test_checkpoints_run_in_the_writer_thread(env, tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite_backend, "CHECKPOINT_EVERY", 3)
    for i in range(10):
        await env.KV.put(f"k{i}", "v")
    await env.KV.delete("k0")
    assert [k["name"] for k in (await env.KV.list())["keys"]] == [f"k{i}" for i in range(1, 10)]


async def test_sqlite_errors_become_kv_errors(env, tmp_path):
    db = sqlite3.connect(tmp_path / "state" / "kv" / "kv.sqlite3", isolation_level=None)
    db.execute("DROP TABLE kv")
    db.close()
    with pytest.raises(KVError, match=r"^KV GET failed: 500 SQLite: no such table: kv$"):
        await env.KV.get("k")
    with pytest.raises(KVError, match=r"^KV PUT failed: 500 SQLite: no such table: kv$"):
        await env.KV.put("k", "v")
    with pytest.raises(KVError, match=r"^KV GET failed: 500 SQLite: no such table: kv$"):
        await env.KV.list()


def test_prefix_end():
    end = sqlite_backend.prefix_end
    assert end("ab") == "ac"
    assert end("a\U0010ffff") == "b"
    assert end("\ud7ff") == "\ue000"
    assert end("\U0010ffff\U0010ffff") is None
