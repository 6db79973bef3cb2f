"""Durable Objects: RPC and storage in-process, WebSocket fan-out and an HTTP counter through a
real server (Hearth vs the bare Starlette equivalent)."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks._util import (
    HERE,
    Options,
    WebSocketClient,
    fmt,
    hearth_argv,
    load,
    load_rows,
    new_port,
    ops_per_sec,
    percentiles_ms,
    process,
    section,
    table,
    uvicorn_argv,
)  # fmt: skip
from bindings.testing import Hearth, runInDurableObject

CONFIG = HERE / "wrangler_bench.toml"
OBJECTS = 1_000
CLIENTS = 50


def run(opts: Options) -> None:
    section("durable objects: RPC, storage, WebSocket fan-out, HTTP counter")
    seconds = 0.5 if opts.quick else 2.0
    with tempfile.TemporaryDirectory() as tmp:
        rows = asyncio.run(_in_process(Path(tmp), seconds))
    table(["in-process", "ops/s"], [[name, fmt(value)] for name, value in rows])

    with tempfile.TemporaryDirectory() as tmp:
        port = new_port()
        with process(hearth_argv(CONFIG, Path(tmp), port), f"http://127.0.0.1:{port}/hello"):
            fanout = asyncio.run(_broadcast(port, opts.duration))
            hearth = load(f"http://127.0.0.1:{port}/do/increment", opts)
    port = new_port()
    with process(uvicorn_argv("bare_app:app", port), f"http://127.0.0.1:{port}/hello"):
        bare = load(f"http://127.0.0.1:{port}/do/increment", opts)

    print()
    table(
        ["WebSocket broadcast", "value"],
        [
            ["clients in one room", str(CLIENTS)],
            ["messages delivered/s (all clients sending)", fmt(fanout["delivered_per_s"])],
            ["fan-out latency p50 ms (send -> all have it)", fmt(fanout["p50_ms"], 2)],
            ["fan-out latency p99 ms", fmt(fanout["p99_ms"], 2)],
        ],
    )
    print()
    table(
        ["HTTP: DO counter increment", "req/s", "p50 ms", "p99 ms", "vs bare"],
        load_rows(bare, [("Hearth, stub RPC to a DO", hearth)], "bare Starlette + SQLite"),
    )
    print(f"\nload: {hearth.tool}, {opts.connections} connections, {opts.duration:g}s each;"
          " Miniflare does about 2.0k req/s on this scenario")  # fmt: skip


async def _in_process(state: Path, seconds: float) -> list[tuple[str, float]]:
    async with Hearth(CONFIG, state) as h:
        env = h.env("bench")
        one = env.COUNTER.getByName("one")
        rows = [("RPC to one object (no storage)", await ops_per_sec(one.ping, seconds))]
        stubs = [env.COUNTER.getByName(f"spread-{i}") for i in range(OBJECTS)]
        for stub in stubs:
            await stub.ping()  # construct them all first
        cycle = iter(range(10**12))

        def spread() -> Any:
            return stubs[next(cycle) % OBJECTS].ping()

        rows.append((f"RPC spread over {OBJECTS:,} objects", await ops_per_sec(spread, seconds)))
        rows.append(("RPC increment (get+put+commit), one caller",
                     await ops_per_sec(one.increment, seconds)))  # fmt: skip

        async def concurrent() -> None:
            await asyncio.gather(*(one.increment() for _ in range(64)))

        rows.append(("RPC increment, 64 concurrent callers (group commit)",
                     64 * await ops_per_sec(concurrent, seconds)))  # fmt: skip

        async def storage_loop(instance: Any, ctx: Any) -> float:
            storage = ctx.storage
            counter = iter(range(10**12))

            async def put_get() -> None:
                key = f"k{next(counter) % 1000}"
                await storage.put(key, {"n": 1, "tags": ["a", "b"]})
                await storage.get(key)

            return await ops_per_sec(put_get, seconds)

        rows.append(("storage put+get pairs, inside one event",
                     await runInDurableObject(one, storage_loop)))  # fmt: skip
        return rows


class _Client(WebSocketClient):
    """Each frame carries the ``perf_counter_ns`` at which it was sent; ``on_frame(sent, now)``
    sees every arrival."""

    def __init__(self, on_frame: Callable[[_Client, int, int], None]) -> None:
        super().__init__()
        self.on_frame = on_frame

    def received(self, payload: bytearray, now_ns: int) -> None:
        self.on_frame(self, int(payload[1:]), now_ns)

    def send(self, sent_ns: int) -> None:
        self.write_frame(b"t%d" % sent_ns)


async def _broadcast(port: int, duration: float) -> dict[str, float]:
    """Saturation: every client keeps one message in flight (it sends again when its own
    message comes back): deliveries per second. Then latency: one message at a time, from
    sending it until all clients have it."""
    state = {"delivered": 0, "waiting": 0}
    echoes: dict[_Client, asyncio.Event] = {}
    own: dict[_Client, int] = {}
    done = asyncio.Event()

    def saturated(client: _Client, sent: int, now: int) -> None:
        state["delivered"] += 1
        if own.get(client) == sent:
            echoes[client].set()

    def one_at_a_time(client: _Client, sent: int, now: int) -> None:
        state["waiting"] -= 1
        if state["waiting"] == 0:
            done.set()

    clients = []
    for _ in range(CLIENTS):
        client = await _Client.open(port, "/do/room", saturated)
        clients.append(client)
        echoes[client] = asyncio.Event()

    async def sender(client: _Client, until: float) -> None:
        while time.perf_counter() < until:
            echoes[client].clear()
            own[client] = time.perf_counter_ns()
            client.send(own[client])
            await asyncio.wait_for(echoes[client].wait(), 30)

    await asyncio.gather(*(sender(c, time.perf_counter() + 0.5) for c in clients))  # warm up
    await asyncio.sleep(0.2)
    state["delivered"] = 0
    start = time.perf_counter()
    await asyncio.gather(*(sender(c, start + duration) for c in clients))
    delivered_per_s = state["delivered"] / (time.perf_counter() - start)
    await asyncio.sleep(0.5)  # let the last fan-outs drain

    fanouts: list[int] = []
    for client in clients:
        client.on_frame = one_at_a_time
    until = time.perf_counter() + min(duration, 5.0)
    i = 0
    while time.perf_counter() < until or len(fanouts) < 20:
        done.clear()
        state["waiting"] = CLIENTS
        sent = time.perf_counter_ns()
        clients[i % CLIENTS].send(sent)
        await asyncio.wait_for(done.wait(), 30)
        fanouts.append(time.perf_counter_ns() - sent)
        i += 1
    for client in clients:
        client.close()
    p50, p99 = percentiles_ms(fanouts)
    return {"delivered_per_s": delivered_per_s, "p50_ms": p50, "p99_ms": p99}
