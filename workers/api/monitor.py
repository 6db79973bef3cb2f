"""The seed's PerformanceMonitor as ASGI middleware: ``X-Request-ID`` and ``X-Response-Time`` on
every response, and per-day request metrics rolled up in KV after the response.

    app = Starlette(..., middleware=[Middleware(PerformanceMonitor, worker="api")])

The request id is the one the host gave the request (``scope["hearth.request_id"]``: the
client's ``X-Request-ID`` or the access log's) or a fresh UUID. Metrics never delay a response:
each request adds to an in-process tally, and a ``waitUntil`` task folds the tally into KV under
``metrics:<YYYY-MM-DD>:<worker>:<process>`` (the seed's ``{requests, errors, totalDuration,
statusCodes}``, kept a year). One key per process means no two processes ever read-modify-write
the same key, and one flush at a time per process means no update is lost; ``daily_metrics``
sums the keys of a day. The seed's per-request ``request:*`` records are not written: a KV write
per request would double the cost of every request, and the host's access log has them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import time
import uuid
import weakref
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import MutableHeaders

from bindings.types import ASGIApp, Message, Receive, Scope, Send
from workers import wait_until

log = logging.getLogger("hearth.api")

METRICS_BINDING = "CACHE"
METRICS_TTL = 365 * 86400  # the seed keeps a day's metrics for a year
PROCESS = f"{os.getpid()}-{secrets.token_hex(3)}"  # this process's own metrics keys


def metrics_key(day: str, worker: str, process: str = PROCESS) -> str:
    return f"metrics:{day}:{worker}:{process}"


def _empty() -> dict[str, Any]:
    return {"requests": 0, "errors": 0, "totalDuration": 0.0, "statusCodes": {}}


def _merge(into: dict[str, Any], add: dict[str, Any]) -> dict[str, Any]:
    into["requests"] += add["requests"]
    into["errors"] += add["errors"]
    into["totalDuration"] = round(into["totalDuration"] + add["totalDuration"], 3)
    codes = into["statusCodes"]
    for status, count in add["statusCodes"].items():
        codes[status] = codes.get(status, 0) + count
    return into


class _Tally:
    """One env's metrics not yet in KV, and the flush that moves them there."""

    def __init__(self) -> None:
        self.days: dict[str, dict[str, Any]] = {}
        self.scheduled = False
        self.lock = asyncio.Lock()

    def add(self, status: int, ms: float, error: bool) -> bool:
        """Count one request; True when a flush must be scheduled."""
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        tally = self.days.get(day) or self.days.setdefault(day, _empty())
        _merge(tally, {"requests": 1, "errors": int(error), "totalDuration": ms,
                       "statusCodes": {str(status): 1}})  # fmt: skip
        if self.scheduled:
            return False
        self.scheduled = True
        return True

    async def flush(self, kv: Any, worker: str) -> None:
        async with self.lock:
            days, self.days, self.scheduled = self.days, {}, False
            for day, tally in days.items():
                key = metrics_key(day, worker)
                current = await kv.get(key, "json") or _empty()
                await kv.put(key, json.dumps(_merge(dict(current), tally)),
                             expirationTtl=METRICS_TTL)  # fmt: skip


class PerformanceMonitor:
    """ASGI middleware: request id and timing headers, metrics rolled up through waitUntil."""

    def __init__(self, app: ASGIApp, *, worker: str, binding: str = METRICS_BINDING) -> None:
        self.app = app
        self.worker = worker
        self.binding = binding
        self._tallies: weakref.WeakKeyDictionary[Any, _Tally] = weakref.WeakKeyDictionary()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = scope.get("hearth.request_id") or str(uuid.uuid4())
        status = 0

        def headers(message: Message) -> None:
            out = MutableHeaders(scope=message)
            out["x-request-id"] = request_id
            out["x-response-time"] = f"{(time.perf_counter() - start) * 1000:.1f}ms"

        async def timed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers(message)
            await send(message)

        error = False
        try:
            await self.app(scope, receive, timed)
        except Exception:
            # The seed's logError: count it, and answer the JSON 500 with the same headers.
            error = True
            log.exception("unhandled error: %s %s", scope.get("method"), scope["path"])
            if status == 0:
                status = 500
                body = b'{"error":"Internal Server Error"}'
                json_type = [(b"content-type", b"application/json")]
                start_message: Message = {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": json_type,
                }
                headers(start_message)
                await send(start_message)
                await send({"type": "http.response.body", "body": body})
        finally:
            self._record(scope, status, (time.perf_counter() - start) * 1000, error)

    def _record(self, scope: Scope, status: int, ms: float, error: bool) -> None:
        env = scope.get("env")
        kv = getattr(env, self.binding, None)
        if kv is None:
            return
        tally = self._tallies.get(env)
        if tally is None:
            tally = self._tallies[env] = _Tally()
        if tally.add(status, ms, error or status >= 500):
            wait_until(tally.flush(kv, self.worker))


async def daily_metrics(kv: Any, day: str, worker: str | None = None) -> dict[str, Any]:
    """A day's metrics summed over every process (and every worker unless ``worker``)."""
    prefix = f"metrics:{day}:" + (f"{worker}:" if worker else "")
    total = _empty()
    cursor = None
    while True:
        page = await kv.list(prefix=prefix, cursor=cursor)
        for key in page["keys"]:
            value = await kv.get(key["name"], "json")
            if value is not None:
                _merge(total, value)
        if page["list_complete"]:
            return total
        cursor = page["cursor"]
