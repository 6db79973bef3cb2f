"""The per-process read cache in front of every KV backend.

Consistency model (docs/bindings/kv.md says the same to users):

- A read served by the backend is kept for the read's ``cacheTtl`` (the namespace's
  ``cache_ttl``, 60 s by default, as on Cloudflare) or until the value's own expiration, whichever
  comes first. Misses are cached too, as Cloudflare caches negative lookups.
- A write (``put``/``delete``) drops the key from this process's cache at once, so the process
  that wrote reads its own write. A read that was already in flight when a write happened is not
  cached, so it cannot put the old value back.
- Other processes keep serving what they cached: they see a write within ``cacheTtl``.
- ``list`` is never cached.

Entries expire on ``runtime.clock`` (so tests move time instead of sleeping) and the cache is
bounded in bytes; a value larger than an eighth of the bound is not cached at all.
"""

from __future__ import annotations

from typing import Any

from cachetools import TLRUCache

from bindings.clock import Clock
from bindings.kv.backends import Entry

DEFAULT_MAX_BYTES = 32 * 1024 * 1024
_OVERHEAD = 128  # rough bytes per cached item beyond its value and metadata

CacheKey = tuple[str, str]  # (namespace id, key)


def _until(key: CacheKey, item: tuple[Entry | None, float], now: float) -> float:
    return item[1]


def _size(item: tuple[Entry | None, float]) -> int:
    entry = item[0]
    if entry is None:
        return _OVERHEAD
    return _OVERHEAD + len(entry.value) + len(entry.metadata or "")


class ReadCache:
    """Cached backend reads keyed by (namespace id, key); each item lives until its own time."""

    def __init__(self, clock: Clock, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.clock = clock
        # TLRU rather than TTL: each item carries its own deadline (cacheTtl varies per read,
        # and an item must not outlive the value's expiration).
        self.items: TLRUCache[CacheKey, tuple[Entry | None, float]] = TLRUCache(
            max_bytes, _until, timer=clock, getsizeof=_size
        )
        self.max_item = max_bytes // 8
        self.writes = 0  # bumped by every write; a read started before one is not cached

    def store(self, key: CacheKey, entry: Entry | None, ttl: float, writes: int) -> None:
        """Keep a backend read for ``ttl`` seconds, unless a write happened since it started."""
        if writes != self.writes:
            return
        until = self.clock() + ttl
        if entry is not None:
            if entry.expiration is not None and entry.expiration < until:
                until = entry.expiration
            if len(entry.value) > self.max_item:
                return
        self.items[key] = (entry, until)

    def invalidate(self, key: CacheKey) -> None:
        """Forget ``key`` (this process wrote it) and void reads in flight."""
        self.writes += 1
        self.items.pop(key, None)

    def stats(self) -> dict[str, Any]:
        return {"items": len(self.items), "bytes": self.items.currsize}
