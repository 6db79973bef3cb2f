"""Hearth against Miniflare 4, side by side: the same scenarios, data, machine and load generator.

Miniflare is installed with npm into a cache folder outside the repo
(``~/.cache/hearth-bench/miniflare``, or ``$HEARTH_BENCH_CACHE``) and serves
``miniflare/worker.mjs``, the JS twin of ``hearth_app.py``. Both persist their state to disk.
Without node and npm the suite says so and measures Hearth alone.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._util import (
    HERE,
    ROOT,
    Load,
    Options,
    fmt,
    hearth_argv,
    load,
    new_port,
    output_of,
    process,
    rss_mb,
    section,
    table,
)  # fmt: skip
from benchmarks.bare_app import KV_VALUE
from benchmarks.d1 import populate
from benchmarks.durable_objects import _broadcast

CONFIG = HERE / "wrangler_bench.toml"
MINIFLARE_DIR = HERE / "miniflare"
CACHE = Path(os.environ.get("HEARTH_BENCH_CACHE", Path.home() / ".cache" / "hearth-bench"))

SCENARIOS = [
    ("hello", "GET", "/hello"),
    ("KV get", "GET", "/kv/get"),
    ("D1 point select", "GET", "/d1/select"),
    ("D1 insert", "POST", "/d1/insert"),
    ("R2 get 1 KiB", "GET", "/r2/get"),
    ("DO counter increment", "GET", "/do/increment"),
]


FANOUT_ROWS = [
    ("deliveries/s", "delivered_per_s", 0),
    ("p50 ms", "p50_ms", 2),
    ("p99 ms", "p99_ms", 2),
]
PROCESS_ROWS = [
    ("startup to first answer, ms", "startup_ms"),
    ("RSS idle, MiB", "idle_mb"),
    ("RSS after the load, MiB", "after_mb"),
]


class Target:
    """One server under test and what was measured on it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.loads: dict[str, Load] = {}
        self.fanout: dict[str, float] = {}
        self.startup_ms = float("nan")
        self.idle_mb = float("nan")
        self.after_mb = float("nan")

    def measure(self, port: int, pid: int, opts: Options) -> None:
        base = f"http://127.0.0.1:{port}"
        time.sleep(0.5)
        self.idle_mb = rss_mb(pid)
        for name, method, path in SCENARIOS:
            self.loads[name] = load(base + path, opts, method)
        self.fanout = asyncio.run(_broadcast(port, min(opts.duration, 5.0)))
        self.after_mb = rss_mb(pid)


def run(opts: Options) -> None:
    section("Hearth vs Miniflare 4: same scenarios, same data, same load generator")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _seed_files(folder)
        targets = [_hearth(folder, opts)]
        workers = os.cpu_count() or 1
        if workers > 1 and (several := _hearth_behind_nginx(folder, opts, workers)):
            targets.append(several)
        miniflare = _miniflare_home()
        if miniflare is None:
            print("node or npm is missing: measuring Hearth alone")
        else:
            targets.append(_miniflare(miniflare, folder, opts))
    _report(targets, opts)


def _seed_files(folder: Path) -> None:
    (folder / "kv-value.txt").write_text(KV_VALUE)
    (folder / "r2-1k.bin").write_bytes(os.urandom(1024))


def _hearth(folder: Path, opts: Options) -> Target:
    from bindings.d1 import database_path

    state = folder / "hearth"
    populate(database_path(state, "bench"))
    for argv in (
        ["kv", "key", "put", "KV", "bench-key", KV_VALUE],
        ["r2", "object", "put", "bench/bench/1k", "--file", str(folder / "r2-1k.bin")],
    ):
        subprocess.run(
            [sys.executable, "-m", "bindings", *argv, "--config", str(CONFIG),
             "--persist-to", str(state)],
            cwd=ROOT, check=True, capture_output=True,
        )  # fmt: skip
    target = Target("Hearth, 1 process")
    port = new_port()
    started = time.perf_counter()
    with process(hearth_argv(CONFIG, state, port), f"http://127.0.0.1:{port}/hello") as proc:
        target.startup_ms = (time.perf_counter() - started) * 1000
        target.measure(port, proc.pid, opts)
    return target


def _hearth_behind_nginx(folder: Path, opts: Options, workers: int) -> Target | None:
    """``serve --workers N`` behind deploy/nginx.conf, as production runs (the same state)."""
    from bindings.testing import NGINX, Nginx, free_ports, wait_healthy

    if not Path(NGINX).exists():
        print("nginx is missing: no N-process column (apt-get install nginx)")
        return None
    target = Target(f"Hearth, {workers} processes + nginx")
    port, admin = free_ports(workers), free_ports(workers)
    argv = [*hearth_argv(CONFIG, folder / "hearth", port, workers), "--admin-port", str(admin)]
    started = time.perf_counter()
    with process(argv, f"http://127.0.0.1:{port}/hello") as proc:
        for i in range(1, workers):
            wait_healthy(f"http://127.0.0.1:{port + i}", 30, proc)
        target.startup_ms = (time.perf_counter() - started) * 1000
        with Nginx(folder / "nginx", port, workers) as proxy:
            target.measure(proxy.port, proc.pid, opts)
    return target


def _miniflare_home() -> Path | None:
    """Miniflare installed (once) into the cache folder, or None without node and npm."""
    if not (shutil.which("node") and shutil.which("npm")):
        return None
    home = CACHE / "miniflare"
    wanted = json.loads((MINIFLARE_DIR / "package.json").read_text())["dependencies"]["miniflare"]
    installed = home / "node_modules" / "miniflare" / "package.json"
    if not installed.exists() or json.loads(installed.read_text())["version"] != wanted:
        home.mkdir(parents=True, exist_ok=True)
        shutil.copy(MINIFLARE_DIR / "package.json", home / "package.json")
        print(f"installing miniflare {wanted} into {home} ...", flush=True)
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=home, check=True, capture_output=True,
        )  # fmt: skip
    return home


def _miniflare(home: Path, folder: Path, opts: Options) -> Target:
    persist = folder / "miniflare"
    persist.mkdir()
    target = Target("Miniflare 4")
    port = new_port()
    argv = ["node", str(MINIFLARE_DIR / "run.mjs"), str(home), str(port), str(persist)]
    started = time.perf_counter()
    with process(argv, f"http://127.0.0.1:{port}/hello") as proc:
        target.startup_ms = (time.perf_counter() - started) * 1000
        _wait_for(proc, b"READY")  # run.mjs prints it once its data is seeded
        target.measure(port, proc.pid, opts)
    return target


def _wait_for(proc: subprocess.Popen[bytes], marker: bytes, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if marker in output_of(proc):
            return
        time.sleep(0.1)
    raise TimeoutError(f"{proc.args!r} never printed {marker!r}:\n{output_of(proc).decode()}")


def _report(targets: list[Target], opts: Options) -> None:
    hearth = targets[0]
    other = targets[-1] if targets[-1].name.startswith("Miniflare") else None
    header = ["scenario"]
    for t in targets:
        header += [f"{t.name} req/s", "p50 ms", "p99 ms"]
    if other:
        header.append("Hearth (1 process) / Miniflare")
    rows: list[list[object]] = []
    for name, _, _ in SCENARIOS:
        row: list[object] = [name]
        for t in targets:
            m = t.loads[name]
            row += [fmt(m.rps), fmt(m.p50_ms, 2), fmt(m.p99_ms, 2)]
        if other:
            row.append(f"{hearth.loads[name].rps / other.loads[name].rps:.1f}x")
        rows.append(row)
    table(header, rows)
    print()
    lines: list[list[object]] = []
    for label, key, digits in FANOUT_ROWS:
        lines.append([label, *(fmt(t.fanout[key], digits) for t in targets)])
    for label, attr in PROCESS_ROWS:
        lines.append([label, *(fmt(getattr(t, attr), 0) for t in targets)])
    table(["WebSocket fan-out (50 sockets) and the process", *(t.name for t in targets)], lines)
    tool = hearth.loads["hello"].tool
    print(f"\nload: {tool}, {opts.threads} threads, {opts.connections} connections, "
          f"{opts.duration:g}s per scenario; every server persists to disk")  # fmt: skip
