"""The ``queues`` section: producers become ``env`` bindings, consumers become delivery loops.

wrangler's keys, unchanged::

    [[queues.producers]]
    binding = "QUEUE"
    queue = "tasks"
    delivery_delay = 0            # default delaySeconds of every send

    [[queues.consumers]]
    queue = "tasks"
    max_batch_size = 10           # 1..100, default 5
    max_batch_timeout = 5         # seconds, 0..60, default 1
    max_retries = 3               # 0..100, default 2 (3 attempts)
    dead_letter_queue = "tasks-dlq"
    retry_delay = 60              # seconds, 0..86400, default 0
    max_concurrency = 4           # batches in flight per process, default 1

Hearth-only settings live in ``[hearth.queues]`` (see ``QueuesSettings``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bindings.errors import ConfigError
from bindings.plugin import BindingDecl, BindingPlugin, ParseContext
from bindings.queues.backend import Claimed, QueueBackend, Stored
from bindings.queues.producer import QUEUE_MAX_DELAY_SECONDS, Queue

if TYPE_CHECKING:
    from bindings.config import WorkerConfig
    from bindings.queues.consumer import Consumer
    from bindings.runtime import Runtime, Worker

BACKENDS = ("sqlite", "redis")
PRODUCER_KEYS = frozenset({"binding", "queue", "delivery_delay"})
CONSUMER_KEYS = frozenset(
    {
        "queue", "type", "max_batch_size", "max_batch_timeout", "max_retries",
        "dead_letter_queue", "retry_delay", "max_concurrency", "visibility_timeout_ms",
    }
)  # fmt: skip
JSON_MESSAGES_FROM = "2024-03-18"  # compat date of queues_json_messages: json by default
MAX_CONCURRENCY = 250


@dataclass(frozen=True, kw_only=True)
class QueueDecl(BindingDecl):
    queue: str
    delivery_delay: int = 0


@dataclass(frozen=True, kw_only=True)
class ConsumerSettings:
    """One ``[[queues.consumers]]`` table."""

    queue: str
    worker: str
    key: str
    max_batch_size: int = 5
    max_batch_timeout: float = 1.0
    max_retries: int = 2
    dead_letter_queue: str | None = None
    retry_delay: int = 0
    max_concurrency: int = 1


@dataclass(frozen=True, kw_only=True)
class QueuesSettings:
    """``[hearth.queues]``: where messages are kept and how consumers look for them."""

    backend: str = "sqlite"  # "sqlite" (default) or "redis"
    backends: Mapping[str, str] = field(default_factory=dict)  # per queue: {"tasks": "redis"}
    redis_url: str | None = None  # else [hearth] redis_url, HEARTH_REDIS_URL, localhost
    redis_prefix: str = "hearth:"
    visibility_timeout: float = 30.0  # s a batch stays leased without renewal
    poll_interval: float = 0.25  # s between looks for messages sent by other processes
    synchronous: str = "normal"  # sqlite: "full" also survives power loss
    drain_timeout: float = 30.0  # s to let in-flight batches finish at shutdown

    def backend_for(self, queue: str) -> str:
        return self.backends.get(queue, self.backend)


def queues_settings(hearth: Mapping[str, Any], file: Path | str) -> QueuesSettings:
    """Read and check ``[hearth.queues]``."""
    table = hearth.get("queues", {})

    def error(key: str, problem: str) -> ConfigError:
        return ConfigError(file, f"hearth.queues.{key}" if key else "hearth.queues", problem)

    if not isinstance(table, Mapping):
        raise error("", "must be a table")
    defaults = QueuesSettings()
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key in ("backend", "synchronous", "redis_url", "redis_prefix"):
            if not isinstance(value, str):
                raise error(key, "must be a string")
        elif key in ("visibility_timeout", "poll_interval", "drain_timeout"):
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise error(key, "must be a positive number of seconds")
            value = float(value)
        elif key == "backends":
            if not isinstance(value, Mapping):
                raise error(key, 'must be a table of queue = "sqlite" | "redis"')
            for queue, kind in value.items():
                if kind not in BACKENDS:
                    raise error(f"backends.{queue}", 'must be "sqlite" or "redis"')
        else:
            raise error(key, "unknown key")
        values[key] = value
    settings = QueuesSettings(**{**defaults.__dict__, **values})
    if settings.backend not in BACKENDS:
        raise error("backend", 'must be "sqlite" or "redis"')
    if settings.synchronous not in ("normal", "full"):
        raise error("synchronous", 'must be "normal" or "full"')
    return settings


def _number(
    table: Mapping[str, Any],
    name: str,
    key: str,
    ctx: ParseContext,
    low: float,
    high: float,
    *,
    integer: bool = True,
) -> Any:
    value = table[name]
    kind = int if integer else int | float
    if isinstance(value, bool) or not isinstance(value, kind) or not low <= value <= high:
        what = "an integer" if integer else "a number"
        raise ctx.error(f"{key}.{name}", f"must be {what} from {low:g} to {high:g}")
    return value


def parse_consumers(table: Mapping[str, Any], ctx: ParseContext) -> list[ConsumerSettings]:
    """The ``[[queues.consumers]]`` of one worker's table, checked."""
    section = table.get("queues") or {}
    out = []
    for entry, key in ctx.tables(section.get("consumers"), "queues", "consumers"):
        unknown = set(entry) - CONSUMER_KEYS
        if unknown:
            raise ctx.error(f"{key}.{sorted(unknown)[0]}", "unknown key")
        if entry.get("type", "worker") != "worker":
            raise ctx.error(f"{key}.type", 'only "worker" consumers run here (no pull consumers)')
        queue = ctx.string(entry, "queue", key)
        values: dict[str, Any] = {}
        for name, low, high, integer in (
            ("max_batch_size", 1, 100, True),
            ("max_batch_timeout", 0, 60, False),
            ("max_retries", 0, 100, True),
            ("retry_delay", 0, QUEUE_MAX_DELAY_SECONDS, True),
            ("max_concurrency", 1, MAX_CONCURRENCY, True),
        ):
            if entry.get(name) is not None:
                values[name] = _number(entry, name, key, ctx, low, high, integer=integer)
        dlq = entry.get("dead_letter_queue")
        if dlq is not None:
            dlq = ctx.string(entry, "dead_letter_queue", key)
            if dlq == queue:
                raise ctx.error(
                    f"{key}.dead_letter_queue",
                    f'Dead letter queue for queue "{queue}" cannot be itself',
                )
        settings = ConsumerSettings(
            queue=queue, worker=ctx.worker, key=key, dead_letter_queue=dlq, **values
        )
        out.append(settings)
    return out


def default_content_type(worker: WorkerConfig) -> str:
    """``json`` from compat date 2024-03-18 (``queues_json_messages``), ``v8`` before."""
    flags = worker.compatibility_flags
    if "no_queues_json_messages" in flags:
        return "v8"
    if "queues_json_messages" in flags:
        return "json"
    date = worker.compatibility_date
    return "json" if date is None or date >= JSON_MESSAGES_FROM else "v8"


class QueuesPlugin(BindingPlugin):
    """Queue producers (``env.QUEUE``) and consumers (``Default.queue``) of every worker."""

    kind = "queue"
    sections = ("queues",)

    @classmethod
    def parse(cls, table: Mapping[str, Any], ctx: ParseContext) -> list[BindingDecl]:
        queues_settings(ctx.hearth, ctx.file)
        section = table.get("queues")
        if not isinstance(section, Mapping):
            raise ctx.error(ctx.key("queues"), "must be a table with producers and consumers")
        unknown = set(section) - {"producers", "consumers"}
        if unknown:
            raise ctx.error(ctx.key("queues", sorted(unknown)[0]), "unknown key")
        parse_consumers(table, ctx)
        decls: list[BindingDecl] = []
        for entry, key in ctx.tables(section.get("producers"), "queues", "producers"):
            unknown = set(entry) - PRODUCER_KEYS
            if unknown:
                raise ctx.error(f"{key}.{sorted(unknown)[0]}", "unknown key")
            delay = 0
            if entry.get("delivery_delay") is not None:
                delay = _number(entry, "delivery_delay", key, ctx, 0, QUEUE_MAX_DELAY_SECONDS)
            decls.append(
                QueueDecl(
                    name=ctx.string(entry, "binding", key),
                    key=key,
                    queue=ctx.string(entry, "queue", key),
                    delivery_delay=delay,
                )
            )
        return decls

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        self.settings = queues_settings(runtime.config.hearth, runtime.config.file)
        self.consumers: dict[str, Consumer] = {}
        self._backends: dict[str, QueueBackend] = {}

    def consumer_settings(self) -> dict[str, ConsumerSettings]:
        """Every consumer of the config by queue; a queue has at most one."""
        out: dict[str, ConsumerSettings] = {}
        config = self.runtime.config
        for wc in config.workers:
            ctx = ParseContext(wc.file, wc.prefix, wc.name, wc.base_dir, config.hearth)
            for consumer in parse_consumers(wc.table, ctx):
                first = out.get(consumer.queue)
                if first is not None:
                    raise ConfigError(
                        wc.file,
                        consumer.key,
                        f'Multiple consumers defined for queue "{consumer.queue}": '
                        f'"{first.worker}" and "{consumer.worker}"',
                    )
                out[consumer.queue] = consumer
        return out

    def check(self) -> None:
        for consumer in self.consumer_settings().values():
            worker = self.runtime.worker(consumer.worker)
            handler = getattr(worker.main.default, "queue", None)
            if not callable(handler):
                raise worker.config.error(
                    consumer.key,
                    f"worker {worker.name!r} consumes queue {consumer.queue!r} but has no class "
                    "Default with a queue(self, batch, env, ctx) method",
                )

    def backend(self, queue: str) -> QueueBackend:
        """The store that holds ``queue``."""
        return self.store(self.settings.backend_for(queue))

    def store(self, kind: str) -> QueueBackend:
        """The runtime's backend of ``kind`` (opened on first use)."""
        backend = self._backends.get(kind)
        if backend is None:
            backend = self._backends[kind] = self._open_backend(kind)
        return backend

    def _open_backend(self, kind: str) -> QueueBackend:
        if kind == "redis":
            from bindings.queues.redis_streams import RedisQueues
            from bindings.redis_pool import redis_client, redis_url

            url = redis_url(self.runtime, {"redis_url": self.settings.redis_url})
            return RedisQueues(
                redis_client(self.runtime, url),
                prefix=self.settings.redis_prefix,
                visibility_timeout_ms=int(self.settings.visibility_timeout * 1000),
            )
        from bindings.queues.sqlite import SqliteQueues

        return SqliteQueues(
            self.runtime.state_dir / "queues", synchronous=self.settings.synchronous
        )

    async def open(self) -> None:
        """Start a consumer loop per consumed queue (only when workers are loaded: commands
        open the plugin without them). Each waits until the runtime is ready."""
        if not self.runtime.workers or self.consumers:
            return
        from bindings.queues.consumer import Consumer

        for settings in self.consumer_settings().values():
            consumer = Consumer(self, self.runtime.worker(settings.worker), settings)
            self.consumers[settings.queue] = consumer
            consumer.start()

    def bind(self, decl: BindingDecl, worker: Worker) -> Queue:
        assert isinstance(decl, QueueDecl)
        return Queue(
            self,
            decl.queue,
            delivery_delay=decl.delivery_delay,
            content_type=default_content_type(worker.config),
        )

    def notify(self, queue: str, ready: int | None = None) -> None:
        """Tell this process's consumer of ``queue`` (if any) that messages arrived
        (``ready`` of them deliverable now, if known)."""
        consumer = self.consumers.get(queue)
        if consumer is not None:
            consumer.notify(ready)

    def dead_letter(self, claimed: Claimed, origin: str) -> Stored:
        """The copy of a failed message that goes to a dead-letter queue."""
        m = claimed.message
        return Stored(m.id, m.timestamp, m.content_type, m.body, 0, origin)

    async def close(self) -> None:
        consumers, self.consumers = list(self.consumers.values()), {}
        await asyncio.gather(*(c.stop(self.settings.drain_timeout) for c in consumers))
        backends, self._backends = list(self._backends.values()), {}
        for backend in backends:
            await backend.close()
