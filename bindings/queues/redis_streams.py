"""The Redis queue backend: Redis Streams with one consumer group, for several processes or hosts.

Per queue ``q`` (keys share the hash tag ``{q}``):

- ``<prefix>queue:{q}:s`` — a stream of ready message ids, read by the consumer group
  ``hearth``; an entry is leased to the consumer (process) that read it until it is acked;
- ``:m`` hash id → ``[timestamp, contentType, origin]`` JSON, a newline, then the body;
- ``:a`` hash id → deliveries begun (``attempts``); ``:t`` zset id → timestamp (backlog count
  and oldest message); ``:b`` backlog bytes; ``:d`` zset id → visible time of delayed messages,
  moved onto the stream by whichever process polls once they are due.

A process that dies holding entries leaves them pending in the group; once they have been idle
for the visibility timeout, any consumer takes them over (``XAUTOCLAIM``) and they count as a
failed attempt. A live consumer renews its lease while its batch runs, so no entry is handled
by two processes in the same attempt. Every step that touches several keys is one Lua script,
so it is atomic. The visibility timeout is measured by Redis' clock; message times by the
runtime's.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from bindings.queues.backend import (
    BackendError,
    Claimed,
    Metrics,
    Outcome,
    Peeked,
    Poll,
    Stats,
    Stored,
)
from bindings.queues.sqlite import process_identity

if TYPE_CHECKING:
    import redis.asyncio

GROUP = "hearth"

_ENQUEUE = """
local count = redis.call('ZCARD', KEYS[3])
local size = redis.call('GET', KEYS[5]) or '0'
local oldest = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')[2] or ''
for i = 2, #ARGV, 5 do
  local id, at = ARGV[i], tonumber(ARGV[i + 1])
  redis.call('HSET', KEYS[2], id, ARGV[i + 4])
  redis.call('HDEL', KEYS[6], id)
  redis.call('ZADD', KEYS[3], ARGV[i + 2], id)
  redis.call('INCRBY', KEYS[5], ARGV[i + 3])
  if at == 0 then
    redis.call('XADD', KEYS[1], '*', 'id', id)
  else
    redis.call('ZADD', KEYS[4], at, id)
  end
end
redis.call('SADD', KEYS[7], ARGV[1])
return {count, size, oldest}
"""

# Move due delayed ids onto the stream, then count what a claim would get right now.
_POLL = """
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, 1000)
for _, id in ipairs(due) do redis.call('XADD', KEYS[1], '*', 'id', id) end
if #due > 0 then redis.call('ZREM', KEYS[2], unpack(due)) end
local limit = tonumber(ARGV[2])
local ready = 0
local last = nil
if redis.call('EXISTS', KEYS[1]) == 1 then
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
    local name, lid
    for j = 1, #g, 2 do
      if g[j] == 'name' then name = g[j + 1] end
      if g[j] == 'last-delivered-id' then lid = g[j + 1] end
    end
    if name == ARGV[4] then last = lid end
  end
end
if last then
  ready = #redis.call('XRANGE', KEYS[1], '(' .. last, '+', 'COUNT', limit)
  if ready < limit then
    local idle = redis.call('XPENDING', KEYS[1], ARGV[4], 'IDLE', ARGV[3], '-', '+', limit - ready)
    ready = ready + #idle
  end
end
return {ready, redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')[2] or false}
"""

_CLAIM = """
local limit = tonumber(ARGV[3])
local entries = {}
local auto = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[4], '0-0', 'COUNT', limit)
for _, e in ipairs(auto[2]) do if e then table.insert(entries, e) end end
if #entries < limit then
  local fresh = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', limit - #entries,
                           'STREAMS', KEYS[1], '>')
  if fresh then for _, e in ipairs(fresh[1][2]) do table.insert(entries, e) end end
end
local out = {}
for _, e in ipairs(entries) do
  local eid, id = e[1], e[2][2]
  local payload = redis.call('HGET', KEYS[2], id)
  if payload then
    table.insert(out, {eid, id, redis.call('HINCRBY', KEYS[3], id, 1), payload})
  else
    redis.call('XACK', KEYS[1], ARGV[1], eid)
    redis.call('XDEL', KEYS[1], eid)
  end
end
return out
"""

_RENEW = """
for i = 3, #ARGV, 3 do
  if redis.call('HGET', KEYS[2], ARGV[i + 1]) == ARGV[i + 2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
  end
end
return 0
"""

# Prefixed to settle and move: a payload's body length, 0 for one already gone (a script that
# raised halfway would leave its earlier steps applied: Redis does not roll a script back).
_SIZE = """
local function _size(payload)
  if not payload then return 0 end
  return #payload - string.find(payload, '\\n', 1, true)
end
"""

# KEYS: source s m a t d b, dead-letter s m a t b, registry. ARGV: group, now, dlq name, then
# (op, entry id, message id, attempts, visible-at or new payload) per message.
_SETTLE = """
local applied = 0
for i = 4, #ARGV, 5 do
  local op, eid, id, arg = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 4]
  if redis.call('HGET', KEYS[3], id) == ARGV[i + 3] then
    applied = applied + 1
    redis.call('XACK', KEYS[1], ARGV[1], eid)
    redis.call('XDEL', KEYS[1], eid)
    if op == 'retry' then
      if tonumber(arg) <= tonumber(ARGV[2]) then
        redis.call('XADD', KEYS[1], '*', 'id', id)
      else
        redis.call('ZADD', KEYS[5], arg, id)
      end
    else
      local size = _size(redis.call('HGET', KEYS[2], id))
      local ts = redis.call('ZSCORE', KEYS[4], id)
      redis.call('HDEL', KEYS[2], id)
      redis.call('HDEL', KEYS[3], id)
      redis.call('ZREM', KEYS[4], id)
      redis.call('DECRBY', KEYS[6], size)
      if op == 'dead' then
        redis.call('HSET', KEYS[8], id, arg)
        redis.call('HDEL', KEYS[9], id)
        redis.call('ZADD', KEYS[10], ts or ARGV[2], id)
        redis.call('INCRBY', KEYS[11], size)
        redis.call('XADD', KEYS[7], '*', 'id', id)
        redis.call('SADD', KEYS[12], ARGV[3])
      end
    end
  end
end
return applied
"""

# Move one message that is not in flight from one queue to another, attempts reset.
# KEYS: source s m a t d b, target s m a t b, registry. ARGV: group, entry id or '', id,
# new payload, target name.
_MOVE = """
if ARGV[2] ~= '' then
  if #redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1) > 0 then return 0 end
  if redis.call('XDEL', KEYS[1], ARGV[2]) == 0 then return 0 end
elseif redis.call('ZREM', KEYS[5], ARGV[3]) == 0 then
  return 0
end
local payload = redis.call('HGET', KEYS[2], ARGV[3])
if not payload then  -- gone already: nothing to move
  redis.call('HDEL', KEYS[3], ARGV[3])
  redis.call('ZREM', KEYS[4], ARGV[3])
  return 0
end
local size = _size(payload)
local ts = redis.call('ZSCORE', KEYS[4], ARGV[3])
redis.call('HDEL', KEYS[2], ARGV[3])
redis.call('HDEL', KEYS[3], ARGV[3])
redis.call('ZREM', KEYS[4], ARGV[3])
redis.call('DECRBY', KEYS[6], size)
redis.call('HSET', KEYS[8], ARGV[3], ARGV[4])
redis.call('HDEL', KEYS[9], ARGV[3])
redis.call('ZADD', KEYS[10], ts, ARGV[3])
redis.call('INCRBY', KEYS[11], size)
redis.call('XADD', KEYS[7], '*', 'id', ARGV[3])
redis.call('SADD', KEYS[12], ARGV[5])
return 1
"""


def pack(message: Stored) -> bytes:
    header = json.dumps([message.timestamp, message.content_type, message.origin])
    return header.encode() + b"\n" + message.body


def unpack(msg_id: str, payload: bytes, attempts: int = 0) -> Stored:
    header, _, body = payload.partition(b"\n")
    timestamp, content_type, origin = json.loads(header)
    return Stored(msg_id, int(timestamp), content_type, body, attempts, origin)


class RedisQueues:
    """Every queue of a runtime on one Redis, under ``prefix``."""

    kind = "redis"

    def __init__(
        self, client: redis.asyncio.Redis, *, prefix: str, visibility_timeout_ms: int
    ) -> None:
        # redis-py's stubs type replies as unions of str/bytes/...; without decode_responses
        # they are bytes, which is what this module reads.
        self._redis: Any = client
        self.prefix = prefix
        self.visibility_timeout_ms = visibility_timeout_ms
        self.consumer = f"{socket.gethostname()}:{process_identity()}"
        self._scripts = {
            name: client.register_script(text)
            for name, text in (
                ("enqueue", _ENQUEUE), ("poll", _POLL), ("claim", _CLAIM), ("renew", _RENEW),
                ("settle", _SIZE + _SETTLE), ("move", _SIZE + _MOVE),
            )
        }  # fmt: skip
        self._groups: set[str] = set()

    def _keys(self, queue: str, *parts: str) -> list[str]:
        base = f"{self.prefix}queue:{{{queue}}}:"
        return [base + part for part in parts]

    async def _call(self, script: str, keys: list[str], args: list[Any]) -> Any:
        async with _translated():
            return await self._scripts[script](keys=keys, args=args)

    async def _group(self, queue: str) -> None:
        """Create the consumer group once (from the stream's start, so nothing is skipped)."""
        if queue in self._groups:
            return
        import redis.exceptions

        async with _translated():
            try:
                await self._redis.xgroup_create(
                    self._keys(queue, "s")[0], GROUP, id="0", mkstream=True
                )
            except redis.exceptions.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        self._groups.add(queue)

    async def enqueue(self, queue: str, messages: Sequence[tuple[Stored, int]]) -> Metrics:
        args: list[Any] = [queue]
        for message, visible_at in messages:
            # 0 = ready now; the consumer's poll moves a delayed one when it is due
            ready = visible_at <= message.timestamp
            args += [message.id, 0 if ready else visible_at, message.timestamp,
                     len(message.body), pack(message)]  # fmt: skip
        keys = [*self._keys(queue, "s", "m", "t", "d", "b", "a"), f"{self.prefix}queues"]
        count, size, oldest = await self._call("enqueue", keys, args)
        return Metrics(int(count), int(size), int(float(oldest)) if oldest else None)

    async def metrics(self, queue: str) -> Metrics:
        t, b = self._keys(queue, "t", "b")
        async with _translated(), self._redis.pipeline(transaction=True) as pipe:
            count, size, oldest = (
                await pipe.zcard(t).get(b).zrange(t, 0, 0, withscores=True).execute()
            )
        return Metrics(int(count), int(size or 0), int(oldest[0][1]) if oldest else None)

    async def poll(self, queue: str, now: int, limit: int) -> Poll:
        await self._group(queue)
        ready, next_at = await self._call(
            "poll", self._keys(queue, "s", "d"), [now, limit, self.visibility_timeout_ms, GROUP]
        )
        return Poll(int(ready), int(float(next_at)) if next_at else None)

    async def claim(self, queue: str, now: int, limit: int, lease_until: int) -> list[Claimed]:
        await self._group(queue)
        rows = await self._call(
            "claim",
            self._keys(queue, "s", "m", "a"),
            [GROUP, self.consumer, limit, self.visibility_timeout_ms],
        )
        return [
            Claimed(unpack(msg_id.decode(), payload, int(attempts)), eid.decode())
            for eid, msg_id, attempts, payload in rows
        ]

    async def renew(self, queue: str, claimed: Sequence[Claimed], lease_until: int) -> None:
        args: list[Any] = [GROUP, self.consumer]
        for c in claimed:
            args += [c.handle, c.message.id, c.message.attempts]
        await self._call("renew", self._keys(queue, "s", "a"), args)

    async def settle(self, queue: str, outcome: Outcome, now: int) -> int:
        dlq = outcome.dead_letter_queue
        args: list[Any] = [GROUP, now, dlq or ""]
        for c in outcome.acked:
            args += ["ack", c.handle, c.message.id, c.message.attempts, ""]
        for c, visible_at in outcome.retried:
            args += ["retry", c.handle, c.message.id, c.message.attempts, visible_at]
        for c in outcome.dead:
            if dlq is None:
                args += ["drop", c.handle, c.message.id, c.message.attempts, ""]
            else:
                moved = Stored(c.message.id, c.message.timestamp, c.message.content_type,
                               c.message.body, origin=queue)  # fmt: skip
                args += ["dead", c.handle, c.message.id, c.message.attempts, pack(moved)]
        keys = [
            *self._keys(queue, "s", "m", "a", "t", "d", "b"),
            *self._keys(dlq or queue, "s", "m", "a", "t", "b"),
            f"{self.prefix}queues",
        ]
        return int(await self._call("settle", keys, args))

    async def _pending(self, queue: str, limit: int) -> dict[str, int]:
        """Entry id → idle ms of entries a consumer holds."""
        await self._group(queue)
        async with _translated():
            rows = await self._redis.xpending_range(
                self._keys(queue, "s")[0], GROUP, min="-", max="+", count=limit
            )
        return {r["message_id"].decode(): int(r["time_since_delivered"]) for r in rows}

    async def stats(self, queue: str, now: int) -> Stats:
        s, d = self._keys(queue, "s", "d")
        await self._group(queue)
        async with _translated():
            length = await self._redis.xlen(s)
            delayed = await self._redis.zcard(d)
            pending = await self._redis.xpending(s, GROUP)
        in_flight = int(pending["pending"])
        return Stats(await self.metrics(queue), length - in_flight, delayed, in_flight)

    async def peek(self, queue: str, limit: int, now: int) -> list[Peeked]:
        s, m, a, d = self._keys(queue, "s", "m", "a", "d")
        pending = await self._pending(queue, 10_000)
        async with _translated():
            entries = await self._redis.xrange(s, count=limit)
            delayed = await self._redis.zrange(d, 0, limit - 1, withscores=True)
        rows: list[tuple[str, str, int | None]] = []
        for eid, fields in entries:
            idle = pending.get(eid.decode())
            live = idle is not None and idle < self.visibility_timeout_ms
            rows.append((fields[b"id"].decode(), "in flight" if live else "ready", None))
        rows += [(i.decode(), "delayed", int(at)) for i, at in delayed]
        rows = rows[:limit]
        if not rows:
            return []
        async with _translated():
            payloads = await self._redis.hmget(m, [r[0] for r in rows])
            attempts = await self._redis.hmget(a, [r[0] for r in rows])
        return [
            Peeked(unpack(msg_id, payload, int(att or 0)), state, at)
            for (msg_id, state, at), payload, att in zip(rows, payloads, attempts, strict=True)
            if payload is not None
        ]

    async def replay(
        self, queue: str, ids: Sequence[str] | None, fallback: str | None, now: int
    ) -> list[tuple[str, str]]:
        s, m, d = self._keys(queue, "s", "m", "d")
        await self._group(queue)
        async with _translated():
            entries = await self._redis.xrange(s)
            delayed = await self._redis.zrange(d, 0, -1)
        candidates = [(eid.decode(), f[b"id"].decode()) for eid, f in entries]
        candidates += [("", i.decode()) for i in delayed]
        moved = []
        for eid, msg_id in candidates:
            if ids is not None and msg_id not in ids:
                continue
            async with _translated():
                payload = await self._redis.hget(m, msg_id)
            if payload is None:
                continue
            message = unpack(msg_id, payload)
            target = message.origin or fallback
            if target is None:
                continue
            message.origin = None
            keys = [
                *self._keys(queue, "s", "m", "a", "t", "d", "b"),
                *self._keys(target, "s", "m", "a", "t", "b"),
                f"{self.prefix}queues",
            ]
            if await self._call("move", keys, [GROUP, eid, msg_id, pack(message), target]):
                moved.append((msg_id, target))
        return moved

    async def queues(self) -> list[str]:
        async with _translated():
            names = await self._redis.smembers(f"{self.prefix}queues")
        return sorted(n.decode() for n in names)

    async def close(self) -> None:
        """The client is the runtime's shared one (``redis_pool``): it closes with the runtime."""


@contextlib.asynccontextmanager
async def _translated() -> AsyncIterator[None]:
    """Redis errors become BackendError, once, here."""
    import redis.exceptions

    try:
        yield
    except redis.exceptions.RedisError as exc:
        raise BackendError(f"redis: {exc}") from exc
