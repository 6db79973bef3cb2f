"""R2: put/get speed per backend, a server's memory while streaming 100 MiB, R2 get over HTTP.

1. In process, per backend: put and get ops/s of 1 KiB objects, MB/s of 10 MiB objects (s3
   against a moto server the bench starts: those figures are moto's more than Hearth's).
2. A Hearth server streams a 100 MiB object out through ``object_response`` while a client
   downloads it; its VmRSS is sampled every 5 ms (target: peak < idle + 50 MiB).
3. "R2 get 1 KiB" under load: bare Starlette reading the file from disk vs Hearth through
   ``env.BUCKET.get`` (target: at least 5x Miniflare, about 1.5k req/s on the reference box).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

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
    rss_mb,
    section,
    table,
    uvicorn_argv,
)  # fmt: skip
from bindings.testing import load_config, port_open

CONFIG = HERE / "wrangler_bench.toml"
MINIFLARE_R2_GET_RPS = 1_500  # Miniflare 4's R2 get of 1 KiB on the reference machine
KIB, MIB = 1024, 1024 * 1024
BIG_MIB = 100
RSS_TARGET_MIB = 50
Speeds = tuple[float, float, float, float]  # put/get 1 KiB ops/s, put/get 10 MiB MB/s


def run(opts: Options) -> None:
    section("r2: put/get per backend, streaming memory, R2 get 1 KiB (bare Starlette vs Hearth)")
    with tempfile.TemporaryDirectory() as tmp:
        rows: list[list[object]] = [["fs", *_figures(_speeds(_doc({}), Path(tmp) / "fs", opts))]]
        with _moto() as s3:
            if s3 is None:
                rows.append(["s3", "skipped: moto[server] is not installed", "", "", ""])
            else:
                state = Path(tmp) / "s3"
                rows.append(["s3 (moto)", *_figures(_speeds(_doc(s3), state, opts))])
        table(["backend", "put 1 KiB ops/s", "get 1 KiB ops/s", "put 10 MiB MB/s",
               "get 10 MiB MB/s"], rows)  # fmt: skip
        _server_scenarios(Path(tmp), opts)


def _figures(speeds: Speeds) -> list[object]:
    return [fmt(speeds[0]), fmt(speeds[1]), fmt(speeds[2], 1), fmt(speeds[3], 1)]


def _doc(store: dict[str, Any]) -> dict[str, Any]:
    bucket = {"binding": "BUCKET", "bucket_name": "bench", **store}
    return {"workers": [{"name": "w", "main": "workers.hello.entry", "r2_buckets": [bucket]}]}


def _speeds(doc: dict[str, Any], state: Path, opts: Options) -> Speeds:
    """put/get ops/s of 1 KiB and MB/s of 10 MiB objects, in one runtime on ``state``."""
    state.mkdir(parents=True)
    return asyncio.run(_measure(doc, state, opts))


async def _measure(doc: dict[str, Any], state: Path, opts: Options) -> Speeds:
    from bindings.runtime import Runtime

    seconds = 0.5 if opts.quick else 2.0
    async with Runtime(load_config(doc, state), state_dir=state, mode="serve") as runtime:
        bucket = runtime.worker("w").env.BUCKET
        small = os.urandom(KIB)
        count = 0

        async def put_small() -> None:
            nonlocal count
            count += 1
            await bucket.put(f"small/{count % 1000}", small)

        async def get_small() -> None:
            obj = await bucket.get("small/1")
            await obj.bytes()

        put_rate = await ops_per_sec(put_small, seconds)
        get_rate = await ops_per_sec(get_small, seconds)
        big = os.urandom(10 * MIB)
        rounds = 2 if opts.quick else 5
        start = time.perf_counter()
        for i in range(rounds):
            await bucket.put(f"big/{i}", big)
        put_mbs = rounds * 10 / (time.perf_counter() - start)
        start = time.perf_counter()
        for i in range(rounds):
            obj = await bucket.get(f"big/{i}")
            async for _ in obj.body:
                pass
        get_mbs = rounds * 10 / (time.perf_counter() - start)
    return put_rate, get_rate, put_mbs, get_mbs


@contextlib.contextmanager
def _moto() -> Iterator[dict[str, Any] | None]:
    """A moto S3 server in a subprocess, and the store keys of a bucket created on it."""
    try:
        import boto3
    except ImportError:
        yield None
        return
    port = new_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not port_open("127.0.0.1", port) and time.monotonic() < deadline:
            time.sleep(0.05)
        endpoint = f"http://127.0.0.1:{port}"
        keys = {"access_key_id": "bench", "secret_access_key": "bench", "region": "us-east-1"}
        boto3.client(
            "s3", endpoint_url=endpoint, aws_access_key_id="bench",
            aws_secret_access_key="bench", region_name="us-east-1",
        ).create_bucket(Bucket="bench")  # fmt: skip
        yield {"backend": "s3", "endpoint": endpoint, **keys}
    finally:
        proc.terminate()
        proc.wait(10)


def _put(state: Path, key: str, source: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "bindings", "r2", "object", "put", f"bench/{key}", "--file",
         str(source), "--config", str(CONFIG), "--persist-to", str(state)],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip


def _server_scenarios(tmp: Path, opts: Options) -> None:
    state = tmp / "server"
    small, big = tmp / "1k.bin", tmp / "big.bin"
    small.write_bytes(os.urandom(KIB))
    with big.open("wb") as out:
        for _ in range(BIG_MIB):
            out.write(os.urandom(MIB))
    _put(state, "bench/1k", small)
    _put(state, "big", big)
    big.unlink()

    port = new_port()
    base = f"http://127.0.0.1:{port}"
    with process(hearth_argv(CONFIG, state, port), base + "/hello") as proc:
        httpx.get(base + "/r2/media/big", headers={"Range": "bytes=0-0"})  # warm the route
        time.sleep(0.5)
        idle = rss_mb(proc.pid)
        peak, seconds, received = _download(base + "/r2/media/big", proc.pid)
        print(
            f"\nstreaming {BIG_MIB} MiB out through object_response: RSS {idle:.1f} MiB idle, "
            f"peak {peak:.1f} MiB (+{peak - idle:.1f} MiB; target < +{RSS_TARGET_MIB}), "
            f"{received / MIB / seconds:,.0f} MB/s to one client"
        )
        hearth = load(base + "/r2/get", opts)
    port = new_port()
    env = {"BENCH_R2_FILE": str(small)}
    with process(uvicorn_argv("bare_app:app", port), f"http://127.0.0.1:{port}/hello", env=env):
        bare = load(f"http://127.0.0.1:{port}/r2/get", opts)
    print()
    table(
        ["R2 get 1 KiB", "req/s", "p50 ms", "p99 ms", "vs bare", "vs Miniflare (~1.5k)"],
        [
            ["bare Starlette (file read)", fmt(bare.rps), fmt(bare.p50_ms, 2),
             fmt(bare.p99_ms, 2), "1.00x", f"{bare.rps / MINIFLARE_R2_GET_RPS:.1f}x"],
            ["Hearth (env.BUCKET.get)", fmt(hearth.rps), fmt(hearth.p50_ms, 2),
             fmt(hearth.p99_ms, 2), f"{hearth.rps / bare.rps:.2f}x",
             f"{hearth.rps / MINIFLARE_R2_GET_RPS:.1f}x (target >= 5x)"],
        ],
    )  # fmt: skip
    print(f"\nload: {hearth.tool}, {opts.connections} connections, {opts.duration:g}s each")


def _download(url: str, pid: int) -> tuple[float, float, int]:
    """Download ``url`` while sampling the server's RSS; (peak MiB, seconds, bytes)."""
    peak = rss_mb(pid)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_mb(pid))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    received = 0
    start = time.perf_counter()
    try:
        with httpx.stream("GET", url, timeout=120) as response:
            response.raise_for_status()
            for chunk in response.iter_raw():
                received += len(chunk)
    finally:
        seconds = time.perf_counter() - start
        done.set()
        sampler.join()
    if received != BIG_MIB * MIB:
        raise RuntimeError(f"downloaded {received} bytes, expected {BIG_MIB * MIB}")
    return peak, seconds, received
