"""The PerformanceMonitor middleware: X-Request-ID, X-Response-Time, daily metrics in KV."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from tests.api.shop import start_shop
from workers.api.monitor import PROCESS, daily_metrics, metrics_key


def today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


async def test_headers_on_every_answer(shop, alice):
    for method, path, user in [
        ("GET", "/products", None),
        ("GET", "/products/999", None),
        ("GET", "/cart", None),
        ("GET", "/cart", alice),
        ("POST", "/orders", alice),
    ]:
        response = await shop.request(method, path, user)
        uuid.UUID(response.headers["x-request-id"])
        assert re.fullmatch(r"\d+\.\dms", response.headers["x-response-time"]), path
    ids = {(await shop.get("/products")).headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3


async def test_the_hosts_request_id_is_kept(hearth, tmp_path):
    # With the access log on, the host names each request (the client's X-Request-ID or its
    # own) in scope["hearth.request_id"]; the monitor answers with that same id.
    shop = await start_shop(hearth, tmp_path, settings={"access_log": True})
    response = await shop.get("/products", headers={"x-request-id": "trace-42"})
    assert response.headers["x-request-id"] == "trace-42"
    generated = (await shop.get("/categories")).headers["x-request-id"]
    assert generated != "trace-42" and not _is_uuid(generated)  # the host's own id


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


async def test_daily_metrics_rolled_up_after_the_responses(shop, alice):
    statuses = []
    for path, user in [
        ("/products", None),
        ("/products/5", None),
        ("/cart", alice),
        ("/cart", None),
        ("/products", None),
    ]:
        statuses.append((await shop.get(path, user)).status_code)
    await shop.settle()
    kv = shop.api.CACHE
    api = await daily_metrics(kv, today(), "api")
    assert api["requests"] == 3 and api["errors"] == 0
    assert api["statusCodes"] == {"200": 2, "404": 1}
    assert api["totalDuration"] > 0
    cart = await daily_metrics(kv, today(), "cart")
    assert cart["requests"] == 2 and cart["statusCodes"] == {"200": 1, "401": 1}
    both = await daily_metrics(kv, today())
    assert both["requests"] == 5
    stored = await kv.get(metrics_key(today(), "api", PROCESS), "json")
    assert stored["requests"] == 3
    for _ in range(4):
        await shop.get("/categories")
    await shop.settle()
    assert (await daily_metrics(kv, today(), "api"))["requests"] == 7


async def test_metrics_of_concurrent_requests_are_not_lost(shop):
    import asyncio

    await asyncio.gather(*(shop.get("/categories") for _ in range(40)))
    await shop.settle()
    assert (await daily_metrics(shop.api.CACHE, today(), "api"))["requests"] == 40


async def test_an_unhandled_error_is_a_json_500_with_the_headers(hearth):
    worker = {
        "name": "t",
        "main": "tests.api.failing_worker:app",
        "routes": ["/*"],
        "kv_namespaces": [{"binding": "CACHE"}],
    }
    h = await hearth({"workers": [worker]})
    response = await h.SELF.get("/boom")
    assert response.status_code == 500 and response.json() == {"error": "Internal Server Error"}
    assert "x-request-id" in response.headers and "x-response-time" in response.headers
    await h.runtime.tasks.drain()
    metrics = await daily_metrics(h.env().CACHE, today(), "t")
    assert metrics["errors"] == 1 and metrics["statusCodes"] == {"500": 1}
