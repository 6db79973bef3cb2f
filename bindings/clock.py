"""Time, injected: bindings ask a clock instead of ``time.time()`` so tests can pin it."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Source of wall-clock time in seconds since the epoch."""

    def __call__(self) -> float: ...


def system_clock() -> float:
    """The real wall clock."""
    return time.time()


class ManualClock:
    """A clock that moves only when told to; for tests (like Miniflare's fake timers)."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def set(self, seconds: float) -> None:
        self.now = seconds
