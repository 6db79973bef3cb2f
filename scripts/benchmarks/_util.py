"""Shared benchmark plumbing: servers, wrk, in-process timing, RSS, tables."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

from bindings.testing import free_port

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


@dataclass
class Options:
    duration: float = 10.0
    connections: int = 64
    threads: int = 2
    quick: bool = False


@dataclass
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    tool: str


def section(title: str) -> None:
    print(f"\n## {title}\n", flush=True)


def table(header: list[str], rows: list[list[object]]) -> None:
    every: list[list[object]] = [list(header), *rows]
    cells = [[str(c) for c in row] for row in every]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for n, row in enumerate(cells):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))
    sys.stdout.flush()


def fmt(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def load_rows(bare: Load, others: list[tuple[str, Load]], bare_label: str) -> list[list[object]]:
    """Rows of req/s, p50, p99 and the ratio to the bare app, bare first."""
    rows: list[list[object]] = []
    for label, result in [(bare_label, bare), *others]:
        rows.append([label, fmt(result.rps), fmt(result.p50_ms, 2), fmt(result.p99_ms, 2),
                     f"{result.rps / bare.rps:.2f}x"])  # fmt: skip
    return rows


def percentiles_ms(samples_ns: list[int]) -> tuple[float, float]:
    """The median and 99th percentile of durations in ns, in ms."""
    ordered = sorted(samples_ns)
    return statistics.median(ordered) / 1e6, ordered[int(len(ordered) * 0.99)] / 1e6


def rss_mb(pid: int) -> float:
    """Resident set size of a process and its children (uvicorn workers), in MiB."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        with contextlib.suppress(FileNotFoundError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


@contextlib.contextmanager
def process(
    argv: list[str], url: str, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server process and wait until ``url`` answers 200."""
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, **(env or {})})  # fmt: skip
    _logs[proc.pid] = log
    try:
        wait_ready(url, proc, log)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        del _logs[proc.pid]


_logs: dict[int, IO[bytes]] = {}


def output_of(proc: subprocess.Popen[bytes]) -> bytes:
    """What a process started by ``process`` has printed so far."""
    log = _logs[proc.pid]
    position = log.tell()
    log.seek(0)
    data = log.read()
    log.seek(position)
    return data


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: object, timeout: float = 30) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if proc.poll() is not None:
            log.seek(0)  # type: ignore[attr-defined]
            raise RuntimeError(f"server exited: {log.read().decode()[-2000:]}")  # type: ignore[attr-defined]
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return time.perf_counter() - start
        time.sleep(0.005)
    raise TimeoutError(url)


def hearth_argv(config: Path, state: Path, port: int, workers: int = 1) -> list[str]:
    return [sys.executable, "-m", "bindings", "serve", "--config", str(config),
            "--persist-to", str(state), "--port", str(port), "--workers", str(workers)]  # fmt: skip


def uvicorn_argv(app: str, port: int) -> list[str]:
    return [sys.executable, "-m", "uvicorn", app, "--app-dir", str(HERE), "--port", str(port),
            "--no-access-log", "--log-level", "warning"]  # fmt: skip


def load(
    url: str,
    opts: Options,
    method: str = "GET",
    body: str | None = None,
    headers: dict[str, str] | None = None,
) -> Load:
    """Drive ``url`` for opts.duration seconds; wrk when installed, else a Python generator."""
    if shutil.which("wrk"):
        return _wrk(url, opts, method, body, headers or {})
    return asyncio.run(_python_load(url, opts, method, body, headers or {}))


def _wrk(url: str, opts: Options, method: str, body: str | None, headers: dict[str, str]) -> Load:
    argv = [
        "wrk",
        f"-t{opts.threads}",
        f"-c{opts.connections}",
        f"-d{opts.duration:g}s",
        "--latency",
    ]
    script = None
    if method != "GET" or body is not None or headers:
        script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
        payload = (body or "").replace("\\", "\\\\").replace('"', '\\"')
        script.write(f'wrk.method = "{method}"\nwrk.body = "{payload}"\n'
                     'wrk.headers["Content-Type"] = "application/json"\n')  # fmt: skip
        for name, value in headers.items():
            script.write(f'wrk.headers["{name}"] = "{value}"\n')
        script.close()
        argv += ["-s", script.name]
    out = subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout
    if script:
        os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"{url}: {non2xx.group(1)} non-2xx responses under load")
    return Load(rps, _pct(out, "50%"), _pct(out, "99%"), "wrk")


def _pct(out: str, label: str) -> float:
    m = re.search(rf"^\s+{re.escape(label)}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    if not m:
        return float("nan")
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


async def _python_load(
    url: str, opts: Options, method: str, body: str | None, headers: dict[str, str]
) -> Load:
    latencies: list[float] = []
    deadline = time.perf_counter() + opts.duration
    limits = httpx.Limits(max_connections=opts.connections)
    async with httpx.AsyncClient(limits=limits) as client:

        async def worker() -> None:
            while time.perf_counter() < deadline:
                t = time.perf_counter()
                r = await client.request(method, url, content=body, headers=headers)
                r.raise_for_status()
                latencies.append((time.perf_counter() - t) * 1000)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(opts.connections)))
        elapsed = time.perf_counter() - start
    latencies.sort()
    return Load(
        len(latencies) / elapsed,
        statistics.median(latencies),
        latencies[int(len(latencies) * 0.99)],
        "python (install wrk for real figures)",
    )


async def ops_per_sec(op: Callable[[], Awaitable[object]], seconds: float = 1.0) -> float:
    """Run ``op`` sequentially for about ``seconds``; return operations per second."""
    for _ in range(50):  # warm caches and lazy paths
        await op()
    count = 0
    start = time.perf_counter()
    while True:
        for _ in range(100):
            await op()
        count += 100
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return count / elapsed


def new_port() -> int:
    return free_port()


class WebSocketClient(asyncio.Protocol):
    """A minimal WebSocket client for load generation: unmasked server frames in (text frames go
    to ``received(payload, now_ns)``, pings are answered), zero-key masked frames out, so the
    generator costs little next to the server it measures. ``await Cls.open(port, path, ...)``
    connects and upgrades (the extra arguments go to the constructor)."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.handshake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    @classmethod
    async def open(cls, port: int, path: str, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        _, client = await loop.create_connection(lambda: cls(*args), "127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        assert client.transport is not None
        client.transport.write(
            (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
             f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
             "Sec-WebSocket-Version: 13\r\n\r\n").encode()
        )  # fmt: skip
        await client.handshake
        return client

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        if not self.handshake.done():
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self.handshake.set_exception(RuntimeError(bytes(buf[:end]).decode()))
                return
            del buf[: end + 4]
            self.handshake.set_result(None)
        at, size = 0, len(buf)
        now = time.perf_counter_ns()
        while size - at >= 2:
            opcode, length, head = buf[at] & 0x0F, buf[at + 1] & 0x7F, 2
            if length >= 126:
                head = 4 if length == 126 else 10
                if size - at < head:
                    break
                length = int.from_bytes(buf[at + 2 : at + head], "big")
            if size - at < head + length:
                break
            payload = buf[at + head : at + head + length]
            at += head + length
            if opcode == 0x1:
                self.received(payload, now)
            elif opcode == 0x9:
                self.write_frame(bytes(payload), 0xA)
        del buf[:at]

    def received(self, payload: bytearray, now_ns: int) -> None:
        """A text frame arrived (``now_ns``: when its data did, ``perf_counter_ns``)."""

    def close(self) -> None:
        assert self.transport is not None
        self.transport.close()

    def write_frame(self, payload: bytes, opcode: int = 0x1) -> None:
        size = len(payload)
        if size < 126:
            head = bytes([0x80 | opcode, 0x80 | size])
        elif size < 65536:
            head = bytes([0x80 | opcode, 0x80 | 126]) + size.to_bytes(2, "big")
        else:
            head = bytes([0x80 | opcode, 0x80 | 127]) + size.to_bytes(8, "big")
        assert self.transport is not None
        self.transport.write(head + b"\0\0\0\0" + payload)
