"""The alarm scheduler: one task that fires every class's due alarms, with workerd's retries.

Times come from ``runtime.clock`` (ms since the epoch). A handler that raises is retried after
``2 s << n`` (n = 0, 1, 2 ..., capped at 9) plus up to 25 % jitter; after ``ALARM_MAX_RETRIES``
counted retries the alarm is deleted. An alarm set (or deleted) while the handler runs takes the
place of the retry. At start the scheduler reads every class's index, so alarms that came due
while the server was down fire at once. Errors that are not the handler's (the object cannot be
constructed or opened) are retried the same way.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import random
from typing import TYPE_CHECKING

from bindings.clock import Clock

if TYPE_CHECKING:
    from bindings.durable_objects.host import ObjectHost

log = logging.getLogger("hearth")

ALARM_RETRY_BASE = 2.0  # seconds before the first retry; doubles per retry
ALARM_MAX_BACKOFF_SHIFT = 9
ALARM_MAX_RETRIES = 6
ALARM_JITTER = 0.25
IDLE_WAKE = 60.0  # seconds between checks when nothing is scheduled soon (a safety net)

Key = tuple["ObjectHost", str]


def retry_delay(retry: int) -> float:
    """Seconds before retry number ``retry`` (1-based)."""
    base = ALARM_RETRY_BASE * (1 << min(retry - 1, ALARM_MAX_BACKOFF_SHIFT))
    return base * (1 + random.uniform(0, ALARM_JITTER))


class AlarmScheduler:
    """Due times per object, a heap ordered by time, and the task that fires them."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._due: dict[Key, tuple[int, int]] = {}  # key -> (at ms, retry count)
        self._heap: list[tuple[int, int, Key]] = []
        self._order = itertools.count()
        self._running: set[Key] = set()
        self._wake = asyncio.Event()
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._firing: set[asyncio.Task[None]] = set()

    def start(self, hosts: list[ObjectHost]) -> None:
        """Load the alarms of every object this process owns; fire once ``ready()`` is called."""
        for host in hosts:
            for hex_id, at in host.index.alarms():
                if host.owns(hex_id):  # another process's object: its owner fires it
                    self.schedule(host, hex_id, at)
        self._task = asyncio.get_running_loop().create_task(self._loop())

    def ready(self) -> None:
        """Every worker's env is bound: alarms may run."""
        self._ready.set()

    def schedule(self, host: ObjectHost, hex_id: str, at_ms: int | None, retry: int = 0) -> None:
        """Fire ``host``'s object ``hex_id`` at ``at_ms`` (None: cancel)."""
        key = (host, hex_id)
        if at_ms is None:
            self._due.pop(key, None)
            return
        self._due[key] = (at_ms, retry)
        heapq.heappush(self._heap, (at_ms, next(self._order), key))
        self._wake.set()

    def poke(self) -> None:
        """Look at the clock again now (tests that move a manual clock)."""
        self._wake.set()

    def _now(self) -> int:
        return int(self.clock() * 1000)

    async def _loop(self) -> None:
        await self._ready.wait()
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            now = self._now()
            while self._heap and self._heap[0][0] <= now:
                at, _, key = heapq.heappop(self._heap)
                entry = self._due.get(key)
                if entry is None or entry[0] != at or key in self._running:
                    continue  # stale, or running: its completion reschedules
                del self._due[key]
                self._running.add(key)
                task = loop.create_task(self._fire(key, entry[1]))
                self._firing.add(task)
                task.add_done_callback(self._firing.discard)
            delay = IDLE_WAKE
            if self._heap:
                delay = min(max((self._heap[0][0] - now) / 1000, 0.0), IDLE_WAKE)
            handle = loop.call_later(delay, self._wake.set)
            await self._wake.wait()
            handle.cancel()

    async def _fire(self, key: Key, retry: int) -> None:
        host, hex_id = key
        try:
            run = await host.run_alarm(hex_id, retry)
            outcome, error = run.outcome, run.error
            if outcome == "later" and run.at_ms is not None and key not in self._due:
                self._due[key] = (run.at_ms, 0)
        except Exception as exc:
            outcome, error = "failed", exc
        finally:
            self._running.discard(key)
        if error is not None:
            log.error(
                "alarm of %s %s failed (retry %d)", host.class_name, hex_id, retry, exc_info=error
            )
        if key in self._due:  # set again while running (or "later"): that runs instead
            at, count = self._due[key]
            self.schedule(host, hex_id, at, count)
            return
        if outcome != "failed":
            return
        if retry >= ALARM_MAX_RETRIES:
            log.error("alarm of %s %s abandoned after %d retries", host.class_name, hex_id, retry)
            try:
                await host.abandon_alarm(hex_id)
            except Exception:
                log.exception("deleting the abandoned alarm of %s failed", hex_id)
            return
        delay = retry_delay(retry + 1)
        self.schedule(host, hex_id, self._now() + int(delay * 1000), retry + 1)

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._firing) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._task = None
