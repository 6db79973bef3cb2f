"""Input and output gates, blockConcurrencyWhile, abort, and calls between objects, under real
concurrency on the event loop."""

import asyncio
import sqlite3

import pytest

from bindings.durable_objects import DurableObjectError, DurableObjectReset
from bindings.durable_objects import live as live_module
from bindings.testing import runInDurableObject
from tests.durable_objects.conftest import worker_config

SOURCE = """
import asyncio
import sqlite3
from workers import DurableObject, Response, WorkerEntrypoint

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        n = await self.env.COUNTER.getByName("http").increment()
        return Response.json({"n": n})

class Probe(WorkerEntrypoint):
    # Reads a Durable Object's file through its own connection: sees committed data only.
    async def fetch(self, request):
        path = request.headers.get("x-db")
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT count(*) FROM _cf_KV WHERE key = 'probe'").fetchone()
        except sqlite3.OperationalError:
            row = (0,)
        finally:
            conn.close()
        return Response.json({"committed": row[0] == 1})

class Counter(DurableObject):
    constructed = 0
    release = None

    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        Counter.constructed += 1
        self.loaded = False
        ctx.blockConcurrencyWhile(self.load)

    async def load(self):
        await asyncio.sleep(0.01)
        self.loaded = True

    async def increment(self):
        await asyncio.sleep(0)  # a real suspension: other events interleave here
        n = await self.ctx.storage.get("n") or 0
        await self.ctx.storage.put("n", n + 1)
        return n + 1

    async def racy_increment(self):
        n = await self.ctx.storage.get("racy") or 0
        await asyncio.sleep(0)  # an await between get and put: not atomic, as on Cloudflare
        await self.ctx.storage.put("racy", n + 1)

    async def value(self, key):
        return await self.ctx.storage.get(key)

    async def is_loaded(self):
        return self.loaded

    async def hold(self):
        async def wait():
            await Counter.release.wait()
            return "held"
        return await self.ctx.blockConcurrencyWhile(wait)

    async def fail_blocked(self):
        async def boom():
            await self.ctx.storage.put("lost", True)
            raise RuntimeError("init failed")
        await self.ctx.blockConcurrencyWhile(boom)

    async def nest(self, depth):
        async def inner(d):
            if d == 0:
                return "bottom"
            return await self.ctx.blockConcurrencyWhile(lambda: inner(d - 1))
        return await self.ctx.blockConcurrencyWhile(lambda: inner(depth))

    async def hang(self):
        await self.ctx.blockConcurrencyWhile(lambda: asyncio.sleep(60))

    async def abort_after_write(self):
        await self.ctx.storage.put("aborted-write", True)
        self.ctx.abort()

    async def transact(self):
        async def closure(txn):
            await txn.put("t", 1)
            await Counter.release.wait()
            await txn.put("t", 2)
            return "done"
        return await self.ctx.storage.transaction(closure)

    async def write_then_probe(self, path):
        await self.ctx.storage.put("probe", 1)
        r = await self.env.PROBE.fetch("https://probe/", headers={"x-db": path})
        return await r.json()

    async def ping_via(self, other_name):
        other = self.env.COUNTER.getByName(other_name)
        return await other.call_back(self.ctx.id.name)

    async def call_back(self, caller_name):
        return await self.env.COUNTER.getByName(caller_name).pong()

    async def pong(self):
        return "pong"
"""


@pytest.fixture
async def h(hearth, tmp_path):
    config = worker_config(tmp_path, SOURCE, bindings={"COUNTER": "Counter"})
    config["services"] = [{"binding": "PROBE", "service": "app", "entrypoint": "Probe"}]
    h = await hearth(config, state_dir=tmp_path / "state")
    h.worker().main.module.Counter.release = asyncio.Event()
    return h


async def test_two_hundred_concurrent_increments_end_at_two_hundred(h):
    stub = h.env().COUNTER.getByName("c")
    results = await asyncio.gather(*(stub.increment() for _ in range(200)))
    assert sorted(results) == list(range(1, 201))
    assert await stub.value("n") == 200
    # The same load with an await between get and put loses updates: the events really did
    # interleave, so the exact 200 above is the input gate's doing.
    await asyncio.gather(*(stub.racy_increment() for _ in range(200)))
    assert await stub.value("racy") < 200


async def test_concurrent_http_requests_through_the_host(h):
    responses = await asyncio.gather(*(h.SELF.get("/") for _ in range(100)))
    assert sorted(r.json()["n"] for r in responses) == list(range(1, 101))


async def test_results_leave_only_after_their_writes_commit(h, tmp_path):
    stub = h.env().COUNTER.getByName("gate")
    path = tmp_path / "state" / "do" / f"app-Counter/{stub.id.toString()}.sqlite"

    def committed(key):
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return conn.execute("SELECT count(*) FROM _cf_KV WHERE key = ?", (key,)).fetchone()[0]
        except sqlite3.OperationalError:
            return 0
        finally:
            conn.close()

    async def inside(instance, ctx):
        await ctx.storage.put("k", 1)
        return committed("k")  # still inside the event: not yet committed

    assert await runInDurableObject(stub, inside) == 0
    assert committed("k") == 1  # the result left after the commit
    # An outbound call (here a service binding) is output too: the write commits first.
    assert await stub.write_then_probe(str(path)) == {"committed": True}


async def test_constructor_block_concurrency_while_holds_the_first_event(h):
    assert await h.env().COUNTER.getByName("fresh").is_loaded() is True


async def test_block_concurrency_while_holds_other_events(h):
    stub = h.env().COUNTER.getByName("blocked")
    await stub.is_loaded()
    module = h.worker().main.module
    holder = asyncio.ensure_future(stub.hold())
    for _ in range(5):
        await asyncio.sleep(0)
    waiter = asyncio.ensure_future(stub.pong())
    for _ in range(20):
        await asyncio.sleep(0)
    assert not waiter.done()
    module.Counter.release.set()
    assert await holder == "held"
    assert await waiter == "pong"


async def test_failing_block_concurrency_while_resets_the_object(h):
    stub = h.env().COUNTER.getByName("resets")
    await stub.increment()
    module = h.worker().main.module
    before = module.Counter.constructed
    with pytest.raises(RuntimeError, match=r"init failed"):
        await stub.fail_blocked()
    assert await stub.value("lost") is None  # the uncommitted write was rolled back
    assert await stub.value("n") == 1
    assert module.Counter.constructed == before + 1


async def test_nesting_limit_and_timeout(h, monkeypatch):
    stub = h.env().COUNTER.getByName("nested")
    assert await stub.nest(10) == "bottom"
    with pytest.raises(
        DurableObjectError, match=r"^blockConcurrencyWhile\(\) calls are nested too deeply.$"
    ):
        await stub.nest(70)
    monkeypatch.setattr(live_module, "BLOCK_TIMEOUT", 0.05)
    with pytest.raises(DurableObjectReset, match=r"waited for too long"):
        await stub.hang()
    assert await stub.pong() == "pong"  # a new instance answers


async def test_abort_resets_and_drops_uncommitted_writes(h):
    stub = h.env().COUNTER.getByName("abort")
    with pytest.raises(
        DurableObjectReset, match=r"^Application called abort\(\) to reset Durable Object.$"
    ):
        await stub.abort_after_write()
    assert await stub.value("aborted-write") is None


async def test_transaction_holds_other_events_until_it_commits(h):
    stub = h.env().COUNTER.getByName("txn")
    module = h.worker().main.module
    await stub.pong()
    txn = asyncio.ensure_future(stub.transact())
    for _ in range(5):
        await asyncio.sleep(0)
    reader = asyncio.ensure_future(stub.value("t"))
    for _ in range(20):
        await asyncio.sleep(0)
    assert not reader.done()
    module.Counter.release.set()
    assert await txn == "done"
    assert await reader == 2  # it saw the whole transaction, never half of it


async def test_an_object_calling_one_that_calls_back_does_not_deadlock(h):
    a = h.env().COUNTER.getByName("a")
    assert await asyncio.wait_for(a.ping_via("b"), 5) == "pong"
    assert await asyncio.wait_for(a.ping_via("a"), 5) == "pong"  # even calling itself back
