"""The storage primitives a queue backend provides; delivery rules live above it, in ``consumer``.

A backend stores messages per queue name and hands them out under leases. Invariants every
backend keeps (the contract tests check them on each):

- ``enqueue`` is atomic and durable once it returns; it returns the metrics from before.
- A message is *ready* when its visible time has passed and no live lease holds it. ``claim``
  hands out ready messages in order (visible time, then arrival), at most ``limit``, leased to
  the caller until ``lease_until`` (or, on Redis, for the visibility timeout) and with its
  ``attempts`` raised by one: ``attempts`` counts deliveries begun, so a delivery whose process
  died counts as a failed attempt. No message is in two live leases at once.
- ``settle`` applies a batch's outcome atomically, and only to messages whose lease the caller
  still holds (``attempts`` unchanged since its claim); it returns how many it applied. A
  settled message is never handed out again (acked, dropped), or only after its new visible
  time (retried), or in its dead-letter queue with attempts reset and ``origin`` set.
- ``metrics`` counts every message stored (ready, delayed and in flight).

Times are integer milliseconds since the epoch, from the runtime's clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


class BackendError(Exception):
    """A storage failure (Redis unreachable, disk full), translated once at the backend edge."""


@dataclass(slots=True)
class Stored:
    """One message as a backend keeps it."""

    id: str
    timestamp: int  # ms, when it was first sent
    content_type: str
    body: bytes
    attempts: int = 0  # deliveries begun
    origin: str | None = None  # for a dead letter: the queue it failed on


@dataclass(slots=True)
class Claimed:
    """A message handed out under a lease; ``message.attempts`` is this delivery's number."""

    message: Stored
    handle: str  # the backend's own reference (a row, a stream entry)


@dataclass(slots=True)
class Outcome:
    """What to do with the messages of one delivered batch."""

    acked: list[Claimed] = field(default_factory=list)
    retried: list[tuple[Claimed, int]] = field(default_factory=list)  # (message, visible at ms)
    dead: list[Claimed] = field(default_factory=list)  # to ``dead_letter_queue``, or dropped
    dead_letter_queue: str | None = None


@dataclass(slots=True)
class Metrics:
    """A queue's backlog, as ``Queue.metrics()`` reports it."""

    count: int = 0
    bytes: int = 0
    oldest: int | None = None  # timestamp (ms) of the oldest message


@dataclass(slots=True)
class Poll:
    """How many messages are ready now (up to a limit), and when the next one will be."""

    ready: int
    next_at: int | None


@dataclass(slots=True)
class Stats:
    """A queue's messages by state, for ``queues list``."""

    metrics: Metrics
    ready: int
    delayed: int
    in_flight: int


@dataclass(slots=True)
class Peeked:
    """A stored message and its state (``ready``, ``delayed`` or ``in flight``), for the CLI."""

    message: Stored
    state: str
    visible_at: int | None = None


class QueueBackend(Protocol):
    """Storage for every queue of one kind (``sqlite``, ``redis``) in one runtime."""

    kind: str

    async def enqueue(self, queue: str, messages: Sequence[tuple[Stored, int]]) -> Metrics:
        """Store (message, visible at ms) pairs atomically; return the metrics from before."""
        ...

    async def metrics(self, queue: str) -> Metrics: ...

    async def poll(self, queue: str, now: int, limit: int) -> Poll:
        """Count ready messages (at most ``limit``) and find when the next becomes ready."""
        ...

    async def claim(self, queue: str, now: int, limit: int, lease_until: int) -> list[Claimed]:
        """Lease up to ``limit`` ready messages, in order; raise their attempts by one."""
        ...

    async def renew(self, queue: str, claimed: Sequence[Claimed], lease_until: int) -> None:
        """Extend the lease of messages still being handled."""
        ...

    async def settle(self, queue: str, outcome: Outcome, now: int) -> int:
        """Apply a batch's outcome atomically to the messages still leased; return how many."""
        ...

    async def stats(self, queue: str, now: int) -> Stats: ...

    async def peek(self, queue: str, limit: int, now: int) -> list[Peeked]:
        """Messages in delivery order without leasing them."""
        ...

    async def replay(
        self, queue: str, ids: Sequence[str] | None, fallback: str | None, now: int
    ) -> list[tuple[str, str]]:
        """Move dead letters (all, or ``ids``) not in flight back to their origin queue (or
        ``fallback``) with attempts reset; return (id, queue) for each one moved."""
        ...

    async def queues(self) -> list[str]:
        """Names of the queues that hold or held messages."""
        ...

    async def close(self) -> None: ...
