"""Time for the auth worker: the runtime's clock, and dates in the formats Better Auth stores.

JSON always carries ``Date.toISOString()`` text (``2026-11-29T07:10:28.580Z``). Rows written by
Better Auth's Kysely adapter hold the same ISO text; a Drizzle-made database holds integer epoch
milliseconds or seconds instead. ``DateFormat`` reads all three and writes a database's own.
"""

from __future__ import annotations

import datetime as dt
import enum
import time
from typing import Any

from bindings.env import current_worker

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MS_THRESHOLD = 100_000_000_000  # an integer above this is epoch ms (year 5138 in seconds)


def now() -> float:
    """Seconds since the epoch from the runtime's clock (tests pin it), else the wall clock."""
    worker = current_worker.get(None)
    return worker.runtime.clock() if worker is not None else time.time()


def now_ms() -> int:
    """Milliseconds since the epoch, truncated as JavaScript's ``Date.now()``."""
    return int(now() * 1000)


def iso(ms: int) -> str:
    """``Date.toISOString()`` of an epoch-milliseconds value."""
    moment = _EPOCH + dt.timedelta(milliseconds=ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_ms(value: Any) -> int | None:
    """Epoch ms of a stored date (ISO text, integer ms or integer seconds); None if absent."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a date: {value!r}")
    if isinstance(value, int | float):
        number = int(value)
        return number if abs(number) >= _MS_THRESHOLD else number * 1000
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return parse_ms(int(text))
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def to_iso(value: Any) -> str | None:
    """A stored date as JSON's ISO text (None stays None)."""
    ms = parse_ms(value)
    return None if ms is None else iso(ms)


class DateFormat(enum.Enum):
    """How one database stores dates; detected from its rows (ISO for a new database)."""

    ISO = "iso"
    MS = "ms"
    SECONDS = "s"

    def encode(self, ms: int) -> str | int:
        """Epoch milliseconds in this format, ready to bind."""
        if self is DateFormat.ISO:
            return iso(ms)
        return ms if self is DateFormat.MS else ms // 1000

    @classmethod
    def of(cls, value: Any) -> DateFormat:
        """The format a stored value is written in."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            return cls.MS if abs(value) >= _MS_THRESHOLD else cls.SECONDS
        return cls.ISO
