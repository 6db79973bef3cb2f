"""Where cached responses live: the backend interface, and the in-memory backend.

A backend stores opaque entries under ``(namespace, key)``; the Cache API's rules (what may be
stored, for how long, what a match answers) live in ``bindings.cache.cache`` above it.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Protocol

from cachetools import TLRUCache

from bindings.clock import Clock
from bindings.errors import JsException

MEMORY_MAX_BYTES = 64 * 1024 * 1024  # default bound of the in-memory cache (LRU eviction past it)


class CacheBackendError(JsException):
    """A backend could not do its work (Redis down, ...); the Cache API decides what users see."""


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """One stored response. ``expires`` and ``born`` are runtime-clock seconds; ``born`` is
    when the response was fresh (put time minus the Age it arrived with)."""

    status: int
    status_text: str
    headers: list[tuple[str, str]]
    body: bytes
    expires: float
    born: float

    @property
    def size(self) -> int:
        return len(self.body) + sum(len(k) + len(v) for k, v in self.headers) + 64


class CacheBackend(Protocol):
    """Storage primitives of the Cache API.

    Invariants: ``put`` replaces any entry under the same key; ``get`` returns an equal entry or
    None, and may return one whose ``expires`` has passed (the caller decides); an entry may
    vanish at any time (eviction), as Cloudflare's cache allows. ``ttl`` is a hint in seconds
    for backends that expire entries themselves. Failures raise CacheBackendError.
    """

    async def get(self, namespace: str, key: str) -> CacheEntry | None: ...

    async def put(self, namespace: str, key: str, entry: CacheEntry, ttl: float) -> None: ...

    async def delete(self, namespace: str, key: str) -> float | None:
        """Remove the entry; return its ``expires`` (None when there was none)."""
        ...

    async def purge(self, namespace: str | None = None) -> int:
        """Remove every entry of ``namespace`` (of all namespaces when None); return the count."""
        ...


class MemoryBackend:
    """Entries in this process's memory: a time-aware LRU bounded by ``max_bytes`` in total.

    Expired entries are dropped on access; the least recently used go first when full; an entry
    larger than the whole bound is not stored (Cloudflare's 413, which ``put`` ignores).
    """

    def __init__(self, clock: Clock, max_bytes: int = MEMORY_MAX_BYTES) -> None:
        self._entries: TLRUCache[tuple[str, str], CacheEntry] = TLRUCache(
            maxsize=max_bytes,
            ttu=lambda _key, entry, _now: entry.expires,
            timer=clock,
            getsizeof=lambda entry: entry.size,
        )

    async def get(self, namespace: str, key: str) -> CacheEntry | None:
        return self._entries.get((namespace, key))

    async def put(self, namespace: str, key: str, entry: CacheEntry, ttl: float) -> None:
        with contextlib.suppress(ValueError):  # larger than the whole cache: not stored
            self._entries[(namespace, key)] = entry

    async def delete(self, namespace: str, key: str) -> float | None:
        entry = self._entries.pop((namespace, key), None)
        return None if entry is None else entry.expires

    async def purge(self, namespace: str | None = None) -> int:
        keys = [k for k in self._entries if namespace is None or k[0] == namespace]
        for k in keys:
            self._entries.pop(k, None)
        return len(keys)
