"""Queue test harness: a worker that records its batches, over every backend."""

from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from bindings.clock import ManualClock
from bindings.queues import QueuesPlugin
from bindings.testing import port_open, require_service

CONSUMER = """
import asyncio
from workers import WorkerEntrypoint, Response

BATCHES = []      # every MessageBatch delivered, in order
HOOKS = {}        # queue name -> function(batch), may be async, may raise
STARTED = []      # queue names of batches that began


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response("consumer")

    async def queue(self, batch, env, ctx):
        STARTED.append(batch.queue)
        BATCHES.append(batch)
        hook = HOOKS.get(batch.queue)
        if hook is not None:
            result = hook(batch)
            if asyncio.iscoroutine(result):
                await result
"""


def redis_available() -> bool:
    return port_open("127.0.0.1", 6379)


@pytest.fixture
def redis_prefix():
    """A unique key prefix for this test; its keys are deleted afterwards."""
    require_service("redis", redis_available(), "start redis-server on 127.0.0.1:6379")
    prefix = f"hearth-test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    import redis

    client = redis.Redis()
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(params=["sqlite", "redis"])
def backend(request) -> dict[str, Any]:
    """``[hearth.queues]`` settings for each backend (the contract suite runs on both)."""
    settings: dict[str, Any] = {"backend": request.param, "poll_interval": 0.01}
    if request.param == "redis":
        settings["redis_prefix"] = request.getfixturevalue("redis_prefix")
    return settings


class Queues:
    """A running runtime with one consumer worker and its recorded batches."""

    def __init__(self, h: Any, clock: ManualClock | None) -> None:
        self.h = h
        self.clock = clock
        self.env = h.env("consumer")
        self.module = h.worker("consumer").main.module
        plugin = h.runtime.plugins[QueuesPlugin]
        assert isinstance(plugin, QueuesPlugin)
        self.plugin = plugin

    def batches(self, queue: str | None = None) -> list[Any]:
        return [b for b in self.module.BATCHES if queue is None or b.queue == queue]

    def bodies(self, queue: str | None = None) -> list[list[Any]]:
        return [[m.body for m in b.messages] for b in self.batches(queue)]

    def hook(self, queue: str, fn: Callable[[Any], Any]) -> None:
        self.module.HOOKS[queue] = fn

    def advance(self, seconds: float) -> None:
        assert self.clock is not None
        self.clock.advance(seconds)
        for consumer in self.plugin.consumers.values():
            consumer.notify()

    async def metrics(self, queue: str) -> Any:
        return await self.plugin.backend(queue).metrics(queue)


async def until(predicate: Callable[[], Any], timeout: float = 10.0) -> None:
    """Wait until ``predicate()`` (sync or async) is true; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


async def quiet(seconds: float = 0.1) -> None:
    """Let the consumer loop poll a few times (used before asserting nothing happened)."""
    await asyncio.sleep(seconds)


@pytest.fixture
def queues(hearth, tmp_path, backend):
    """``q = await queues(consumers=[...], producers=[...])`` with a ManualClock by default."""

    async def start(
        *,
        consumers: list[dict[str, Any]] | None = None,
        producers: list[dict[str, Any]] | None = None,
        clock: ManualClock | bool | None = True,
        settings: dict[str, Any] | None = None,
        compatibility_date: str = "2026-11-01",
    ) -> Queues:
        (tmp_path / "consumer.py").write_text(CONSUMER)
        manual = ManualClock(1_000_000.0) if clock is True else clock or None
        worker: dict[str, Any] = {
            "name": "consumer",
            "main": "consumer.py",
            "compatibility_date": compatibility_date,
            "queues": {
                "producers": producers or [{"binding": "Q", "queue": "q"}],
                "consumers": consumers or [],
            },
        }
        doc = {"hearth": {"queues": {**backend, **(settings or {})}}, "workers": [worker]}
        options = {"clock": manual} if manual is not None else {}
        h = await hearth(doc, **options)
        return Queues(h, manual)

    return start
