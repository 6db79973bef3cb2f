"""Cache API fixtures: a CacheStorage per backend, so the contract suite runs on each."""

import uuid

import pytest

from bindings.cache import CacheStorage
from bindings.cache.backends import MemoryBackend
from bindings.clock import ManualClock
from bindings.testing import port_open, require_service

START = 1_000_000.0  # seconds, as Miniflare's cache tests start their fake clock


@pytest.fixture
def clock():
    return ManualClock(START)


@pytest.fixture
def redis_prefix():
    """A key prefix of this test's own; every key under it is removed afterwards."""
    require_service("Redis", port_open("127.0.0.1", 6379), "start redis-server on 127.0.0.1:6379")
    prefix = f"hearth-test:{uuid.uuid4().hex}:cache:"
    yield prefix
    import redis

    with redis.Redis() as client:
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)


def memory_backend(clock, request, closers):
    return MemoryBackend(clock)


def redis_backend(clock, request, closers):
    import redis.asyncio

    from bindings.cache.redis_backend import RedisBackend

    prefix = request.getfixturevalue("redis_prefix")
    client = redis.asyncio.Redis()
    closers.append(client.aclose)
    return RedisBackend(client, prefix)


BACKENDS = {"memory": memory_backend, "redis": redis_backend}


@pytest.fixture(params=sorted(BACKENDS))
async def make_storage(request, clock):
    """``make_storage(enabled=...)``: a fresh CacheStorage over this test's backend (a second
    one over Redis sees the first one's entries, as another process would)."""
    closers = []

    def make(**options) -> CacheStorage:
        return CacheStorage(BACKENDS[request.param](clock, request, closers), clock, **options)

    make.backend = request.param
    yield make
    for close in closers:
        await close()


@pytest.fixture
def storage(make_storage):
    return make_storage()
