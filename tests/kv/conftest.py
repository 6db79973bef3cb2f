"""KV test fixtures: a config per backend, Redis isolation by key prefix, a pinned clock."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from bindings.clock import ManualClock
from bindings.kv import KVNamespace
from bindings.testing import Hearth, port_open, require_service

BACKENDS = ["sqlite", "redis"]
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379

WORKER = """
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

async def item(request):
    kv = request.scope["env"].KV
    key = request.path_params["key"]
    if request.method == "PUT":
        await kv.put(key, await request.body())
        return Response(status_code=204)
    value = await kv.get(key, "arrayBuffer")
    return Response(status_code=404) if value is None else Response(bytes(value))

app = Starlette(routes=[Route("/kv/{key:path}", item, methods=["GET", "PUT"])])
"""


def need_redis() -> None:
    require_service(
        "Redis",
        port_open(REDIS_HOST, REDIS_PORT),
        "start it with: redis-server --daemonize yes --bind 127.0.0.1 --port 6379",
    )


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix unique to this test; every key under it is deleted afterwards."""
    prefix = f"hearth-test:{uuid.uuid4().hex}:"
    yield prefix
    if port_open(REDIS_HOST, REDIS_PORT):
        import redis

        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT)
        try:
            for key in client.scan_iter(match=prefix + "*", count=1000):
                client.delete(key)
        finally:
            client.close()


def kv_config(
    backend: str,
    prefix: str,
    namespaces: list[dict[str, Any]] | None = None,
    *,
    cache_ttl: float | None = None,
    **hearth_kv: Any,
) -> dict[str, Any]:
    """A one-worker config whose KV namespaces live in ``backend``."""
    settings: dict[str, Any] = {"backend": backend, "redis_prefix": prefix, **hearth_kv}
    if cache_ttl is not None:
        settings["cache_ttl"] = cache_ttl
    return {
        "hearth": {"kv": settings},
        "workers": [
            {
                "name": "kvtest",
                "main": "kv_worker:app",
                "kv_namespaces": namespaces or [{"binding": "KV", "id": "test-ns"}],
            }
        ],
    }


@dataclass
class KVCase:
    """What a contract test gets: the namespace, the clock it runs on, and the runtime."""

    kv: KVNamespace
    clock: ManualClock
    hearth: Hearth
    backend: str


@pytest.fixture
def kv_worker(tmp_path: Any) -> None:
    (tmp_path / "kv_worker.py").write_text(WORKER)


@pytest.fixture(params=[(b, c) for b in BACKENDS for c in ("cached", "uncached")],
                ids=lambda p: f"{p[0]}-{p[1]}")  # fmt: skip
async def case(request, hearth, tmp_path, kv_worker, redis_prefix) -> KVCase:
    """The contract fixture: every backend, with the read cache on and off."""
    backend, cached = request.param
    if backend == "redis":
        need_redis()
    clock = ManualClock(1000.0)
    config = kv_config(backend, redis_prefix, cache_ttl=60 if cached == "cached" else 0)
    h = await hearth(config, clock=clock)
    return KVCase(h.env().KV, clock, h, backend)


@pytest.fixture(params=BACKENDS)
def backend_name(request) -> str:
    """Each backend by name (Redis skipped when absent), for tests that build their own config."""
    if request.param == "redis":
        need_redis()
    return str(request.param)
