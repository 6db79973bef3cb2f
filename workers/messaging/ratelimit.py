"""Rate limits: fixed windows per key in a Durable Object's SQL (the token bucket per socket is
``workers.common.ratelimit.Bucket``).

The windows live in the registry object, whose storage calls never yield: checking and
counting is one atomic step, exact across every request the object serves (unlike KV, whose
get-then-put races). A fixed window lets up to twice its limit through around a boundary;
that is the usual trade for one row per key.
"""

from __future__ import annotations

from typing import Any

PRUNE_EVERY = 256  # admissions between sweeps of finished windows

SCHEMA = """
CREATE TABLE IF NOT EXISTS rate_windows (
    key TEXT PRIMARY KEY,
    resets_at INTEGER NOT NULL,
    count INTEGER NOT NULL
)
"""


class Windows:
    """``admit(key, limit, period_ms, now_ms)``: count one event for ``key``; the seconds to
    wait when ``limit`` events already happened in the current window, else 0."""

    def __init__(self, sql: Any) -> None:
        self.sql = sql
        self._calls = 0
        sql.exec(SCHEMA)

    def admit(self, key: str, limit: int, period_ms: int, now_ms: int) -> int:
        self._calls += 1
        if self._calls % PRUNE_EVERY == 0:
            self.sql.exec("DELETE FROM rate_windows WHERE resets_at <= ?", now_ms)
        rows = self.sql.exec(
            "SELECT resets_at, count FROM rate_windows WHERE key = ?", key
        ).toArray()
        if not rows or rows[0].resets_at <= now_ms:
            self.sql.exec(
                "INSERT OR REPLACE INTO rate_windows (key, resets_at, count) VALUES (?, ?, 1)",
                key,
                now_ms + period_ms,
            )
            return 0
        if rows[0].count >= limit:
            return max(1, -(-(int(rows[0].resets_at) - now_ms) // 1000))
        self.sql.exec("UPDATE rate_windows SET count = count + 1 WHERE key = ?", key)
        return 0
