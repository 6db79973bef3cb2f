"""Messaging: relay throughput between 100 connected pairs and latency, through a real server.

Every user registers, opens a socket, answers its challenge (Ed25519) and pairs up with one
partner (request, accept). Then every user sends to its partner, keeping ``WINDOW`` messages
in flight (the next leaves when the server acknowledges one): messages delivered per second,
and the time from sending a message to its partner holding it. Last, one message at a time:
the same latency on an idle server. Payloads are opaque to the server, as ciphertext is: a
send timestamp padded to the size of a short sealed message.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import tempfile
import time
import tomllib
from collections.abc import Callable
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

PAIRS = 100
WINDOW = 1  # messages each sender keeps in flight (more only lengthens the queues)
PADDING = "x" * 300  # about the size of a sealed one-line message
LOOSE = {"REGISTRATIONS_PER_HOUR": 10**9, "CONNECTIONS_PER_MINUTE": 10**9,
         "FRAMES_PER_SECOND": 10**9}  # fmt: skip


def run(opts: Options) -> None:
    section("messaging: relay between connected pairs, through a real server")
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "wrangler.json"
        config.write_text(json.dumps(_config()))
        port = new_port()
        argv = hearth_argv(config, Path(tmp) / "state", port)
        with process(argv, f"http://127.0.0.1:{port}/__hearth/health"):
            result = asyncio.run(_relay(port, opts.duration))
    table(
        ["messaging relay", "value"],
        [
            ["pairs connected (one socket per user)", str(PAIRS)],
            ["register + connect + authenticate, per user ms", fmt(result["setup_ms"], 2)],
            [f"messages relayed/s ({WINDOW} in flight per sender)", fmt(result["per_s"])],
            ["latency under that load p50 ms (send -> partner has it)", fmt(result["p50"], 2)],
            ["latency under that load p99 ms", fmt(result["p99"], 2)],
            ["latency one message at a time p50 ms", fmt(result["idle_p50"], 2)],
            ["latency one message at a time p99 ms", fmt(result["idle_p99"], 2)],
        ],
    )


def _config() -> dict[str, Any]:
    """The project's messaging worker alone, with limits a benchmark does not trip."""
    doc = tomllib.loads((ROOT / "wrangler_compat.toml").read_text())
    (worker,) = (w for w in doc["workers"] if w["name"] == "messaging")
    worker["vars"] = {**worker["vars"], **LOOSE}
    return {"compatibility_date": doc["compatibility_date"], "workers": [worker]}


class _Socket(WebSocketClient):
    """One user's socket; ``on_text`` sees every frame (by default, queued for ``recv``)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.inbox: asyncio.Queue[str] = asyncio.Queue()
        self.on_text: Callable[[_Socket, str], None] = lambda s, text: s.inbox.put_nowait(text)
        self.in_flight = 0

    def received(self, payload: bytearray, now_ns: int) -> None:
        self.on_text(self, payload.decode())

    def send(self, frame: dict[str, Any]) -> None:
        self.write_frame(json.dumps(frame, separators=(",", ":")).encode())

    async def recv(self) -> dict[str, Any]:
        return json.loads(await asyncio.wait_for(self.inbox.get(), 30))  # type: ignore[no-any-return]


async def _user(port: int, http: httpx.AsyncClient, name: str) -> _Socket:
    """Register ``name``, connect and authenticate."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from workers.messaging.protocol import auth_message

    key = Ed25519PrivateKey.generate()
    public = base64.b64encode(key.public_key().public_bytes_raw()).decode()
    r = await http.post("/api/register", json={"username": name, "publicKey": public})
    r.raise_for_status()
    sock: _Socket = await _Socket.open(port, f"/ws?username={name}", name)
    challenge = base64.b64decode((await sock.recv())["challenge"])
    signature = key.sign(auth_message("127.0.0.1", name, challenge))
    sock.send({"type": "authenticate", "username": name,
               "signature": base64.b64encode(signature).decode()})  # fmt: skip
    assert (await sock.recv())["type"] == "authenticated"
    return sock


async def _pair(a: _Socket, b: _Socket) -> None:
    a.send({"type": "connect_request", "target": b.name})
    assert (await b.recv())["type"] == "connection_request"
    assert (await a.recv())["type"] == "request_sent"
    b.send({"type": "accept_connection", "target": a.name})
    assert {(await b.recv())["type"], (await a.recv())["type"]} == {
        "accepted", "connection_accepted"}  # fmt: skip


async def _relay(port: int, duration: float) -> dict[str, float]:
    run_id = os.urandom(3).hex()
    names = [f"b{run_id}_{i}" for i in range(2 * PAIRS)]
    start = time.perf_counter()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        sockets: list[_Socket] = []
        for group in range(0, len(names), 20):
            batch = names[group : group + 20]
            sockets += await asyncio.gather(*(_user(port, http, n) for n in batch))
    setup_ms = (time.perf_counter() - start) * 1000 / len(names)
    partner = {}
    for i in range(PAIRS):
        a, b = sockets[2 * i], sockets[2 * i + 1]
        await _pair(a, b)
        partner[a], partner[b] = b, a

    state = {"sending": True, "received": 0}
    latencies: list[int] = []
    done = asyncio.Event()

    def send(sock: _Socket) -> None:
        sock.in_flight += 1
        data = f"{time.perf_counter_ns()}:{PADDING}"
        sock.send({"type": "encrypted_message", "recipients": [partner[sock].name],
                   "encryptedData": data})  # fmt: skip

    def saturated(sock: _Socket, text: str) -> None:
        frame = json.loads(text)
        kind = frame["type"]
        if kind == "encrypted_message":
            state["received"] += 1
            latencies.append(time.perf_counter_ns() - int(frame["data"].partition(":")[0]))
        elif kind == "message_sent":
            sock.in_flight -= 1
            if state["sending"]:
                send(sock)
            elif not any(s.in_flight for s in sockets):
                done.set()
        else:
            raise RuntimeError(f"unexpected frame {text[:200]}")

    for sock in sockets:
        sock.on_text = saturated
    for sock in sockets:  # warm up, then measure
        for _ in range(WINDOW):
            send(sock)
    await asyncio.sleep(min(1.0, duration / 4))
    state["received"], latencies[:] = 0, []
    began = time.perf_counter()
    await asyncio.sleep(duration)
    per_s = state["received"] / (time.perf_counter() - began)
    under_load = list(latencies)
    state["sending"] = False
    await asyncio.wait_for(done.wait(), 30)

    idle: list[int] = []
    arrived = asyncio.Event()

    def one_at_a_time(sock: _Socket, text: str) -> None:
        frame = json.loads(text)
        if frame["type"] == "encrypted_message":
            idle.append(time.perf_counter_ns() - int(frame["data"].partition(":")[0]))
            arrived.set()

    for sock in sockets:
        sock.on_text = one_at_a_time
    until = time.perf_counter() + min(duration, 3.0)
    i = 0
    while time.perf_counter() < until or len(idle) < 100:
        arrived.clear()
        send(sockets[i % len(sockets)])
        await asyncio.wait_for(arrived.wait(), 30)
        i += 1
    for sock in sockets:
        sock.close()
    p50, p99 = percentiles_ms(under_load)
    idle_p50, idle_p99 = percentiles_ms(idle)
    return {"setup_ms": setup_ms, "per_s": per_s, "p50": p50, "p99": p99,
            "idle_p50": idle_p50, "idle_p99": idle_p99}  # fmt: skip
