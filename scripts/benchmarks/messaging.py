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
import statistics
import tempfile
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from benchmarks._util import ROOT, Options, fmt, hearth_argv, new_port, process, section, table

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


class _Socket(asyncio.Protocol):
    """A minimal WebSocket client (text frames, zero-key masks, pings answered), so the load
    generator costs little next to the server it measures. ``on_text`` sees every frame."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.buffer = bytearray()
        self.handshake = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.inbox: asyncio.Queue[str] = asyncio.Queue()
        self.on_text: Callable[[_Socket, str], None] = lambda s, text: s.inbox.put_nowait(text)
        self.in_flight = 0

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
        at = 0
        while len(buf) - at >= 2:
            opcode, length, head = buf[at] & 0x0F, buf[at + 1] & 0x7F, 2
            if length == 126:
                length, head = int.from_bytes(buf[at + 2 : at + 4]), 4
            elif length == 127:
                length, head = int.from_bytes(buf[at + 2 : at + 10]), 10
            if len(buf) - at < head + length:
                break
            payload = bytes(buf[at + head : at + head + length])
            at += head + length
            if opcode == 0x1:
                self.on_text(self, payload.decode())
            elif opcode == 0x9:
                self._frame(0xA, payload)
        del buf[:at]

    def send(self, frame: dict[str, Any]) -> None:
        self._frame(0x1, json.dumps(frame, separators=(",", ":")).encode())

    def _frame(self, opcode: int, payload: bytes) -> None:
        size = len(payload)
        if size < 126:
            head = bytes([0x80 | opcode, 0x80 | size])
        else:
            head = bytes([0x80 | opcode, 0x80 | 126]) + size.to_bytes(2)
        assert self.transport is not None
        self.transport.write(head + b"\0\0\0\0" + payload)

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
    loop = asyncio.get_running_loop()
    _, sock = await loop.create_connection(lambda: _Socket(name), "127.0.0.1", port)
    assert sock.transport is not None
    ws_key = base64.b64encode(os.urandom(16)).decode()
    sock.transport.write(
        (f"GET /ws?username={name} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
         f"Connection: Upgrade\r\nSec-WebSocket-Key: {ws_key}\r\n"
         "Sec-WebSocket-Version: 13\r\n\r\n").encode()
    )  # fmt: skip
    await sock.handshake
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
    under_load = sorted(latencies)
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
        assert sock.transport is not None
        sock.transport.close()
    idle.sort()
    return {
        "setup_ms": setup_ms,
        "per_s": per_s,
        "p50": statistics.median(under_load) / 1e6,
        "p99": under_load[int(len(under_load) * 0.99)] / 1e6,
        "idle_p50": statistics.median(idle) / 1e6,
        "idle_p99": idle[int(len(idle) * 0.99)] / 1e6,
    }
