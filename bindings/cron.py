"""Cron Triggers: ``triggers.crons`` run ``Default.scheduled(controller, env, ctx)`` on schedule.

Expressions are Cloudflare's: five fields in UTC (minute, hour, day of month, month, day of
week), with ``L``, ``LW`` and ``#``; day-of-week numbers run 1-7 from Sunday (names SUN-SAT are
clearer). They are parsed by ``cronsim`` (Healthchecks.io's parser: pure Python, no
dependencies, maintained; ``croniter`` pulls in dateutil and went unmaintained for a while in
2024-25). cronsim lacks ``nW`` (nearest weekday to day n), which is refused with a clear error.
As a Hearth-only convenience for tests, a six-field expression takes a leading seconds field
(``*/2 * * * * *``); Cloudflare rejects those, so keep them out of deployable config.

Every server process schedules every cron, and each tick runs in exactly one of them: before
firing, a process claims ``(worker, cron, tick)`` in the shared store — a row ``INSERT OR
IGNORE``d into ``state_dir/cron/ticks.sqlite3`` (processes sharing a folder), or ``SET NX`` in
Redis (``[hearth.cron] backend = "redis"``, processes on several hosts). Missed ticks (the
server was down or the machine asleep longer than ``CRON_MISFIRE_GRACE``) are not made up, as on
Cloudflare. A run that raises is retried (``CRON_MAX_ATTEMPTS`` in all, backing off from
``CRON_RETRY_DELAY`` s) unless the handler called ``controller.noRetry()``.

Outside ``serve``, Miniflare's endpoints ``/__scheduled`` and ``/cdn-cgi/handler/scheduled``
fire a run on demand: ``?cron=`` (the expression to report), ``?time=`` (scheduledTime, ms),
``?format=json``, and Hearth's ``?worker=`` to pick a worker when several could answer.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from bindings.env import ExecutionContext, Tasks
from bindings.errors import ConfigError
from bindings.plugin import BindingDecl, BindingPlugin, ParseContext
from bindings.types import Receive, Scope, Send

if TYPE_CHECKING:
    import redis.asyncio

    from bindings.runtime import Runtime, Worker

log = logging.getLogger("hearth.cron")

CRON_MAX_ATTEMPTS = 3
CRON_RETRY_DELAY = 1.0  # seconds before the first retry; doubles after each
CRON_MISFIRE_GRACE = 60.0  # seconds late after which a tick is skipped, not run
CRON_TICK_RETENTION_MS = 7 * 86_400_000  # how long claimed ticks are remembered
TRIGGER_PATHS = ("/__scheduled", "/cdn-cgi/handler/scheduled")

_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
_DAY_NUMBER = re.compile(r"(\d+)(?:-(\d+))?(L|#\d+)?")


class ScheduledController:
    """The ``controller`` of a scheduled run: ``cron``, ``scheduledTime`` (ms), ``noRetry()``."""

    __slots__ = ("_no_retry", "cron", "scheduledTime", "type")

    def __init__(self, cron: str, scheduled_time: int) -> None:
        self.cron = cron
        self.scheduledTime = scheduled_time
        self.type = "scheduled"
        self._no_retry = False

    def noRetry(self) -> None:
        """Do not run this tick again if the handler fails."""
        self._no_retry = True

    def __repr__(self) -> str:
        return f"<ScheduledController {self.cron!r} at {self.scheduledTime}>"


def cron_schedule(expression: str) -> str:
    """Cloudflare's expression rewritten for cronsim (ValueError saying what is wrong)."""
    from cronsim import CronSim, CronSimError

    fields = expression.split()
    if len(fields) not in (5, 6):
        raise ValueError("must have five fields: minute hour day-of-month month day-of-week")
    fields = ["*" if f == "?" else f for f in fields]
    if re.search(r"\d+W", fields[-3]):
        raise ValueError("nW (nearest weekday) is not supported here; LW is")
    fields[-1] = ",".join(_day_of_week(part) for part in fields[-1].upper().split(","))
    schedule = " ".join(fields)
    try:
        CronSim(schedule, dt.datetime.now(dt.UTC))
    except CronSimError as exc:
        raise ValueError(str(exc)) from None
    return schedule


def _day_of_week(part: str) -> str:
    """Cloudflare numbers days 1-7 from Sunday; cron libraries 0-6."""
    base, slash, step = part.partition("/")
    match = _DAY_NUMBER.fullmatch(base)
    if match is None:
        return part
    first, last, suffix = match.groups()

    def shift(number: str) -> str:
        if not 1 <= int(number) <= 7:
            raise ValueError(f"day of week {number} is not 1-7 (1 = Sunday) or SUN-SAT")
        return str(int(number) - 1)

    return shift(first) + (f"-{shift(last)}" if last else "") + (suffix or "") + slash + step


def next_tick(schedule: str, after: float) -> float:
    """The first time (epoch seconds) strictly after ``after`` that ``schedule`` fires."""
    from cronsim import CronSim

    start = dt.datetime.fromtimestamp(after, dt.UTC)
    return next(iter(CronSim(schedule, start))).timestamp()


@dataclass(frozen=True)
class CronSettings:
    """``[hearth.cron]``: where ticks are claimed."""

    backend: str = "sqlite"  # or "redis": processes on several hosts
    redis_url: str | None = None
    redis_prefix: str = "hearth:"


def cron_settings(hearth: Mapping[str, Any], file: object) -> CronSettings:
    table = hearth.get("cron", {})
    if not isinstance(table, Mapping):
        raise ConfigError(file, "hearth.cron", "must be a table")
    for key, value in table.items():
        if key not in ("backend", "redis_url", "redis_prefix"):
            raise ConfigError(file, f"hearth.cron.{key}", "unknown key")
        if not isinstance(value, str):
            raise ConfigError(file, f"hearth.cron.{key}", "must be a string")
    settings = CronSettings(**table)
    if settings.backend not in ("sqlite", "redis"):
        raise ConfigError(file, "hearth.cron.backend", 'must be "sqlite" or "redis"')
    return settings


def parse_crons(table: Mapping[str, Any], ctx: ParseContext) -> list[tuple[str, str]]:
    """A worker's ``triggers.crons`` as (expression, cronsim schedule) pairs."""
    triggers = table.get("triggers") or {}
    if not isinstance(triggers, Mapping):
        raise ctx.error(ctx.key("triggers"), "must be a table with crons = [...]")
    unknown = set(triggers) - {"crons"}
    if unknown:
        raise ctx.error(ctx.key("triggers", sorted(unknown)[0]), "unknown key")
    crons = triggers.get("crons") or []
    if not isinstance(crons, list):
        raise ctx.error(ctx.key("triggers", "crons"), "must be an array of cron expressions")
    out = []
    for i, expression in enumerate(crons):
        key = ctx.key("triggers", "crons", i)
        if not isinstance(expression, str):
            raise ctx.error(key, "must be a cron expression string")
        try:
            out.append((expression, cron_schedule(expression)))
        except ValueError as exc:
            raise ctx.error(key, f"invalid cron expression {expression!r}: {exc}") from None
    return out


class SqliteTicks:
    """Claimed ticks in one SQLite file shared by the processes of a state folder."""

    def __init__(self, path: Any) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout = 10000")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS ticks (worker TEXT NOT NULL, cron TEXT NOT NULL,"
            " tick INTEGER NOT NULL, PRIMARY KEY (worker, cron, tick)) WITHOUT ROWID"
        )
        self._pruned_at = 0

    async def claim(self, worker: str, cron: str, tick: int) -> bool:
        if tick - self._pruned_at > 3_600_000:
            self._pruned_at = tick
            self._db.execute("DELETE FROM ticks WHERE tick < ?", (tick - CRON_TICK_RETENTION_MS,))
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO ticks (worker, cron, tick) VALUES (?, ?, ?)",
            (worker, cron, tick),
        )
        return cursor.rowcount == 1

    async def close(self) -> None:
        self._db.close()


class RedisTicks:
    """Claimed ticks as Redis keys set with NX (they expire after a retention period)."""

    def __init__(self, client: redis.asyncio.Redis, prefix: str) -> None:
        self._redis = client
        self._prefix = prefix

    async def claim(self, worker: str, cron: str, tick: int) -> bool:
        key = f"{self._prefix}cron:{worker}:{cron}:{tick}"
        return bool(await self._redis.set(key, b"1", nx=True, px=CRON_TICK_RETENTION_MS))

    async def close(self) -> None:
        """The client is the runtime's shared one: it closes with the runtime."""


class CronPlugin(BindingPlugin):
    """Schedules every worker's crons and serves the dev trigger endpoints."""

    kind = "cron"
    sections = ("triggers",)

    @classmethod
    def parse(cls, table: Mapping[str, Any], ctx: ParseContext) -> list[BindingDecl]:
        cron_settings(ctx.hearth, ctx.file)
        parse_crons(table, ctx)
        return []  # triggers bind nothing into env

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        self.settings = cron_settings(runtime.config.hearth, runtime.config.file)
        self._store: SqliteTicks | RedisTicks | None = None
        self._schedulers: list[asyncio.Task[None]] = []
        self._runs: set[asyncio.Task[Any]] = set()

    def crons(self) -> dict[str, list[tuple[str, str]]]:
        """Each worker's (expression, schedule) pairs."""
        config = self.runtime.config
        out = {}
        for wc in config.workers:
            ctx = ParseContext(wc.file, wc.prefix, wc.name, wc.base_dir, config.hearth)
            out[wc.name] = parse_crons(wc.table, ctx)
        return out

    def check(self) -> None:
        for name, crons in self.crons().items():
            worker = self.runtime.worker(name)
            if crons and not _has_scheduled(worker):
                raise worker.config.error(
                    worker.config.key("triggers", "crons"),
                    f"worker {name!r} has cron triggers but no class Default with a "
                    "scheduled(self, controller, env, ctx) method",
                )

    async def open(self) -> None:
        for path in TRIGGER_PATHS:
            self.runtime.add_route(path, self._trigger, dev_only=True)
        if not self.runtime.workers or self._schedulers:
            return
        for name, crons in self.crons().items():
            for expression, schedule in crons:
                worker = self.runtime.worker(name)
                task = asyncio.ensure_future(self._schedule(worker, expression, schedule))
                self._schedulers.append(task)

    def _ticks(self) -> SqliteTicks | RedisTicks:
        if self._store is None:
            if self.settings.backend == "redis":
                from bindings.redis_pool import redis_client, redis_url

                url = redis_url(self.runtime, {"redis_url": self.settings.redis_url})
                self._store = RedisTicks(
                    redis_client(self.runtime, url), self.settings.redis_prefix
                )
            else:
                self._store = SqliteTicks(self.runtime.state_dir / "cron" / "ticks.sqlite3")
        return self._store

    async def _schedule(self, worker: Worker, expression: str, schedule: str) -> None:
        """Fire ``expression`` for ``worker`` on every tick this process wins."""
        clock = self.runtime.clock
        await self.runtime.ready.wait()
        tick = next_tick(schedule, clock())
        while True:
            remaining = tick - clock()
            while remaining > 0:  # in steps, so a clock jump is noticed within 30 s
                await asyncio.sleep(min(remaining, 30.0))
                remaining = tick - clock()
            if not self.runtime.ready.is_set():
                return  # shutting down: leave the tick to a process that stays
            late = clock() - tick
            if late > CRON_MISFIRE_GRACE:
                log.warning("cron %r of worker %r: skipped the tick at %s (%.0f s late)",
                            expression, worker.name, _iso(tick), late)  # fmt: skip
            elif await self._claim(worker.name, expression, round(tick * 1000)):
                task = asyncio.ensure_future(self.run(worker, expression, round(tick * 1000)))
                self._runs.add(task)
                task.add_done_callback(self._runs.discard)
            tick = next_tick(schedule, max(tick, clock() - CRON_MISFIRE_GRACE))

    async def _claim(self, worker: str, expression: str, tick: int) -> bool:
        try:
            return await self._ticks().claim(worker, expression, tick)
        except Exception:  # the store is down: skip this tick rather than risk running it twice
            log.exception("cron %r of worker %r: cannot claim a tick", expression, worker)
            return False

    async def run(
        self, worker: Worker, cron: str, scheduled_time: int, *, retry: bool = True
    ) -> tuple[str, bool]:
        """Run one tick (with retries unless ``noRetry()``); returns (outcome, noRetry)."""
        attempt = 1
        while True:
            controller = ScheduledController(cron, scheduled_time)
            tasks = Tasks()
            start = time.perf_counter()
            try:
                await worker.call("scheduled", controller, ctx=ExecutionContext(tasks))
            except Exception:
                log.exception("scheduled() of worker %r failed (cron %r, attempt %d)",
                              worker.name, cron, attempt)  # fmt: skip
                await tasks.drain()
                if controller._no_retry or not retry or attempt == CRON_MAX_ATTEMPTS:
                    return "exception", controller._no_retry
                await asyncio.sleep(CRON_RETRY_DELAY * 2 ** (attempt - 1))
                attempt += 1
                continue
            await tasks.drain()
            log.info("CRON %s %r at %s (%dms)", worker.name, cron, _iso(scheduled_time / 1000),
                     round((time.perf_counter() - start) * 1000))  # fmt: skip
            return "ok", controller._no_retry

    async def _trigger(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``/__scheduled`` and ``/cdn-cgi/handler/scheduled``: run now, answer the outcome."""
        from starlette.responses import JSONResponse, PlainTextResponse, Response

        params = {k: v[-1] for k, v in parse_qs(scope["query_string"].decode()).items()}
        cron = params.get("cron", "")
        targets, problem = self._targets(params.get("worker"), cron)
        response: Response
        if problem:
            response = JSONResponse({"error": problem}, 400 if targets else 404)
        elif not params.get("time", "0").isdigit():
            response = JSONResponse({"error": "time must be milliseconds since the epoch"}, 400)
        else:
            when = int(params.get("time") or self.runtime.clock() * 1000)
            results = [await self.run(w, cron, when, retry=False) for w in targets]
            outcome = "ok" if all(o == "ok" for o, _ in results) else "exception"
            status = 200 if outcome == "ok" else 500
            if params.get("format") == "json":
                no_retry = any(n for _, n in results)
                response = JSONResponse({"outcome": outcome, "noRetry": no_retry}, status)
            else:
                response = PlainTextResponse(outcome, status)
        await response(scope, receive, send)

    def _targets(self, name: str | None, cron: str) -> tuple[list[Worker], str | None]:
        """Which workers a trigger request runs, or why it cannot choose."""
        workers = self.runtime.workers
        if name is not None:
            worker = workers.get(name)
            if worker is None or not _has_scheduled(worker):
                return [], f"no worker {name!r} with a scheduled() handler"
            return [worker], None
        crons = self.crons()
        matching = [w for n, w in workers.items() if any(e == cron for e, _ in crons.get(n, []))]
        if matching:
            return matching, None
        able = [w for w in workers.values() if _has_scheduled(w)]
        if len(able) == 1:
            return able, None
        if not able:
            return [], "no worker has a scheduled() handler"
        names = ", ".join(w.name for w in able)
        return able, f"several workers have a scheduled() handler ({names}): add ?worker=NAME"

    async def close(self) -> None:
        schedulers, self._schedulers = self._schedulers, []
        for task in schedulers:
            task.cancel()
        await asyncio.gather(*schedulers, return_exceptions=True)
        if self._runs:
            await asyncio.wait(set(self._runs), timeout=30.0)
        if self._store is not None:
            store, self._store = self._store, None
            await store.close()


def _has_scheduled(worker: Worker) -> bool:
    return callable(getattr(worker.main.default, "scheduled", None))


def _iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat(timespec="seconds")
