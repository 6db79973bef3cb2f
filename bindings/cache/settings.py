"""``[hearth.cache]``: which backend holds the Cache API's entries, one CacheStorage per runtime.

```toml
[hearth.cache]
backend = "memory"        # or "redis": shared by every process using the same Redis
max_bytes = 67108864      # memory: total size bound, least recently used entries go first
redis_url = "redis://127.0.0.1:6379/0"   # redis: else [hearth] redis_url, else HEARTH_REDIS_URL
prefix = "hearth:cache:"  # redis: key prefix
enabled = true            # false: every operation is a no-op (match misses, delete is false)
```
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bindings.cache.backends import MEMORY_MAX_BYTES, CacheBackend, MemoryBackend
from bindings.cache.cache import CacheStorage
from bindings.errors import ConfigError

if TYPE_CHECKING:
    from bindings.runtime import Runtime

SETTINGS = frozenset({"backend", "max_bytes", "redis_url", "prefix", "enabled"})


def storage_of(runtime: Runtime) -> CacheStorage:
    """The runtime's CacheStorage, made from ``[hearth.cache]`` on first use."""
    storage: CacheStorage | None = runtime.__dict__.get("_cache_storage")
    if storage is None:
        storage = runtime.__dict__["_cache_storage"] = _open(runtime)
    return storage


def _open(runtime: Runtime) -> CacheStorage:
    file = runtime.config.file
    settings = runtime.config.hearth.get("cache", {})
    if not isinstance(settings, Mapping):
        raise ConfigError(file, "hearth.cache", "must be a table")
    for key in settings:
        if key not in SETTINGS:
            known = ", ".join(sorted(SETTINGS))
            raise ConfigError(file, f"hearth.cache.{key}", f"unknown key (known: {known})")
    enabled = settings.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(file, "hearth.cache.enabled", "must be true or false")
    return CacheStorage(_backend(runtime, settings), runtime.clock, enabled=enabled)


def _backend(runtime: Runtime, settings: Mapping[str, Any]) -> CacheBackend:
    file = runtime.config.file
    kind = settings.get("backend", "memory")
    if kind == "memory":
        max_bytes = settings.get("max_bytes", MEMORY_MAX_BYTES)
        if not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes <= 0:
            raise ConfigError(file, "hearth.cache.max_bytes", "must be a positive integer")
        return MemoryBackend(runtime.clock, max_bytes)
    if kind == "redis":
        from bindings.cache.redis_backend import DEFAULT_PREFIX, RedisBackend
        from bindings.redis_pool import redis_client, redis_url

        prefix = settings.get("prefix", DEFAULT_PREFIX)
        if not isinstance(prefix, str):
            raise ConfigError(file, "hearth.cache.prefix", "must be a string")
        return RedisBackend(redis_client(runtime, redis_url(runtime, settings)), prefix)
    raise ConfigError(file, "hearth.cache.backend", 'must be "memory" or "redis"')
