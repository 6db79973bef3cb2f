"""Runtime core: startup time, idle RSS, and the host's cost over a bare Starlette app."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from benchmarks._util import (
    HERE,
    Options,
    hearth_argv,
    load,
    load_rows,
    new_port,
    process,
    rss_mb,
    section,
    table,
    uvicorn_argv,
)  # fmt: skip

CONFIG = HERE / "wrangler_bench.toml"


def run(opts: Options) -> None:
    section("core: startup, memory, hello (bare Starlette vs Hearth)")
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        startups = []
        for _ in range(2 if opts.quick else 5):
            port = new_port()
            t0 = time.perf_counter()
            with process(hearth_argv(CONFIG, state, port), f"http://127.0.0.1:{port}/hello"):
                startups.append((time.perf_counter() - t0) * 1000)
        port = new_port()
        base = f"http://127.0.0.1:{port}"
        with process(hearth_argv(CONFIG, state, port), base + "/hello") as proc:
            time.sleep(0.5)
            idle = rss_mb(proc.pid)
            hearth = load(base + "/hello", opts)
            cf = load(base + "/cf/hello", opts)
            after = rss_mb(proc.pid)
        port = new_port()
        with process(uvicorn_argv("bare_app:app", port), f"http://127.0.0.1:{port}/hello"):
            bare = load(f"http://127.0.0.1:{port}/hello", opts)

    table(
        ["scenario", "req/s", "p50 ms", "p99 ms", "vs bare"],
        load_rows(bare, [("Hearth, Starlette worker", hearth),
                         ("Hearth, Default(WorkerEntrypoint)", cf)], "bare Starlette app"),
    )  # fmt: skip
    print(f"\nload: {hearth.tool}, {opts.connections} connections, {opts.duration:g}s each")
    print(
        f"startup to first answer: median {statistics.median(startups):.0f} ms "
        f"(min {min(startups):.0f}, max {max(startups):.0f}, {len(startups)} runs)"
    )
    print(f"RSS: {idle:.1f} MiB idle, {after:.1f} MiB after the hello load")
