"""The consumer of one queue in one process: batching, delivery, retries and dead letters.

A loop per consumed queue, started when the runtime is ready. It flushes a batch as soon as
``max_batch_size`` messages are ready, or once the first ready message has waited
``max_batch_timeout``; each batch takes up to ``max_batch_size`` messages in order. At most
``max_concurrency`` batches of the queue are in flight in this process (Cloudflare scales
consumers itself; each Hearth process runs its own). A batch's messages are leased while
``Default.queue(batch, env, ctx)`` runs (the lease is renewed, so a slow handler does not lose
it) and settled in one step afterwards:

- acked (``ack()``, ``ackAll()``, or a handler that returned) messages are deleted;
- retried ones (``retry()``, ``retryAll()``, or every message not explicitly acked when the
  handler raised) come back after their own delay, else the batch's, else ``retry_delay``;
- a message that has failed ``max_retries + 1`` attempts moves to ``dead_letter_queue`` (same
  id, timestamp and body; attempts start again at 1), or is dropped with a warning.

Delivery is at-least-once: a process that dies mid-batch loses its lease and the batch comes
back, counted as a failed attempt. A settled message is never delivered again.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from typing import TYPE_CHECKING

from bindings.env import ExecutionContext, Tasks
from bindings.queues import codec
from bindings.queues.backend import BackendError, Claimed, Outcome
from bindings.queues.batch import Message, MessageBatch
from bindings.queues.producer import metrics_dict

if TYPE_CHECKING:
    from bindings.queues.plugin import ConsumerSettings, QueuesPlugin
    from bindings.runtime import Worker

log = logging.getLogger("hearth.queues")


class Consumer:
    """Delivers one queue's messages to one worker's ``queue`` handler."""

    def __init__(self, plugin: QueuesPlugin, worker: Worker, settings: ConsumerSettings) -> None:
        self.plugin = plugin
        self.runtime = plugin.runtime
        self.worker = worker
        self.settings = settings
        self.queue = settings.queue
        self.backend = plugin.backend(settings.queue)
        self._lease_ms = int(plugin.settings.visibility_timeout * 1000)
        self._poll_interval = plugin.settings.poll_interval
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(settings.max_concurrency)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        # What the last poll saw, and what was sent here since: spares a poll per send.
        self._known_ready = 0
        self._sent_ready = 0
        self._timing = False  # a partial batch is waiting for max_batch_timeout
        self._claiming = False

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    def notify(self, ready: int | None = None) -> None:
        """Look at the queue now: ``ready`` messages were sent here that need no delay
        (None: something else changed). A send that cannot fill the batch whose timeout is
        already running needs no look: the timeout flushes it."""
        if ready:
            self._sent_ready += ready
            size = self.settings.max_batch_size
            if self._timing and self._known_ready + self._sent_ready < size:
                return
        self._wake.set()

    async def stop(self, timeout: float) -> None:
        """Stop taking batches, then wait up to ``timeout`` s for those in flight.

        A batch still running after that is cancelled unsettled; its lease runs out and it is
        delivered again (it counts as a failed attempt).
        """
        self._stopping = True
        if self._task is not None:
            if not self._claiming:  # waiting (for a slot, a message, the runtime): cut it short
                self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._in_flight:
            _, late = await asyncio.wait(set(self._in_flight), timeout=timeout)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    def _now(self) -> int:
        return int(self.runtime.clock() * 1000)

    async def _run(self) -> None:
        await self.runtime.ready.wait()
        first_ready_at: int | None = None
        while not self._stopping and self.runtime.ready.is_set():
            self._wake.clear()
            await self._slots.acquire()
            now = self._now()
            self._claiming = True  # stop() lets this finish, so no claim is cut in half
            try:
                again, wake_at, first_ready_at = await self._look(now, first_ready_at)
            except BackendError as exc:
                log.error("queue %r: cannot read messages: %s", self.queue, exc)
                again, wake_at = False, None
                self._slots.release()
            finally:
                self._claiming = False
            if again:
                continue
            delay = self._poll_interval
            if wake_at is not None:
                delay = min(delay, max(0.0, (wake_at - now) / 1000))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()

    async def _look(
        self, now: int, first_ready_at: int | None
    ) -> tuple[bool, int | None, int | None]:
        """Poll, and flush a batch if one is due; holds a slot, which a batch keeps.

        Returns whether to look again at once (a batch went out), else when to look next,
        and since when a partial batch has been waiting.
        """
        size = self.settings.max_batch_size
        timeout_ms = int(self.settings.max_batch_timeout * 1000)
        self._sent_ready = 0
        poll = await self.backend.poll(self.queue, now, size)
        self._known_ready, self._timing = poll.ready, False
        due = first_ready_at is not None and now >= first_ready_at + timeout_ms
        if poll.ready and (poll.ready >= size or timeout_ms == 0 or due):
            claimed = await self.backend.claim(self.queue, now, size, now + self._lease_ms)
            if claimed:
                task = asyncio.ensure_future(self._deliver(claimed))  # releases the slot
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)
            else:
                self._slots.release()
            return True, None, None
        self._slots.release()
        if poll.ready:
            first_ready_at = now if first_ready_at is None else first_ready_at
            self._timing = True
            return False, first_ready_at + timeout_ms, first_ready_at
        return False, poll.next_at, None

    async def _deliver(self, claimed: list[Claimed]) -> None:
        renewer = asyncio.ensure_future(self._renew(claimed))
        try:
            await self._handle(claimed)
        except BackendError as exc:
            log.error("queue %r: cannot settle a batch (it will be delivered again): %s",
                      self.queue, exc)  # fmt: skip
        except Exception:
            log.exception("queue %r: delivering a batch failed", self.queue)
        finally:
            renewer.cancel()
            self._slots.release()
            self._wake.set()

    async def _renew(self, claimed: list[Claimed]) -> None:
        """Keep the batch's lease while the handler runs."""
        while True:
            await asyncio.sleep(self._lease_ms / 3000)
            try:
                await self.backend.renew(self.queue, claimed, self._now() + self._lease_ms)
            except BackendError as exc:
                log.warning("queue %r: cannot renew a lease: %s", self.queue, exc)

    async def _handle(self, claimed: list[Claimed]) -> None:
        s = self.settings
        max_attempts = s.max_retries + 1
        # Past its last attempt already: its process died handling it. Straight to the DLQ.
        expired = [c for c in claimed if c.message.attempts > max_attempts]
        live = [c for c in claimed if c.message.attempts <= max_attempts]
        outcome = Outcome()
        retried = 0
        elapsed_ms = 0
        if live:
            batch = MessageBatch(self.queue, metrics_dict(await self.backend.metrics(self.queue)))
            tasks = Tasks()
            failed = False
            start = time.perf_counter()
            try:
                for c in live:
                    m = c.message
                    when = dt.datetime.fromtimestamp(m.timestamp / 1000, dt.UTC)
                    body = codec.decode(m.body, m.content_type)
                    batch.messages.append(Message(batch, m.id, when, body, m.attempts))
                await self.worker.call("queue", batch, ctx=ExecutionContext(tasks))
            except Exception:
                failed = True
                log.exception("queue() of worker %r failed on a batch from queue %r",
                              self.worker.name, self.queue)  # fmt: skip
            await tasks.drain()
            elapsed_ms = round((time.perf_counter() - start) * 1000)
            now = self._now()
            delivered = {m.id: m for m in batch.messages}
            for c in live:
                message = delivered.get(c.message.id)  # None if its body could not be read
                retry, own = batch.verdict(message, failed) if message else (True, None)
                if not retry:
                    outcome.acked.append(c)
                    continue
                retried += 1
                if c.message.attempts >= max_attempts:
                    outcome.dead.append(c)
                    continue
                log.debug('Retrying message "%s" on queue "%s"...', c.message.id, self.queue)
                delay = s.retry_delay if own is None else own
                outcome.retried.append((c, now + delay * 1000))
        outcome.dead += expired
        for c in outcome.dead:
            self._log_dead(c, max_attempts)
        if live:
            log.info("QUEUE %s %d/%d (%dms)", self.queue, len(live) - retried, len(live),
                     elapsed_ms)  # fmt: skip
        await self._settle(outcome, len(claimed))

    def _log_dead(self, c: Claimed, attempts: int) -> None:
        plural = "" if attempts == 1 else "s"
        dlq = self.settings.dead_letter_queue
        if dlq is not None:
            log.warning(
                'Moving message "%s" on queue "%s" to dead letter queue "%s" after %d failed '
                "attempt%s...",
                c.message.id, self.queue, dlq, attempts, plural,
            )  # fmt: skip
        else:
            log.warning('Dropped message "%s" on queue "%s" after %d failed attempt%s!',
                        c.message.id, self.queue, attempts, plural)  # fmt: skip

    async def _settle(self, outcome: Outcome, total: int) -> None:
        dlq = self.settings.dead_letter_queue
        if outcome.dead and dlq is not None:
            target = self.plugin.backend(dlq)
            if target is self.backend:
                outcome.dead_letter_queue = dlq
            else:  # another store: copy first, so a crash in between duplicates, never loses
                now = self._now()
                await target.enqueue(dlq, [(self.plugin.dead_letter(c, self.queue), now)
                                           for c in outcome.dead])  # fmt: skip
                self.plugin.notify(dlq)
        applied = await self.backend.settle(self.queue, outcome, self._now())
        if outcome.dead_letter_queue is not None:
            self.plugin.notify(outcome.dead_letter_queue)
        if applied < total:
            log.warning(
                "queue %r: %d message(s) of a batch were taken over by another consumer before "
                "they were settled (their lease ran out); they will be handled again",
                self.queue, total - applied,
            )  # fmt: skip
