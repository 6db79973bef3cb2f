"""The Redis cache backend: one hash per entry, shared by every process that uses the same Redis.

Layout: ``<prefix><hex(namespace)>:<key>`` holds ``m`` (JSON: status, status text, headers,
expiry, birth time) and ``b`` (the body), with a Redis TTL so dead entries go away by
themselves. The namespace is hex-encoded so that no cache name can reach into another's keys.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

from bindings.cache.backends import CacheBackendError, CacheEntry

if TYPE_CHECKING:
    import redis.asyncio

DEFAULT_PREFIX = "hearth:cache:"
_GLOB_SPECIALS = str.maketrans({c: "\\" + c for c in "*?[]\\"})


@contextmanager
def _translated(op: str) -> Iterator[None]:
    import redis

    try:
        yield
    except redis.RedisError as exc:
        raise CacheBackendError(f"cache {op} failed: {exc}") from exc


class RedisBackend:
    """Entries in Redis (``redis.asyncio`` client from ``bindings.redis_pool``)."""

    def __init__(self, client: redis.asyncio.Redis, prefix: str = DEFAULT_PREFIX) -> None:
        self._redis = client
        self._prefix = prefix

    def _key(self, namespace: str, key: str) -> str:
        return f"{self._prefix}{namespace.encode().hex()}:{key}"

    async def get(self, namespace: str, key: str) -> CacheEntry | None:
        with _translated("match"):
            meta, body = await self._redis.hmget(self._key(namespace, key), ["m", "b"])
        if meta is None:
            return None
        return _entry(json.loads(meta), cast(bytes, body or b""))  # the pool's client gives bytes

    async def put(self, namespace: str, key: str, entry: CacheEntry, ttl: float) -> None:
        meta = json.dumps(
            {"s": entry.status, "t": entry.status_text, "h": entry.headers,
             "e": entry.expires, "at": entry.born},
            separators=(",", ":"),
        )  # fmt: skip
        name = self._key(namespace, key)
        with _translated("put"):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(name)
                pipe.hset(name, mapping={"m": meta, "b": entry.body})
                pipe.pexpire(name, max(1, int(ttl * 1000)))
                await pipe.execute()

    async def delete(self, namespace: str, key: str) -> float | None:
        name = self._key(namespace, key)
        with _translated("delete"):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hget(name, "m")
                pipe.delete(name)
                meta, _ = await pipe.execute()
        return None if meta is None else float(json.loads(meta)["e"])

    async def purge(self, namespace: str | None = None) -> int:
        pattern = self._prefix.translate(_GLOB_SPECIALS)
        pattern += "*" if namespace is None else f"{namespace.encode().hex()}:*"
        removed = 0
        with _translated("purge"):
            batch: list[Any] = []
            async for name in self._redis.scan_iter(match=pattern, count=500):
                batch.append(name)
                if len(batch) >= 500:
                    removed += await self._redis.unlink(*batch)
                    batch.clear()
            if batch:
                removed += await self._redis.unlink(*batch)
        return removed


def _entry(meta: dict[str, Any], body: bytes) -> CacheEntry:
    return CacheEntry(
        status=meta["s"],
        status_text=meta["t"],
        headers=[(k, v) for k, v in meta["h"]],
        body=body,
        expires=meta["e"],
        born=meta["at"],
    )
