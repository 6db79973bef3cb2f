"""The Cache API: ``caches.default`` and ``await caches.open(name)``, as on Cloudflare.

Cloudflare code imports it as ``from js import caches`` (or ``from workers import caches``).
``caches`` is one module-level object: each use finds the runtime of the worker being run, whose
``CacheStorage`` (``bindings.cache.settings.storage_of``) holds that runtime's entries.
"""

from __future__ import annotations

from typing import Any

from bindings.cache.cache import Cache, CacheStorage
from bindings.cache.settings import storage_of
from bindings.env import current_worker

__all__ = ["Cache", "CacheStorage", "caches", "storage_of"]


def _current() -> CacheStorage:
    worker = current_worker.get(None)
    if worker is None:
        raise RuntimeError(
            "caches works only while Hearth runs a worker (in a handler, or at import time of "
            "its main module); elsewhere use bindings.cache.storage_of(runtime)"
        )
    return storage_of(worker.runtime)


class _Caches:
    """``caches``: the current worker's CacheStorage (``default``, ``open`` and the rest)."""

    @property
    def default(self) -> Cache:
        return _current().default

    async def open(self, cacheName: str) -> Cache:
        return await _current().open(cacheName)

    def __getattr__(self, name: str) -> Any:
        if name in ("match", "has", "delete", "keys"):  # unimplemented on workerd: they throw
            return getattr(_current(), name)
        raise AttributeError(f"'caches' has no attribute {name!r}")

    def __repr__(self) -> str:
        return "<caches>"


caches = _Caches()
