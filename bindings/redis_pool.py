"""One shared ``redis.asyncio`` client per runtime and URL, for every Redis-backed binding.

The URL comes from the binding's own settings, else ``[hearth] redis_url``, else the
``HEARTH_REDIS_URL`` environment variable, else ``redis://127.0.0.1:6379/0``. ``redis`` is
imported only when a Redis backend is configured.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import redis.asyncio

    from bindings.runtime import Runtime

DEFAULT_URL = "redis://127.0.0.1:6379/0"


def redis_url(runtime: Runtime, settings: Mapping[str, Any] | None = None) -> str:
    """The Redis URL for a binding: its own setting, the [hearth] one, the environment, default."""
    for source in (settings or {}, runtime.config.hearth):
        url = source.get("redis_url")
        if url:
            return str(url)
    return os.environ.get("HEARTH_REDIS_URL") or DEFAULT_URL


def redis_client(runtime: Runtime, url: str) -> redis.asyncio.Redis:
    """The runtime's client for ``url`` (created on first use, closed when the runtime stops)."""
    clients: dict[str, Any] = runtime.__dict__.setdefault("_redis_clients", {})
    client = clients.get(url)
    if client is None:
        import redis.asyncio

        client = clients[url] = redis.asyncio.Redis.from_url(url)
        runtime.on_close(client.aclose)
    return client
