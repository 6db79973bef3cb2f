"""ctx.storage: the key-value API, transactions, and their exact errors."""

import datetime as dt

import pytest

from bindings import DataCloneError, JsTypeError
from bindings.durable_objects import DurableObjectError
from bindings.testing import runInDurableObject

SOURCE = """
from workers import DurableObject, Response, WorkerEntrypoint

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response("ok")

class Store(DurableObject):
    async def alarm(self):
        pass

class Legacy(DurableObject):
    pass
"""


@pytest.fixture
async def h(do_app):
    return await do_app(
        SOURCE, bindings={"STORE": "Store", "LEGACY": "Legacy"}, sqlite=("Store",), kv=("Legacy",)
    )


@pytest.fixture
async def run(h):
    """``await run(fn)``: fn(ctx) as an event of a fresh object."""
    counter = iter(range(1_000_000))

    async def run_in(fn, name=None, ns="STORE"):
        stub = getattr(h.env(), ns).getByName(name or f"obj-{next(counter)}")
        return await runInDurableObject(stub, lambda instance, ctx: fn(ctx.storage))

    return run_in


async def test_get_put_delete_one_and_many(run):
    async def scenario(storage):
        assert await storage.get("missing") is None
        await storage.put("a", 1)
        await storage.put({"b": [1, 2], "c": {"x": None}})
        assert await storage.get("a") == 1
        assert await storage.get(["c", "missing", "a"]) == {"a": 1, "c": {"x": None}}
        assert list(await storage.get(["c", "a"])) == ["a", "c"]  # key order
        assert (await storage.get("c")).x is None  # dicts with attribute access
        assert await storage.delete("a") is True
        assert await storage.delete("a") is False
        assert await storage.delete(["b", "c", "zzz"]) == 2
        assert await storage.list() == {}

    await run(scenario)


async def test_values_of_every_structured_clone_kind(run):
    when = dt.datetime(2030, 5, 6, 7, 8, 9, tzinfo=dt.UTC)
    values = {
        "dict": {"nested": [1, 2.5, "s", True, None]},
        "int": 2**62, "float": 1.5, "bool": False, "none": None, "str": "héllo",
        "bytes": b"\x00\xff", "datetime": when, "date": dt.date(2030, 1, 1), "set": {1, 2},
        "intkeys": {1: "a", 2: "b"},
    }  # fmt: skip

    async def scenario(storage):
        for k, v in values.items():
            await storage.put(k, v)
        for k, v in values.items():
            got = await storage.get(k)
            assert got == v
            assert isinstance(got, type(v))
        with pytest.raises(DataCloneError):
            await storage.put("f", {"fn": print})
        with pytest.raises(JsTypeError, match=r"Tuples"):
            await storage.put("t", (1, 2))
        cyclic = []
        cyclic.append(cyclic)
        with pytest.raises(DataCloneError):
            await storage.put("cyclic", cyclic)
        stored = {"a": [1]}
        await storage.put("copy", stored)
        stored["a"].append(2)
        assert await storage.get("copy") == {"a": [1]}  # stored as a copy

    await run(scenario)


async def test_put_errors(run):
    async def scenario(storage):
        with pytest.raises(JsTypeError, match=r"^put\(\) called with undefined value.$"):
            await storage.put("k")
        with pytest.raises(JsTypeError, match=r"^put\(\) may only be called with a single"):
            await storage.put({"a": 1}, 5)
        with pytest.raises(JsTypeError, match=r"keys must be strings"):
            await storage.put(1, "v")
        await storage.put("n", None)  # None is JS null: a value
        assert await storage.list() == {"n": None}

    await run(scenario)


async def test_writes_take_effect_without_await(run):
    async def scenario(storage):
        pending = storage.put("eager", 1)  # JS code often does not await put()
        assert await storage.get("eager") == 1
        await pending

    await run(scenario)


async def test_list_ranges_and_order(run):
    keys = ["a", "ab", "abc", "b", "ba", "B", "é", "\U0001f600", "!", ", "]

    async def scenario(storage):
        await storage.put({k: k for k in keys})
        by_bytes = sorted(keys, key=lambda k: k.encode())
        assert list(await storage.list()) == by_bytes
        assert list(await storage.list(prefix="ab")) == ["ab", "abc"]
        assert list(await storage.list(start="ab", end="b")) == ["ab", "abc"]
        assert list(await storage.list(startAfter="ab", end="ba")) == ["abc", "b"]
        assert list(await storage.list({"reverse": True, "limit": 2})) == by_bytes[::-1][:2]
        assert list(await storage.list(prefix="a", reverse=True)) == ["abc", "ab", "a"]
        assert list(await storage.list(prefix="a", limit=2)) == ["a", "ab"]
        assert list(await storage.list(prefix="a", start="ab")) == ["ab", "abc"]
        assert list(await storage.list(prefix="a", end="ab")) == ["a"]
        assert await storage.list(start="z", end="a") == {}
        assert await storage.list(prefix="zz") == {}
        with pytest.raises(
            JsTypeError,
            match=r"^list\(\) cannot be called with both start and startAfter values.$",
        ):
            await storage.list(start="a", startAfter="b")
        for bad in (0, -1):
            with pytest.raises(JsTypeError, match=r"^List limit must be positive.$"):
                await storage.list(limit=bad)

    await run(scenario)


async def test_list_prefix_at_the_top_of_unicode(run):
    async def scenario(storage):
        await storage.put({"\U0010ffff": 1, "\U0010ffff\U0010ffff": 2, "z": 3})
        assert list(await storage.list(prefix="\U0010ffff")) == [
            "\U0010ffff",
            "\U0010ffff\U0010ffff",
        ]
        await storage.put({"\ud7ffa": 4, "\ue000": 5})
        assert list(await storage.list(prefix="\ud7ff")) == ["\ud7ffa"]

    await run(scenario)


async def test_transaction_commits_or_rolls_back(run):
    async def scenario(storage):
        async def ok(txn):
            await txn.put("a", 1)
            assert await txn.get("a") == 1
            return "value"

        assert await storage.transaction(ok) == "value"
        assert await storage.get("a") == 1

        async def explicit_rollback(txn):
            await txn.put("a", 2)
            await txn.put("b", 2)
            txn.rollback()
            txn.rollback()  # more than once is allowed
            with pytest.raises(
                DurableObjectError, match=r"^Cannot get\(\) on rolled back transaction$"
            ):
                await txn.get("a")
            return "rolled"

        assert await storage.transaction(explicit_rollback) == "rolled"
        assert await storage.get(["a", "b"]) == {"a": 1}

        async def raising(txn):
            await txn.put("a", 3)
            raise KeyError("nope")

        with pytest.raises(KeyError):
            await storage.transaction(raising)
        assert await storage.get("a") == 1

        kept = []

        async def escape(txn):
            kept.append(txn)

        await storage.transaction(escape)
        with pytest.raises(
            DurableObjectError,
            match=r"^Cannot call put\(\) on transaction that has already committed: did you move "
            "`txn` outside of the closure\\?$",
        ):
            await kept[0].put("x", 1)
        with pytest.raises(
            DurableObjectError, match=r"^Cannot call deleteAll\(\) within a transaction$"
        ):
            kept[0].deleteAll()

        async def delete_all_inside(txn):
            await storage.deleteAll()

        with pytest.raises(
            DurableObjectError, match=r"^Cannot call deleteAll\(\) within a transaction$"
        ):
            await storage.transaction(delete_all_inside)

    await run(scenario)


async def test_transaction_sync_nests_with_savepoints(run):
    async def scenario(storage):
        def outer():
            storage.kv.put("outer", 1)

            def inner():
                storage.kv.put("inner", 1)
                raise ValueError("inner only")

            with pytest.raises(ValueError):
                storage.transactionSync(inner)
            return "outer kept"

        assert storage.transactionSync(outer) == "outer kept"
        assert await storage.get(["outer", "inner"]) == {"outer": 1}

        def failing():
            storage.kv.put("gone", 1)
            raise RuntimeError("all of it")

        with pytest.raises(RuntimeError):
            storage.transactionSync(failing)
        assert storage.kv.get("gone") is None

    await run(scenario)


async def test_sync_kv_api(run):
    async def scenario(storage):
        kv = storage.kv
        kv.put("b", 2)
        kv.put("a", {"x": 1})
        assert kv.get("a") == {"x": 1}
        assert kv.get("zz") is None
        assert list(kv.list()) == [("a", {"x": 1}), ("b", 2)]
        assert list(kv.list(reverse=True, limit=1)) == [("b", 2)]
        assert kv.delete("a") is True and kv.delete("a") is False
        with pytest.raises(JsTypeError, match=r"undefined value"):
            kv.put("k")

    await run(scenario)


async def test_delete_all_removes_keys_and_tables(run):
    async def scenario(storage):
        await storage.put({"a": 1, "b": 2})
        storage.sql.exec("CREATE TABLE t (x)")
        storage.sql.exec("INSERT INTO t VALUES (1)")
        await storage.deleteAll()
        assert await storage.list() == {}
        assert (
            storage.sql.exec("SELECT count(*) AS n FROM sqlite_master WHERE name = 't'").one().n
            == 0
        )
        assert storage.sql.databaseSize == 4096
        await storage.put("after", 1)  # storage works again afterwards
        assert await storage.get("after") == 1

    await run(scenario)


@pytest.mark.parametrize(("date", "flags", "kept"), [
    ("2026-02-23", [], True),
    ("2026-02-24", [], False),
    ("2026-11-01", ["delete_all_preserves_alarm"], True),
    ("2025-01-01", ["delete_all_deletes_alarm"], False),
])  # fmt: skip
async def test_delete_all_and_the_alarm_follow_the_compat_date(hearth, tmp_path, date, flags, kept):
    from tests.durable_objects.conftest import worker_config

    config = worker_config(tmp_path, SOURCE, bindings={"STORE": "Store"}, sqlite=("Store",),
                           compatibility_date=date)  # fmt: skip
    config["compatibility_flags"] = flags
    h = await hearth(config, state_dir=tmp_path / "state")

    async def scenario(instance, ctx):
        await ctx.storage.setAlarm(4_000_000_000_000)
        await ctx.storage.put("k", 1)
        await ctx.storage.deleteAll()
        return await ctx.storage.getAlarm()

    alarm = await runInDurableObject(h.env().STORE.getByName("x"), scenario)
    assert (alarm == 4_000_000_000_000) is kept


async def test_sync_commits(run, h):
    async def scenario(storage):
        await storage.put("k", 1)
        db = storage._owner.database()
        assert db.conn.in_transaction
        await storage.sync()
        assert not db.conn.in_transaction

    await run(scenario)


async def test_legacy_classes_have_no_sql(run):
    async def scenario(storage):
        with pytest.raises(
            DurableObjectError, match=r"^SQL is not enabled for this Durable Object class."
        ):
            storage.sql  # noqa: B018
        with pytest.raises(
            DurableObjectError, match=r"^The storage.kv \(synchronous KV\) API is only"
        ):
            storage.kv  # noqa: B018
        await storage.put("k", "v")  # the key-value API works
        assert storage.transactionSync(lambda: "sync ok") == "sync ok"
        return await storage.get("k")

    assert await run(scenario, ns="LEGACY") == "v"


async def test_storage_persists_across_restarts(hearth, tmp_path):
    from tests.durable_objects.conftest import worker_config

    config = worker_config(tmp_path, SOURCE, bindings={"STORE": "Store"}, sqlite=("Store",))
    first = await hearth(config, state_dir=tmp_path / "state")
    stub = first.env().STORE.getByName("p")
    await runInDurableObject(stub, lambda i, ctx: ctx.storage.put("k", {"v": 1}))
    await first.aclose()
    second = await hearth(config, state_dir=tmp_path / "state")
    stub = second.env().STORE.getByName("p")
    assert await runInDurableObject(stub, lambda i, ctx: ctx.storage.get("k")) == {"v": 1}
