"""The shop (auth, api and cart workers) on a real server, seeded with ``scripts/seed``.

HTTP load on the catalogue's read paths: a product list page and a product page (both served
from the KV cache after the first request) and a full-text search (FTS5, never cached). Then
orders: customers each filling a cart and ordering, one request at a time per customer, a few
customers at once: orders placed per second and the latency of ``POST /orders`` (cart checkout
RPC, the one-batch D1 transaction, cart update, cache invalidation).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

import httpx

from benchmarks._util import (
    ROOT,
    Options,
    fmt,
    hearth_argv,
    load,
    new_port,
    percentiles_ms,
    process,
    section,
    table,
)

PRODUCTS = 200
BUYERS = 8
SECRETS = {"BETTER_AUTH_SECRET": "bench-better-auth-secret-0123456789",
           "JWT_SECRET": "bench-jwt-secret-0123456789abcdef0123456789"}  # fmt: skip


def run(opts: Options) -> None:
    section("api: the shop's catalogue and orders, through a real server (scripts/seed data)")
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "wrangler.json"
        config.write_text(json.dumps(_config()))
        (Path(tmp) / ".dev.vars").write_text("".join(f"{k}={v}\n" for k, v in SECRETS.items()))
        state = Path(tmp) / "state"
        seed = [sys.executable, str(ROOT / "scripts" / "seed"), "--config", str(config),
                "--persist-to", str(state), "--products", str(PRODUCTS)]  # fmt: skip
        subprocess.run(seed, check=True, capture_output=True)
        port = new_port()
        base = f"http://127.0.0.1:{port}"
        with process(hearth_argv(config, state, port), f"{base}/__hearth/health"):
            for path in ("/products", "/products/1", "/search?q=classic"):
                httpx.get(base + path).raise_for_status()  # warm: the cache holds them now
            rows: list[list[object]] = []
            scenarios = [
                ("GET /products (KV cache hit)", "/products"),
                ("GET /products/1 (KV cache hit)", "/products/1"),
                ("GET /search?q=classic (FTS5, bm25)", "/search?q=classic"),
            ]
            for label, path in scenarios:
                result = load(base + path, opts)
                rows.append([label, fmt(result.rps), fmt(result.p50_ms, 2),
                             fmt(result.p99_ms, 2), result.tool])  # fmt: skip
            table(["scenario", "req/s", "p50 ms", "p99 ms", "load"], rows)
            orders = asyncio.run(_orders(base, opts.duration))
    table(
        ["orders", "value"],
        [
            [f"orders/s ({BUYERS} customers, each add to cart + order in turn)",
             fmt(orders["per_s"], 1)],
            ["POST /orders p50 ms", fmt(orders["p50"], 2)],
            ["POST /orders p99 ms", fmt(orders["p99"], 2)],
        ],
    )  # fmt: skip


def _config() -> dict[str, Any]:
    """The project's auth, api and cart workers, the repository's migrations."""
    doc = tomllib.loads((ROOT / "wrangler_compat.toml").read_text())
    workers = [w for w in doc["workers"] if w["name"] in ("auth", "api", "cart")]
    for worker in workers:
        for db in worker.get("d1_databases", []):
            db["migrations_dir"] = str(ROOT / "migrations")
        if worker["name"] == "auth":
            worker["vars"] = {**worker.get("vars", {}), "AUTH_RATE_LIMIT": "false"}
    return {"compatibility_date": doc["compatibility_date"], "workers": workers}


async def _orders(base: str, seconds: float) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        # Stock enough for the whole run: every product that has some.
        listed = (await client.get("/products?limit=100")).json()["products"]
        stocked = [p["id"] for p in listed if p["inventory_count"] > 0]
        buyers = [await _customer(client, n) for n in range(BUYERS)]
        samples: list[int] = []
        deadline = time.perf_counter() + seconds
        start = time.perf_counter()

        async def shop(n: int, headers: dict[str, str]) -> None:
            i = n
            while time.perf_counter() < deadline:
                product = stocked[i % len(stocked)]
                i += BUYERS
                added = await client.post("/cart/items", headers=headers,
                                          json={"productId": product})  # fmt: skip
                if added.status_code != 200:
                    continue  # sold out meanwhile
                t = time.perf_counter_ns()
                response = await client.post("/orders", headers=headers)
                if response.status_code == 201:
                    samples.append(time.perf_counter_ns() - t)
                else:
                    await client.delete("/cart", headers=headers)

        await asyncio.gather(*(shop(n, headers) for n, headers in enumerate(buyers)))
        elapsed = time.perf_counter() - start
    p50, p99 = percentiles_ms(samples) if samples else (float("nan"), float("nan"))
    return {"per_s": len(samples) / elapsed, "p50": p50, "p99": p99}


async def _customer(client: httpx.AsyncClient, n: int) -> dict[str, str]:
    email = f"bench{n}@example.com"
    await client.post("/auth/register", json={"email": email, "password": "bench-password"})
    login = await client.post("/auth/login", json={"email": email, "password": "bench-password"})
    login.raise_for_status()
    return {"authorization": f"Bearer {login.json()['accessToken']}"}
