"""KV: operations per second through the binding, per backend, and a route doing one KV get.

In-process figures call ``env.KV`` directly (no HTTP): get served by the read cache, get that
reaches the backend (a namespace with ``cache_ttl = 0``), put, and list of a 100-key page.
The HTTP figures compare ``/kv/get`` in bare_app (a cachetools lookup in front of sqlite3,
written by hand) with the same route in hearth_app (``request.scope["env"].KV.get``).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from benchmarks._util import (
    HERE,
    ROOT,
    Options,
    fmt,
    hearth_argv,
    load,
    new_port,
    ops_per_sec,
    process,
    section,
    table,
    uvicorn_argv,
)  # fmt: skip
from benchmarks.bare_app import KV_VALUE
from bindings.config import from_document
from bindings.kv import KVPlugin
from bindings.redis_pool import redis_client, redis_url
from bindings.runtime import Runtime
from bindings.testing import port_open

CONFIG = HERE / "wrangler_bench.toml"
MINIFLARE_KV_GET = 2_600  # req/s measured for Miniflare 4 on a 2-core machine (issue 13)


def run(opts: Options) -> None:
    section("kv: binding operations per second, and one KV get per request")
    seconds = 0.5 if opts.quick else 2.0
    rows: list[list[object]] = []
    for backend in ("sqlite", "redis"):
        if backend == "redis" and not port_open("127.0.0.1", 6379):
            print("redis: skipped (no Redis on 127.0.0.1:6379)")
            continue
        for name, rate in asyncio.run(_binding_ops(backend, seconds)):
            rows.append([backend, name, fmt(rate)])
    table(["backend", "operation (through env.KV)", "ops/s"], rows)
    print()
    _http(opts)


async def _binding_ops(backend: str, seconds: float) -> list[tuple[str, float]]:
    prefix = f"hearth-bench:{uuid.uuid4().hex}:"
    with tempfile.TemporaryDirectory() as tmp:
        doc = {
            "hearth": {"kv": {"backend": backend, "redis_prefix": prefix}},
            "workers": [
                {
                    "name": "bench",
                    "main": "hearth_app:app",
                    "kv_namespaces": [
                        {"binding": "KV", "id": "bench"},
                        {"binding": "UNCACHED", "id": "bench", "cache_ttl": 0},
                    ],
                }
            ],
        }
        runtime = Runtime(from_document(doc, Path(tmp) / "wrangler_compat.toml"), state_dir=tmp)
        await runtime.open_plugins()
        try:
            plugin = runtime.plugin(KVPlugin)
            assert isinstance(plugin, KVPlugin)
            kv, uncached = (plugin.namespace(d) for _, d in plugin.decls())
            value = "v" * 200
            await kv.put("key", value)
            for i in range(100):
                await kv.put(f"list/{i:03}", value, metadata={"i": i})
            return [
                ("get, cache hit", await ops_per_sec(lambda: kv.get("key"), seconds)),
                ("get, from the backend", await ops_per_sec(lambda: uncached.get("key"), seconds)),
                ("put", await ops_per_sec(lambda: kv.put("put-key", value), seconds)),
                (
                    "list, 100-key page",
                    await ops_per_sec(lambda: kv.list(prefix="list/", limit=100), seconds),
                ),
            ]
        finally:
            if backend == "redis":
                client = redis_client(runtime, redis_url(runtime))
                async for key in client.scan_iter(match=prefix + "*", count=1000):
                    await client.delete(key)
            await runtime.stop()


def _http(opts: Options) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        value = KV_VALUE
        put = [sys.executable, "-m", "bindings", "kv", "key", "put", "KV", "bench-key", value,
               "--config", str(CONFIG), "--persist-to", str(state)]  # fmt: skip
        subprocess.run(put, cwd=ROOT, check=True, capture_output=True)
        port = new_port()
        url = f"http://127.0.0.1:{port}/kv/get"
        with process(hearth_argv(CONFIG, state, port), url):
            hearth = load(url, opts)
        port = new_port()
        url = f"http://127.0.0.1:{port}/kv/get"
        env = {"BENCH_KV_DB": str(Path(tmp) / "bare.db")}
        with process(uvicorn_argv("bare_app:app", port), url, env=env):
            bare = load(url, opts)
    table(
        ["GET /kv/get (one KV get)", "req/s", "p50 ms", "p99 ms", "vs bare", "vs Miniflare"],
        [
            ["bare Starlette app", fmt(bare.rps), fmt(bare.p50_ms, 2), fmt(bare.p99_ms, 2),
             "1.00x", f"{bare.rps / MINIFLARE_KV_GET:.1f}x"],
            ["Hearth, env.KV.get", fmt(hearth.rps), fmt(hearth.p50_ms, 2), fmt(hearth.p99_ms, 2),
             f"{hearth.rps / bare.rps:.2f}x", f"{hearth.rps / MINIFLARE_KV_GET:.1f}x"],
        ],
    )  # fmt: skip
    print(
        f"\nload: {hearth.tool}, {opts.connections} connections, {opts.duration:g}s each; "
        f"'vs Miniflare' divides by {MINIFLARE_KV_GET:,} req/s, issue 13's figure for Miniflare 4 "
        "(target: >= 8x)"
    )
