"""Rate limits counted in KV, so they hold across processes and machines sharing a namespace.

Each attempt writes its own key ``rl:<bucket>:<ms>.<sequence>:<random>`` (never a
read-modify-write of a counter, which would lose updates between processes), then lists the
bucket and is allowed when fewer than ``limit`` attempts of the last ``window`` seconds sort
before it. Keys sort by arrival: by millisecond, then by this process's sequence number; only
attempts landing in the same millisecond in two processes are ordered arbitrarily. A refused attempt
deletes its key again, so only allowed attempts count: after a burst, the bucket opens as soon
as its oldest attempt leaves the window (a sliding window; ``X-Retry-After`` says when).

Consistency: ``list`` reads the backend itself, never the per-process read cache of ``get``, so
on Hearth's SQLite and Redis backends the count is exact across processes. On Cloudflare's own
KV, writes take up to 60 s to reach other locations and the limit is only approximate there.
"""

from __future__ import annotations

import itertools
import math
import secrets
from dataclasses import dataclass
from typing import Any

from workers.auth.dates import now_ms

SIGN_IN_WINDOW = 10  # seconds
SIGN_IN_MAX = 3
# Better Auth's stricter rule covers these /api/auth paths; Hearth adds its own sign-ins.
STRICT_PREFIXES = ("/sign-in", "/sign-up", "/change-password", "/change-email")
KV_MIN_TTL = 60
_LIST_LIMIT = 1000
_sequence = itertools.count()


@dataclass(frozen=True)
class Verdict:
    """The outcome of one attempt: allowed, or refused with seconds until it may retry."""

    allowed: bool
    retry_after: int = 0


async def consume(kv: Any, bucket: str, *, window: float, limit: int) -> Verdict:
    """Count one attempt in ``bucket``; refuse it when ``limit`` attempts fill the window."""
    now = now_ms()
    prefix = f"rl:{bucket}:"
    mine = f"{prefix}{now:015d}.{next(_sequence) % 10**9:09d}:{secrets.token_hex(4)}"
    await kv.put(mine, "1", expirationTtl=max(KV_MIN_TTL, math.ceil(window) + 1))
    listed = await kv.list(prefix=prefix, limit=_LIST_LIMIT)
    start = now - int(window * 1000)
    earlier = [
        stamp
        for entry in listed["keys"]
        if entry["name"] < mine and (stamp := _stamp(entry["name"], prefix)) > start
    ]
    if len(earlier) < limit:
        return Verdict(True)
    await kv.delete(mine)
    # The attempt that must leave the window before another one fits.
    blocker = earlier[len(earlier) - limit]
    return Verdict(False, max(1, math.ceil((blocker + window * 1000 - now) / 1000)))


def _stamp(name: str, prefix: str) -> int:
    try:
        return int(name[len(prefix) :].partition(".")[0])
    except ValueError:
        return 0
