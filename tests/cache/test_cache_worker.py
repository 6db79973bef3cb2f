"""Workers using the Cache API as Cloudflare Python code does: ``from js import caches``."""

import httpx
import pytest

from bindings.cache import caches, storage_of
from bindings.clock import ManualClock
from bindings.testing import server

# The seed's CacheManager pattern: the edge cache first, the origin on a miss.
CF_WORKER = """
from js import caches
from workers import Response, WorkerEntrypoint

ORIGIN_HITS = []


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        cache = caches.default
        cached = await cache.match(request)
        if cached is not None:
            return cached
        ORIGIN_HITS.append(request.url)
        response = Response.json(
            {"origin_hits": len(ORIGIN_HITS)},
            headers={"Cache-Control": "public, max-age=300", "ETag": '"v1"'},
        )
        self.ctx.waitUntil(cache.put(request, response.clone()))
        return response
"""

STARLETTE_WORKER = """
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from workers import Response, caches


async def remember(request):
    cache = await caches.open("notes")
    key = f"https://notes.local/{request.path_params['name']}"
    if request.method == "PUT":
        note = Response(await request.body(), headers={"Cache-Control": "max-age=60"})
        await cache.put(key, note)
        return JSONResponse({"stored": True})
    if request.method == "DELETE":
        return JSONResponse({"deleted": await cache.delete(key)})
    hit = await cache.match(key)
    in_default = await caches.default.match(key)
    return JSONResponse(
        {"note": None if hit is None else await hit.text(), "in_default": in_default is not None}
    )


app = Starlette(routes=[Route("/notes/{name}", remember, methods=["GET", "PUT", "DELETE"])])
"""


@pytest.fixture
def cf_worker(tmp_path):
    (tmp_path / "cf_cache_worker.py").write_text(CF_WORKER)
    return {"name": "edge", "main": "cf_cache_worker.py"}


async def test_cloudflare_worker_caches_with_js_caches(hearth, cf_worker):
    clock = ManualClock(1_000_000.0)
    h = await hearth(cf_worker, clock=clock)

    first = await h.SELF.get("/products?page=1")
    assert first.json() == {"origin_hits": 1}
    assert "cf-cache-status" not in first.headers
    await h.runtime.tasks.drain()

    second = await h.SELF.get("/products?page=1")
    assert second.json() == {"origin_hits": 1}
    assert second.headers["cf-cache-status"] == "HIT"
    assert second.headers["cache-control"] == "public, max-age=300"

    other = await h.SELF.get("/products?page=2")
    assert other.json() == {"origin_hits": 2}
    await h.runtime.tasks.drain()

    revalidated = await h.SELF.get("/products?page=1", headers={"If-None-Match": '"v1"'})
    assert revalidated.status_code == 304 and revalidated.content == b""

    clock.advance(300)
    expired = await h.SELF.get("/products?page=1")
    assert expired.json() == {"origin_hits": 3}
    assert "cf-cache-status" not in expired.headers


async def test_starlette_worker_uses_a_named_cache(hearth, tmp_path):
    (tmp_path / "notes_cache_worker.py").write_text(STARLETTE_WORKER)
    h = await hearth({"name": "notes", "main": "notes_cache_worker.py"})
    assert (await h.SELF.put("/notes/a", content="hello")).json() == {"stored": True}
    assert (await h.SELF.get("/notes/a")).json() == {"note": "hello", "in_default": False}
    assert (await h.SELF.delete("/notes/a")).json() == {"deleted": True}
    assert (await h.SELF.get("/notes/a")).json() == {"note": None, "in_default": False}


async def test_each_runtime_has_its_own_memory_cache(hearth, cf_worker, tmp_path):
    one = await hearth(cf_worker, state_dir=tmp_path / "one")
    two = await hearth(cf_worker, state_dir=tmp_path / "two")
    await one.SELF.get("/x")
    await one.runtime.tasks.drain()
    assert storage_of(one.runtime) is not storage_of(two.runtime)
    assert await storage_of(one.runtime).default.match("http://127.0.0.1:8787/x") is not None
    assert await storage_of(two.runtime).default.match("http://127.0.0.1:8787/x") is None


async def test_runtimes_share_a_redis_cache(hearth, cf_worker, tmp_path, redis_prefix):
    settings = {"cache": {"backend": "redis", "prefix": redis_prefix}}
    one = await hearth({**cf_worker, "hearth": settings}, state_dir=tmp_path / "one")
    two = await hearth({**cf_worker, "hearth": settings}, state_dir=tmp_path / "two")
    assert (await one.SELF.get("/shared")).json()["origin_hits"] == 1
    await one.runtime.tasks.drain()
    shared = await two.SELF.get("/shared")
    assert shared.headers["cf-cache-status"] == "HIT"
    assert shared.json() == {"origin_hits": 1}


async def test_bad_cache_settings_name_the_key(hearth, cf_worker):
    from bindings import ConfigError

    h = await hearth({**cf_worker, "hearth": {"cache": {"backend": "disk"}}})
    with pytest.raises(ConfigError, match=r"hearth\.cache\.backend: must be"):
        storage_of(h.runtime)
    h = await hearth({**cf_worker, "hearth": {"cache": {"max_byte": 1}}})
    with pytest.raises(ConfigError, match=r"hearth\.cache\.max_byte: unknown key"):
        storage_of(h.runtime)


async def test_a_failing_redis_makes_match_miss_and_delete_throw(hearth, cf_worker, caplog):
    from bindings import JsException
    from bindings.response import Response
    from bindings.testing import free_port

    dead = f"redis://127.0.0.1:{free_port()}/0"
    h = await hearth({**cf_worker, "hearth": {"cache": {"backend": "redis", "redis_url": dead}}})
    cache = storage_of(h.runtime).default
    await cache.put("http://x/", Response("x", headers={"Cache-Control": "max-age=60"}))
    assert await cache.match("http://x/") is None
    assert caplog.text.count("the Cache API misses until it recovers") == 1
    with pytest.raises(JsException, match=r"^Unable to delete cached response\.$"):
        await cache.delete("http://x/")
    assert (await h.SELF.get("/still-serves")).status_code == 200


def test_caches_outside_a_worker_is_a_clear_error():
    with pytest.raises(RuntimeError, match="caches works only while Hearth runs a worker"):
        _ = caches.default


def test_workers_module_exports_caches():
    import js

    import workers

    assert workers.caches is caches
    assert js.caches is caches
    assert not hasattr(caches, "purge")  # Hearth's helper is not part of the Workers API


@pytest.mark.e2e
def test_cache_answers_over_a_real_socket(tmp_path):
    (tmp_path / "cf_cache_worker.py").write_text(CF_WORKER)
    (tmp_path / "wrangler.toml").write_text('name = "edge"\nmain = "cf_cache_worker.py"\n')
    with server(tmp_path / "wrangler.toml", tmp_path / "state") as s:
        url = f"{s.url}/item"
        assert httpx.get(url).json() == {"origin_hits": 1}
        hit = httpx.get(url)
        assert hit.headers["cf-cache-status"] == "HIT"
        not_modified = httpx.get(url, headers={"If-None-Match": '"v1"'})
        assert not_modified.status_code == 304
        ranged = httpx.get(url, headers={"Range": "bytes=0-4"})
        assert ranged.status_code == 206 and ranged.content == b'{"ori'
        assert httpx.get(url).json() == {"origin_hits": 1}
