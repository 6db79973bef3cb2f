"""The Redis KV backend: for several processes or hosts sharing namespaces.

Layout, under a configurable key prefix (``hearth:kv:`` by default) and one hash tag per
namespace so a namespace's keys share a cluster slot:

- ``<prefix>{<ns>}:k:<key>`` — a hash per key: ``v`` value, ``e`` expiration in seconds ("" for
  none), ``m`` metadata JSON (absent for none). PEXPIREAT lets Redis reclaim it once expired.
- ``<prefix>{<ns>}:keys`` — a sorted set of every key, all scores 0, so ZRANGEBYLEX walks keys
  in byte order for ``list`` (SCAN is unordered and cannot page by cursor).
- ``<prefix>{<ns>}:exp`` — the expiring keys scored by their PEXPIREAT time, so the sweeper
  finds index entries whose hash Redis has already reclaimed without scanning every key.

``put``, ``list`` and ``purge`` are each one Lua script call: atomic, and one round trip. The
scripts touch hashes named from ARGV, which stays within one cluster slot thanks to the tag.

Expiry is decided above this module against ``runtime.clock``; PEXPIREAT only reclaims memory.
The clock may be a test's manual clock, so the reclaim time is shifted by the gap between that
clock and the real one: a key never vanishes from Redis before its expiration under the clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, cast
from urllib.parse import quote

import redis.asyncio
from redis.exceptions import RedisError

from bindings.clock import Clock
from bindings.kv.backends import Entry, Listed
from bindings.kv.errors import KVError

if TYPE_CHECKING:
    from redis.commands.core import AsyncScript

log = logging.getLogger("hearth.kv")

DEFAULT_PREFIX = "hearth:kv:"
SWEEP_BATCH = 500

# Stores one key: the hash, its reclaim time, and both indexes, atomically.
# KEYS: hash, index, expiry index; ARGV: key, value, expiration ("" none), metadata ("" none),
# reclaim time in ms ("" none).
PUT = """
redis.call('DEL', KEYS[1])
if ARGV[4] == '' then
    redis.call('HSET', KEYS[1], 'v', ARGV[2], 'e', ARGV[3])
else
    redis.call('HSET', KEYS[1], 'v', ARGV[2], 'e', ARGV[3], 'm', ARGV[4])
end
redis.call('ZADD', KEYS[2], 0, ARGV[1])
if ARGV[5] == '' then
    redis.call('ZREM', KEYS[3], ARGV[1])
else
    redis.call('PEXPIREAT', KEYS[1], ARGV[5])
    redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1])
end
"""

# One page of keys in byte order with their expiration and metadata, in one round trip.
# Index entries whose hash Redis has reclaimed are dropped on the way (atomically: a key put
# again meanwhile has its hash back). Returns key, expiration, metadata (nil: none), ...
# KEYS: index, expiry index; ARGV: hash-key prefix, low bound, high bound, how many.
LIST = """
local out, found, low, want = {}, 0, ARGV[2], tonumber(ARGV[4])
while found < want do
    local asked = want - found
    local members = redis.call('ZRANGEBYLEX', KEYS[1], low, ARGV[3], 'LIMIT', 0, asked)
    for _, name in ipairs(members) do
        local row = redis.call('HMGET', ARGV[1] .. name, 'e', 'm')
        if row[1] then
            out[#out + 1] = name
            out[#out + 1] = row[1]
            out[#out + 1] = row[2]
            found = found + 1
        else
            redis.call('ZREM', KEYS[1], name)
            redis.call('ZREM', KEYS[2], name)
        end
    end
    if #members < asked then break end
    low = '(' .. members[#members]
end
return out
"""

# Deletes each key whose stored expiration is still the one the caller saw expire.
# KEYS: index, expiry index, then one hash per key; ARGV: key, expiration, key, expiration...
PURGE = """
for i = 3, #KEYS do
    local name = ARGV[2 * i - 5]
    if redis.call('HGET', KEYS[i], 'e') == ARGV[2 * i - 4] then
        redis.call('DEL', KEYS[i])
        redis.call('ZREM', KEYS[1], name)
        redis.call('ZREM', KEYS[2], name)
    end
end
"""

# Drops index entries whose hash is gone (reclaimed by PEXPIREAT); atomic, so a key put again
# meanwhile keeps its entries. The hashes share the namespace's hash tag, hence its slot.
# KEYS: index, expiry index; ARGV: hash-key prefix, then the keys to check.
UNINDEX = """
local dropped = 0
for i = 2, #ARGV do
    if redis.call('EXISTS', ARGV[1] .. ARGV[i]) == 0 then
        redis.call('ZREM', KEYS[1], ARGV[i])
        redis.call('ZREM', KEYS[2], ARGV[i])
        dropped = dropped + 1
    end
end
return dropped
"""


@contextlib.asynccontextmanager
async def _translated(op: str) -> AsyncIterator[None]:
    """Turn a Redis failure into a KVError (the one place this backend translates errors)."""
    try:
        yield
    except RedisError as exc:
        raise KVError(op, 500, f"Redis: {exc}") from exc


class _Names:
    """The Redis key names of one namespace."""

    __slots__ = ("base", "expiring", "index")

    def __init__(self, prefix: str, namespace: str) -> None:
        # quote() makes the mapping injective and keeps "{" "}" out of the hash tag.
        self.base = f"{prefix}{{{quote(namespace, safe='')}}}:k:"
        self.index = f"{prefix}{{{quote(namespace, safe='')}}}:keys"
        self.expiring = f"{prefix}{{{quote(namespace, safe='')}}}:exp"


class RedisBackend:
    """KV rows in Redis; see the module docstring for the layout."""

    name = "redis"

    def __init__(
        self,
        client: redis.asyncio.Redis,
        clock: Clock,
        prefix: str = DEFAULT_PREFIX,
        sweep_interval: float = 60.0,
    ) -> None:
        self._client = client
        self._clock = clock
        self._prefix = prefix
        self._names: dict[str, _Names] = {}
        self._put: AsyncScript = client.register_script(PUT)
        self._list: AsyncScript = client.register_script(LIST)
        self._purge: AsyncScript = client.register_script(PURGE)
        self._unindex: AsyncScript = client.register_script(UNINDEX)
        self._sweep_interval = sweep_interval
        self._watched: set[str] = set()
        self._sweeper: asyncio.Task[None] | None = None

    def _ns(self, namespace: str) -> _Names:
        names = self._names.get(namespace)
        if names is None:
            names = self._names[namespace] = _Names(self._prefix, namespace)
        return names

    async def get(self, namespace: str, key: str) -> Entry | None:
        async with _translated("GET"):
            value, exp, meta = cast(
                "list[bytes | None]",
                await self._client.hmget(self._ns(namespace).base + key, "v", "e", "m"),
            )
        return None if value is None else _entry(value, exp, meta)

    async def get_many(self, namespace: str, keys: Sequence[str]) -> list[Entry | None]:
        base = self._ns(namespace).base
        async with _translated("GET_BULK"), self._client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hmget(base + key, "v", "e", "m")
            rows = await pipe.execute()
        return [None if v is None else _entry(v, e, m) for v, e, m in rows]

    async def put(self, namespace: str, key: str, entry: Entry) -> None:
        names = self._ns(namespace)
        expiration = reclaim = ""
        if entry.expiration is not None:
            expiration = str(entry.expiration)
            reclaim = str(self._reclaim_at(entry.expiration))
        args: list[str | bytes] = [key, entry.value, expiration, entry.metadata or "", reclaim]
        async with _translated("PUT"):
            await self._put(keys=[names.base + key, names.index, names.expiring], args=args)

    def _reclaim_at(self, expiration: int) -> int:
        """The real-time instant (ms) that corresponds to ``expiration`` under the clock."""
        skew = time.time() - self._clock()
        return int((expiration + max(skew, 0.0)) * 1000) + 1

    async def delete(self, namespace: str, key: str) -> None:
        names = self._ns(namespace)
        async with _translated("DELETE"), self._client.pipeline(transaction=True) as pipe:
            pipe.delete(names.base + key)
            pipe.zrem(names.index, key)
            pipe.zrem(names.expiring, key)
            await pipe.execute()

    async def purge(self, namespace: str, expired: Sequence[tuple[str, int]]) -> None:
        names = self._ns(namespace)
        keys = [names.index, names.expiring, *(names.base + key for key, _ in expired)]
        args = [part for key, exp in expired for part in (key, str(exp))]
        async with _translated("DELETE"):
            await self._purge(keys=keys, args=args)

    async def list(self, namespace: str, prefix: str, after: str, limit: int) -> list[Listed]:
        names = self._ns(namespace)
        start = prefix.encode()
        low = b"[" + start if prefix else b"-"
        if after and after.encode() >= start:
            low = b"(" + after.encode()
        # Valid UTF-8 never contains 0xFF, so it bounds every key that starts with the prefix.
        high = b"(" + start + b"\xff" if prefix else b"+"
        async with _translated("GET"):
            flat = await self._list(
                keys=[names.index, names.expiring], args=[names.base, low, high, limit]
            )
        return [_listed(*flat[i : i + 3]) for i in range(0, len(flat), 3)]

    def watch(self, namespace: str) -> None:
        """Sweep ``namespace``'s indexes periodically from now on (first call starts the task)."""
        self._watched.add(namespace)
        if self._sweeper is None and self._sweep_interval > 0:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_interval)
            for namespace in list(self._watched):
                try:
                    await self.sweep(namespace)
                except KVError:
                    log.warning("sweeping KV namespace %r failed", namespace, exc_info=True)

    async def sweep(self, namespace: str) -> int:
        """Drop index entries of keys Redis has reclaimed; returns how many were dropped."""
        names = self._ns(namespace)
        dropped = 0
        async with _translated("DELETE"):
            while True:
                now_ms = int(time.time() * 1000)
                due = await self._client.zrangebyscore(
                    names.expiring, "-inf", now_ms, start=0, num=SWEEP_BATCH
                )
                if not due:
                    return dropped
                gone = await self._unindex(
                    keys=[names.index, names.expiring], args=[names.base, *due]
                )
                dropped += int(gone)
                if len(due) < SWEEP_BATCH or not gone:
                    return dropped

    async def aclose(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None


def _entry(value: bytes, exp: bytes | None, meta: bytes | None) -> Entry:
    return Entry(value, int(exp) if exp else None, None if meta is None else meta.decode())


def _listed(member: bytes, exp: bytes, meta: bytes | None) -> Listed:
    return Listed(
        member.decode(), int(exp) if exp else None, None if meta is None else meta.decode()
    )
