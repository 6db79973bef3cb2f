"""The read cache: own writes at once, other processes within cacheTtl, on the runtime clock.

Two runtimes over the same storage stand for two processes (each has its own cache), sharing
one ManualClock so the test moves time instead of sleeping. ``test_kv_processes`` repeats the
cross-process visibility with real server processes.
"""

import asyncio

import pytest

from bindings.clock import ManualClock
from bindings.kv.cache import ReadCache
from tests.kv.conftest import kv_config


@pytest.fixture
async def pair(hearth, tmp_path, kv_worker, redis_prefix, backend_name):
    """Two runtimes ("processes") A and B on one namespace, with the default cache (60 s)."""

    async def make(**settings):
        clock = ManualClock(1000.0)
        config = kv_config(backend_name, redis_prefix, **settings)
        a = await hearth(config, clock=clock, state_dir=tmp_path / "state")
        b = await hearth(config, clock=clock, state_dir=tmp_path / "state")
        return a.env().KV, b.env().KV, clock

    return make


async def test_writer_sees_its_write_at_once_others_within_the_cache_ttl(pair):
    a, b, clock = await pair()
    await a.put("k", "v1")
    assert await b.get("k") == "v1"  # B caches v1
    assert await a.get("k") == "v1"  # and so does A
    await a.put("k", "v2")
    assert await a.get("k") == "v2"  # read-your-writes in the writing process
    assert await b.get("k") == "v1"
    clock.advance(59.9)
    assert await b.get("k") == "v1"
    clock.advance(0.1)
    assert await b.get("k") == "v2"


async def test_misses_are_cached_too(pair):
    a, b, clock = await pair()
    assert await b.get("k") is None
    await a.put("k", "v")
    assert await b.get("k") is None
    clock.advance(60)
    assert await b.get("k") == "v"


async def test_deletes_follow_the_same_rules(pair):
    a, b, clock = await pair()
    await a.put("k", "v")
    assert await b.getWithMetadata("k") == {"value": "v", "metadata": None, "cacheStatus": None}
    assert await a.get("k") == "v"
    await a.delete("k")
    assert await a.get("k") is None
    assert await b.get("k") == "v"
    clock.advance(60)
    assert await b.get("k") is None


async def test_a_reads_cache_ttl_sets_how_long_its_result_is_kept(pair):
    a, b, clock = await pair()
    await a.put("k", "v1")
    assert await b.get("k", cacheTtl=30) == "v1"
    await a.put("k", "v2")
    clock.advance(29)
    assert await b.get("k") == "v1"
    clock.advance(1)
    assert await b.get("k", cacheTtl=3600) == "v2"
    await a.put("k", "v3")
    clock.advance(600)
    assert await b.get("k") == "v2"  # still within the hour that read asked for


async def test_a_cached_value_never_outlives_its_expiration(pair):
    a, b, clock = await pair()
    await a.put("k", "v", expirationTtl=60)
    assert await b.get("k", cacheTtl=3600) == "v"
    clock.advance(60)
    assert await b.get("k") is None


async def test_bulk_reads_share_the_cache(pair):
    a, b, clock = await pair()
    await a.put("x", "1")
    assert await b.get(["x", "y"]) == {"x": "1", "y": None}
    await a.put("x", "2")
    await a.put("y", "3")
    assert await b.get("x") == "1" and await b.get("y") is None
    assert await b.get(["x", "y"]) == {"x": "1", "y": None}
    clock.advance(60)
    assert await b.get(["x", "y"]) == {"x": "2", "y": "3"}


async def test_list_is_never_cached(pair):
    a, b, _ = await pair()
    assert (await b.list())["keys"] == []
    await a.put("k", "v")
    assert [k["name"] for k in (await b.list())["keys"]] == ["k"]


async def test_cache_ttl_zero_turns_the_cache_off(pair):
    a, b, _ = await pair(cache_ttl=0)
    await a.put("k", "v1")
    assert await b.get("k", cacheTtl=3600) == "v1"
    await a.put("k", "v2")
    assert await b.get("k") == "v2"
    await a.delete("k")
    assert await b.get(["k"]) == {"k": None}


async def test_cache_ttl_can_be_set_per_namespace(
    hearth, tmp_path, kv_worker, redis_prefix, backend_name
):
    clock = ManualClock(1000.0)
    namespaces = [{"binding": "KV", "id": "ns", "cache_ttl": 0}]
    config = kv_config(backend_name, redis_prefix, namespaces, cache_ttl=60)
    a = (await hearth(config, clock=clock, state_dir=tmp_path / "s")).env().KV
    b = (await hearth(config, clock=clock, state_dir=tmp_path / "s")).env().KV
    await a.put("k", "v1")
    assert await b.get("k") == "v1"
    await a.put("k", "v2")
    assert await b.get("k") == "v2"


async def test_values_too_large_for_the_cache_are_read_through(pair):
    a, b, _ = await pair(cache_size=1024)  # at most 128 bytes per cached value
    await a.put("small", "s" * 10)
    await a.put("large", "l" * 500)
    assert await b.get("small") == "s" * 10
    assert await b.get("large") == "l" * 500
    await a.put("small", "changed")
    await a.put("large", "changed")
    assert await b.get("small") == "s" * 10
    assert await b.get("large") == "changed"


async def test_a_read_in_flight_during_a_write_is_not_cached(pair):
    a, _, _ = await pair()
    await a.put("k", "old")
    backend = a._backend
    real_get = backend.get
    reading, release = asyncio.Event(), asyncio.Event()

    async def slow_get(namespace, key):
        entry = await real_get(namespace, key)  # reads "old"
        reading.set()
        await release.wait()
        return entry

    backend.get = slow_get
    try:
        read = asyncio.ensure_future(a.get("k"))
        await reading.wait()
        await a.put("k", "new")  # lands while the read holds the old value
        release.set()
        assert await read == "old"
    finally:
        del backend.get
    assert await a.get("k") == "new"


async def test_cache_hits_do_no_io(pair):
    a, b, _ = await pair()
    await a.put("k", "v")
    assert await b.get("k") == "v"
    backend = b._backend

    async def no_io(*args):
        raise AssertionError("a cache hit reached the backend")

    backend.get = backend.get_many = no_io
    try:
        assert await b.get("k") == "v"
        assert await b.get(["k"]) == {"k": "v"}
        assert bytes(await b.get("k", "arrayBuffer")) == b"v"
    finally:
        del backend.get, backend.get_many


def test_the_cache_runs_on_the_given_clock():
    clock = ManualClock(0.0)
    cache = ReadCache(clock, max_bytes=10_000)
    cache.store(("ns", "k"), None, 5, cache.writes)
    assert ("ns", "k") in cache.items
    clock.advance(5)
    assert ("ns", "k") not in cache.items
