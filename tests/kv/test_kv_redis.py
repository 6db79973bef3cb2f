"""What only the Redis backend has: its key layout, PEXPIREAT reclaim, the index sweeper."""

import asyncio
import time

import pytest

from bindings.clock import system_clock
from bindings.kv import KVError
from bindings.testing import free_port
from tests.kv.conftest import REDIS_HOST, REDIS_PORT, kv_config, need_redis


@pytest.fixture
def redis_client():
    need_redis()
    import redis

    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT)
    yield client
    client.close()


@pytest.fixture
async def redis_kv(hearth, kv_worker, redis_prefix, redis_client):
    async def make(namespaces=None, **settings):
        h = await hearth(
            kv_config("redis", redis_prefix, namespaces, **settings), clock=system_clock
        )
        return h.env()

    return make


def names(prefix, ns="test-ns"):
    return f"{prefix}{{{ns}}}:k:", f"{prefix}{{{ns}}}:keys", f"{prefix}{{{ns}}}:exp"


async def until(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_layout_hash_per_key_sorted_index_and_pexpireat(redis_kv, redis_client, redis_prefix):
    kv = (await redis_kv()).KV
    base, index, expiring = names(redis_prefix)
    now = int(time.time())
    await kv.put("plain", "v", metadata={"a": 1})
    await kv.put("temp", b"\x00", expiration=now + 3600)
    assert redis_client.hgetall(base + "plain") == {b"v": b"v", b"e": b"", b"m": b'{"a":1}'}
    assert redis_client.pttl(base + "plain") == -1
    assert redis_client.hget(base + "temp", "e") == str(now + 3600).encode()
    assert redis_client.pexpiretime(base + "temp") == (now + 3600) * 1000 + 1
    assert redis_client.zrange(index, 0, -1) == [b"plain", b"temp"]
    assert redis_client.zrange(expiring, 0, -1) == [b"temp"]
    await kv.put("temp", "kept")  # no expiration any more: the TTL and the expiry entry go
    assert redis_client.pttl(base + "temp") == -1
    assert redis_client.zrange(expiring, 0, -1) == []
    await kv.delete("plain")
    assert not redis_client.exists(base + "plain")
    assert redis_client.zrange(index, 0, -1) == [b"temp"]


async def test_namespace_ids_never_collide(redis_kv, redis_client, redis_prefix):
    env = await redis_kv(
        [
            {"binding": "A", "id": "a:k:b"},
            {"binding": "B", "id": "a"},
            {"binding": "C", "id": "{x}"},
        ]
    )
    await env.A.put("c", "in a:k:b")
    await env.B.put("b:k:c", "in a")
    await env.C.put("c", "in {x}")
    assert await env.A.get("c") == "in a:k:b"
    assert await env.B.get("b:k:c") == "in a"
    assert [k["name"] for k in (await env.A.list())["keys"]] == ["c"]
    assert [k["name"] for k in (await env.B.list())["keys"]] == ["b:k:c"]
    assert redis_client.exists(f"{redis_prefix}{{%7Bx%7D}}:k:c")


async def test_the_key_prefix_isolates_deployments(
    hearth, kv_worker, redis_prefix, redis_client, tmp_path
):
    one = (
        (await hearth(kv_config("redis", redis_prefix + "one:"), state_dir=tmp_path / "1")).env().KV
    )
    two = (
        (await hearth(kv_config("redis", redis_prefix + "two:"), state_dir=tmp_path / "2")).env().KV
    )
    await one.put("k", "one")
    assert await two.get("k") is None
    assert (await two.list())["keys"] == []


async def test_list_drops_index_entries_whose_hash_redis_reclaimed(
    redis_kv, redis_client, redis_prefix
):
    kv = (await redis_kv(cache_ttl=0)).KV
    base, index, _ = names(redis_prefix)
    for key in ("a", "b", "c", "d"):
        await kv.put(key, "v", expirationTtl=3600)
    redis_client.delete(base + "b", base + "c")  # as if Redis had expired them
    page = await kv.list(limit=2)
    assert [k["name"] for k in page["keys"]] == ["a", "d"] and page["list_complete"] is True
    assert redis_client.zrange(index, 0, -1) == [b"a", b"d"]
    assert await kv.get("b") is None


async def test_sweep_drops_reclaimed_keys_only(redis_kv, redis_client, redis_prefix):
    kv = (await redis_kv()).KV
    base, index, expiring = names(redis_prefix)
    await kv.put("gone", "v", expirationTtl=60)
    await kv.put("live", "v", expirationTtl=60)
    await kv.put("forever", "v")
    # Pretend their reclaim time has come; Redis really expires "gone" (but not "live").
    redis_client.zadd(expiring, {"gone": 0, "live": 0})
    redis_client.pexpire(base + "gone", 1)
    await until(lambda: not redis_client.exists(base + "gone"))
    assert await kv._backend.sweep("test-ns") == 1
    assert redis_client.zrange(index, 0, -1) == [b"forever", b"live"]
    assert redis_client.zrange(expiring, 0, -1) == [b"live"]
    assert await kv._backend.sweep("test-ns") == 0


async def test_the_sweeper_runs_periodically(redis_kv, redis_client, redis_prefix):
    kv = (await redis_kv(sweep_interval=0.02)).KV
    base, index, expiring = names(redis_prefix)
    await kv.put("gone", "v", expirationTtl=60)
    redis_client.zadd(expiring, {"gone": 0})
    redis_client.pexpire(base + "gone", 1)
    await until(lambda: redis_client.zcard(index) == 0 and redis_client.zcard(expiring) == 0)


async def test_purge_keeps_a_newer_write(redis_kv, redis_client, redis_prefix):
    kv = (await redis_kv()).KV
    now = int(time.time())
    await kv.put("k", "old", expiration=now + 100)
    await kv.put("k", "new", expiration=now + 200)
    await kv._backend.purge("test-ns", [("k", now + 100)])  # a reader saw "old" expire
    assert await kv.get("k") == "new"
    await kv._backend.purge("test-ns", [("k", now + 200)])
    base, index, _ = names(redis_prefix)
    assert not redis_client.exists(base + "k") and redis_client.zcard(index) == 0


async def test_redis_errors_become_kv_errors(hearth, kv_worker, redis_prefix):
    url = f"redis://127.0.0.1:{free_port()}/0"
    h = await hearth(kv_config("redis", redis_prefix, redis_url=url))
    with pytest.raises(KVError, match=r"^KV GET failed: 500 Redis: ") as err:
        await h.env().KV.get("k")
    assert err.value.status == 500
    with pytest.raises(KVError, match=r"^KV PUT failed: 500 Redis: "):
        await h.env().KV.put("k", "v")
    with pytest.raises(KVError, match=r"^KV GET failed: 500 Redis: "):
        await h.env().KV.list()
