"""Queues: end-to-end throughput per backend (sent by a producer, acked by a consumer).

Runs in-process (no HTTP): a producer sends N messages, one ``send`` per message or
``sendBatch`` of 100, while the worker's consumer (batches of 100) acks them; the clock stops
when the last message is acked. ``send/s`` is the producer side alone.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from pathlib import Path

from benchmarks._util import Options, fmt, section, table
from bindings.config import from_document
from bindings.queues import QueuesPlugin
from bindings.runtime import Runtime
from bindings.testing import port_open

WORKER = """
from workers import WorkerEntrypoint

STATE = {"acked": 0, "target": 0, "done": None}  # the benchmark sets target and done


class Default(WorkerEntrypoint):
    async def queue(self, batch, env, ctx):
        STATE["acked"] += len(batch.messages)
        batch.ackAll()
        if STATE["acked"] >= STATE["target"]:
            STATE["done"].set()
"""


async def _measure(backend: str, mode: str, count: int, folder: Path) -> tuple[float, float]:
    """(messages/s end to end, sends/s) for one backend and way of sending."""
    (folder / "queue_bench_worker.py").write_text(WORKER)
    settings: dict[str, object] = {"backend": backend}
    prefix = f"hearth-bench:{uuid.uuid4().hex[:8]}:"
    if backend == "redis":
        settings["redis_prefix"] = prefix
    doc = {
        "hearth": {"queues": settings},
        "workers": [
            {
                "name": "bench",
                "main": "queue_bench_worker.py",
                "queues": {
                    "producers": [{"binding": "Q", "queue": "bench"}],
                    "consumers": [
                        {"queue": "bench", "max_batch_size": 100, "max_batch_timeout": 0.05}
                    ],
                },
            }
        ],
    }
    config = from_document(doc, folder / "wrangler_compat.toml")
    runtime = Runtime(config, state_dir=folder / f"state-{backend}-{mode}", mode="serve")
    async with runtime:
        worker = runtime.worker("bench")
        state = worker.main.module.STATE
        state["target"], state["done"] = count, asyncio.Event()
        queue = worker.env.Q
        start = time.perf_counter()
        if mode == "send":
            for n in range(count):
                await queue.send({"n": n})
        else:
            for first in range(0, count, 100):
                await queue.sendBatch([{"body": {"n": n}} for n in range(first, first + 100)])
        sent = time.perf_counter() - start
        await state["done"].wait()
        elapsed = time.perf_counter() - start
        plugin = runtime.plugins[QueuesPlugin]
        assert isinstance(plugin, QueuesPlugin)
        store = plugin.backend("bench")
        # The last batch's acks land after its handler returns; clean up only once they have.
        while (await store.metrics("bench")).count:  # noqa: ASYNC110 - polls the store, no event
            await asyncio.sleep(0.01)
        if backend == "redis":
            client = plugin.store("redis")._redis  # type: ignore[attr-defined]
            keys = [k async for k in client.scan_iter(f"{prefix}*")]
            if keys:
                await client.delete(*keys)
    return count / elapsed, count / sent


def run(opts: Options) -> None:
    section("queues: end-to-end throughput (producer -> consumer ack), in-process")
    count = 2_000 if opts.quick else 20_000
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for backend in ("sqlite", "redis"):
            if backend == "redis" and not port_open("127.0.0.1", 6379):
                rows.append([backend, "-", "-", "-", "skipped: no Redis on 127.0.0.1:6379"])
                continue
            for mode in ("send", "sendBatch"):
                e2e, sends = asyncio.run(_measure(backend, mode, count, Path(tmp)))
                label = "send (1 per call)" if mode == "send" else "sendBatch (100 per call)"
                rows.append([backend, label, f"{count:,}", fmt(e2e), fmt(sends)])
    table(["backend", "producer", "messages", "msg/s end to end", "send/s"], rows)
    print("\nconsumer: max_batch_size 100, max_batch_timeout 0.05 s, max_concurrency 1")
