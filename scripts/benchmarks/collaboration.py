"""Collaboration: one room with 50 editors, through a real server (auth + collaboration).

Every client signs in (one account, a socket each), receives the document, then edits as the
page does: one operation in flight, the next sent when the server acknowledges it, each made
against the version the client has seen (so the server transforms it against whatever landed
in between). Clients alternate inserting a unique 6-character word at a random place and
deleting 6 characters, so the document stays the same size. Measured: operations applied per
second with every client sending as fast as acknowledgements allow, and the latency from a
client sending an insert to each other client receiving it (49 samples an insert); then the
same latency at typing pace (5 operations a second per client).
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import sqlite3
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
    WebSocketClient,
    fmt,
    hearth_argv,
    new_port,
    percentiles_ms,
    process,
    section,
    table,
)

CLIENTS = 50
TYPING_RATE = 5.0  # operations a second per client in the typing-pace phase (~250/s in all)
WORD = 6  # characters an insert adds and a delete removes
EMAIL, PASSWORD = "bench@example.com", "bench-password-1"


def run(opts: Options) -> None:
    section(f"collaboration: one room, {CLIENTS} editors, through a real server")
    with tempfile.TemporaryDirectory() as tmp:
        config, state = _setup(Path(tmp))
        port = new_port()
        with process(hearth_argv(config, state, port), f"http://127.0.0.1:{port}/__hearth/health"):
            result = asyncio.run(_room(port, opts.duration))
            logged = _logged(state, result["version"])
    typing_p50 = fmt(result["typing_p50"], 2)
    table(
        ["collaboration", "value"],
        [
            ["editors in the room (one socket each)", str(CLIENTS)],
            ["connect + document_state, per client ms", fmt(result["connect_ms"], 2)],
            ["operations applied/s (1 in flight per client)", fmt(result["per_s"])],
            ["latency under that load p50 ms (send -> each other client)", fmt(result["p50"], 2)],
            ["latency under that load p99 ms", fmt(result["p99"], 2)],
            [f"latency at typing pace ({TYPING_RATE:g} ops/s each) p50 ms", typing_p50],
            ["latency at typing pace p99 ms", fmt(result["typing_p99"], 2)],
            ["operations refused (client resent the document)", str(result["refused"])],
            ["operations in the D1 log / applied", f"{logged:,} / {result['version']:,}"],
        ],
    )


def _setup(folder: Path) -> tuple[Path, Path]:
    """The project's auth and collaboration workers, secrets, migrated state and one user."""
    doc = tomllib.loads((ROOT / "wrangler_compat.toml").read_text())
    workers = [w for w in doc["workers"] if w["name"] in ("auth", "collaboration")]
    for worker in workers:
        for db in worker.get("d1_databases", []):
            db["migrations_dir"] = str(ROOT / "migrations")
        if worker["name"] == "auth":
            worker["vars"] = {**worker.get("vars", {}), "AUTH_RATE_LIMIT": "false"}
        else:  # the server's speed, not the per-socket limit
            worker["vars"] = {**worker.get("vars", {}), "FRAMES_PER_SECOND": 10**9}
    config = folder / "wrangler.json"
    config.write_text(json.dumps({"compatibility_date": doc["compatibility_date"],
                                  "workers": workers}))  # fmt: skip
    secret = secrets.token_urlsafe(32)
    (folder / ".dev.vars").write_text(f"BETTER_AUTH_SECRET={secret}\nJWT_SECRET={secret}x\n")
    state = folder / "state"
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "create-admin"), "--email", EMAIL, "--name",
         "Bench", "--config", str(config), "--persist-to", str(state)],
        input=PASSWORD + "\n", capture_output=True, text=True, check=True,
    )  # fmt: skip
    return config, state


def _logged(state: Path, applied: int) -> int:
    """Rows in D1's document_operations once the log has caught up (or after 10 s)."""
    count = 0
    for _ in range(100):
        with sqlite3.connect(state / "d1" / "hearth.sqlite") as db:
            count = int(db.execute("SELECT count(*) FROM document_operations").fetchone()[0])
        if count >= applied:
            break
        time.sleep(0.1)
    return count


class _Editor(WebSocketClient):
    """One client: its view of the version and length, and one operation in flight."""

    def __init__(self, bench: _Bench, index: int) -> None:
        super().__init__()
        self.bench, self.index = bench, index
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.version = self.length = 0
        self.in_flight: int | None = None  # the length change of the operation in flight
        self.sent = 0
        self.rng = random.Random(index)

    def received(self, payload: bytearray, now_ns: int) -> None:
        frame = json.loads(payload)
        kind = frame["type"]
        if kind == "operation":
            op = frame["operation"]
            self.version = frame["version"]
            if op["type"] == "insert":
                self.length += WORD
                sent = self.bench.sent_at.get(op["text"])
                if sent is not None and self.bench.measuring:
                    self.bench.latencies.append(now_ns - sent)
            else:
                self.length -= op["length"]
        elif kind == "ack":
            self.version = frame["version"]
            self.length += self.in_flight or 0
            self.in_flight = None
            self.bench.applied += 1
            if self.bench.saturate:
                self.send_next()
        elif kind == "document_state":  # on connect, and after a refused operation
            self.version = frame["document"]["version"]
            self.length = len(frame["document"]["content"])
            self.in_flight = None
            if not self.ready.done():
                self.ready.set_result(None)
            elif self.bench.saturate:
                self.send_next()
        elif kind == "error":
            self.bench.refused += 1

    def send_next(self) -> None:
        """Send an insert or a delete, made against the version this client has seen."""
        if self.in_flight is not None:
            return
        self.sent += 1
        if self.sent % 2 == 0 and self.length >= WORD:
            op: dict[str, Any] = {"type": "delete", "length": WORD,
                                  "position": self.rng.randint(0, self.length - WORD)}  # fmt: skip
            self.in_flight = -WORD
        else:
            text = f"{self.index:02d}{self.sent % 10_000:04d}"[-WORD:]
            op = {"type": "insert", "position": self.rng.randint(0, self.length), "text": text}
            self.bench.sent_at[text] = time.perf_counter_ns()
            self.in_flight = WORD
        frame = {"type": "operation", "baseVersion": self.version, "operation": op}
        self.write_frame(json.dumps(frame, separators=(",", ":")).encode())


class _Bench:
    def __init__(self) -> None:
        self.sent_at: dict[str, int] = {}
        self.latencies: list[int] = []
        self.applied = self.refused = 0
        self.measuring = False
        self.saturate = False


async def _room(port: int, duration: float) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        signed = await http.post("/api/auth/sign-in/email",
                                 json={"email": EMAIL, "password": PASSWORD})  # fmt: skip
        signed.raise_for_status()
        token = signed.json()["token"]
    bench = _Bench()
    path = f"/rooms/bench-{secrets.token_hex(3)}/ws?token={token}"
    start = time.perf_counter()
    editors: list[_Editor] = []
    for i in range(CLIENTS):
        editor: _Editor = await _Editor.open(port, path, bench, i)
        await asyncio.wait_for(editor.ready, 30)
        editors.append(editor)
    connect_ms = (time.perf_counter() - start) * 1000 / CLIENTS

    # As fast as acknowledgements allow: warm up, then measure.
    bench.saturate = True
    for editor in editors:
        editor.send_next()
    await asyncio.sleep(min(1.0, duration / 4))
    bench.measuring, bench.applied, bench.latencies = True, 0, []
    began = time.perf_counter()
    await asyncio.sleep(duration)
    per_s = bench.applied / (time.perf_counter() - began)
    saturated = bench.latencies
    bench.saturate, bench.measuring = False, False
    await _quiet(editors)

    # At typing pace: each client sends on a timer (when nothing is in flight).
    bench.latencies, bench.measuring = [], True
    until = time.perf_counter() + min(duration, 5.0)
    offsets = [i / (CLIENTS * TYPING_RATE) for i in range(CLIENTS)]
    tick = time.perf_counter()
    while time.perf_counter() < until:
        for editor, offset in zip(editors, offsets, strict=True):
            loop = asyncio.get_running_loop()
            loop.call_later(offset, editor.send_next)
        tick += 1 / TYPING_RATE
        await asyncio.sleep(max(0.0, tick - time.perf_counter()))
    await _quiet(editors)
    typing = bench.latencies
    version = max(e.version for e in editors)
    for editor in editors:
        editor.close()
    p50, p99 = percentiles_ms(saturated)
    typing_p50, typing_p99 = percentiles_ms(typing)
    return {"connect_ms": connect_ms, "per_s": per_s, "p50": p50, "p99": p99,
            "typing_p50": typing_p50, "typing_p99": typing_p99, "refused": bench.refused,
            "version": version}  # fmt: skip


async def _quiet(editors: list[_Editor]) -> None:
    """Wait until no operation is in flight and every client has every version."""
    for _ in range(600):
        if all(e.in_flight is None for e in editors) and len({e.version for e in editors}) == 1:
            return
        await asyncio.sleep(0.05)
    raise RuntimeError("the room did not settle in 30 s")
