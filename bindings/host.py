"""The host: one ASGI app serving every worker of a config on one origin.

Per request it does only what it must: pick the worker by route, put the worker's env into
``scope["env"]`` (Cloudflare's ASGI convention, for HTTP and WebSocket scopes alike), note the
current worker for ``workers.env`` / ``wait_until``, and turn an unhandled exception into a
JSON 500 whose traceback goes only to the log.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import secrets
from collections.abc import Awaitable
from time import perf_counter
from typing import Any

from bindings.config import Config
from bindings.env import current_worker
from bindings.metrics import merge, render
from bindings.routing import Router
from bindings.runtime import InternalRoute, Runtime, Worker
from bindings.types import FRAME_SEND, Message, Receive, Scope, Send

log = logging.getLogger("hearth")

# Request ids: a random per-process prefix and a counter (unique without a syscall per request).
_ID_PREFIX = secrets.token_hex(4)
_ids = itertools.count(1)


class Host:
    """ASGI entry point; under uvicorn its lifespan starts and stops the runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.router: Router[tuple[Worker, str]] = Router([])
        self._sockets: set[_TrackedSocket] = set()
        runtime.add_route("/__hearth/health", self._health)
        runtime.add_route("/__hearth/metrics", self._metrics, admin=True)
        runtime.add_route("/__hearth/metrics.json", self._metrics_json, admin=True)

    @property
    def config(self) -> Config:
        return self.runtime.config

    async def start(self) -> None:
        await self.runtime.start()
        workers = list(self.runtime.workers.values())
        if len(workers) == 1 and not workers[0].config.routes:
            # One worker without routes answers everything, as in wrangler dev.
            routes = [("/*", (workers[0], "/*"))]
        else:
            routes = [(p, (w, p)) for w in workers for p in w.config.routes]
        self.router = Router(routes)

    async def stop(self) -> None:
        await self.runtime.stop()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        path: str = scope["path"]
        if path.startswith(("/__", "/cdn-cgi/")):
            internal = self.runtime.internal_routes.get(path)
            if internal is not None and self._allowed(internal, scope):
                if kind != "websocket":
                    await internal.app(scope, receive, send)
                    return
                tracked = _TrackedSocket(send)  # relayed Durable Object sockets close at shutdown
                self._sockets.add(tracked)
                try:
                    await internal.app(scope, receive, tracked)
                finally:
                    self._sockets.discard(tracked)
                return
        host = None if self.router._any_host else _header(scope, b"host")
        match = self.router.match(host, path)
        if match is None:
            await _error(scope, send, 404, "Not Found")
        elif kind == "websocket":
            tracked = _TrackedSocket(send)  # open sockets are closed with 1001 at shutdown
            scope[FRAME_SEND] = send
            self._sockets.add(tracked)
            try:
                await self._observed(match[0], match[1], scope, receive, tracked)
            finally:
                self._sockets.discard(tracked)
        elif self.runtime.metrics is None and self.runtime.access_log is None:
            await self._run(match[0], scope, receive, send)
        else:
            await self._observed(match[0], match[1], scope, receive, send)

    async def _run(self, worker: Worker, scope: Scope, receive: Receive, send: Send) -> None:
        scope["env"] = worker.env
        if worker.state:
            scope["state"] = dict(worker.state)
        token = current_worker.set(worker)
        try:
            await worker.app(scope, receive, send)
        except Exception:
            log.exception(
                "unhandled error in worker %r: %s %s",
                worker.name,
                scope.get("method"),
                scope["path"],
            )
            await _error(scope, send, 500, "Internal Server Error")
        finally:
            current_worker.reset(token)

    async def _observed(
        self, worker: Worker, route: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """``_run`` with a request id, metrics and an access-log line."""
        status = 0

        def watch(message: Message) -> Awaitable[None]:
            # A plain function returning send's awaitable: no extra coroutine per message.
            nonlocal status
            kind = message["type"]
            if kind == "http.response.start" or kind == "websocket.http.response.start":
                status = message["status"]
            elif kind == "websocket.accept":
                status = 101
            return send(message)

        access_log = self.runtime.access_log
        if access_log is not None:
            request_id = _header(scope, b"x-request-id") or f"{_ID_PREFIX}{next(_ids):x}"
            scope["hearth.request_id"] = request_id
        start = perf_counter()
        try:
            await self._run(worker, scope, receive, watch)
        finally:
            seconds = perf_counter() - start
            if self.runtime.metrics is not None:
                self.runtime.metrics.request(worker.name, route, status, seconds)
            if access_log is not None:
                client = scope.get("client")
                access_log.record(
                    request_id,
                    worker.name,
                    route,
                    scope.get("method", "WS"),
                    scope["path"],
                    status,
                    seconds,
                    client[0] if client else None,
                )

    async def close_websockets(self, code: int = 1001) -> None:
        """Close every open client WebSocket (graceful shutdown says 1001, going away)."""
        for tracked in list(self._sockets):
            if tracked.open:
                try:
                    await tracked(
                        {"type": "websocket.close", "code": code, "reason": "shutting down"}
                    )
                except Exception:  # noqa: S112 - the client is already gone
                    continue

    def _allowed(self, route: InternalRoute, scope: Scope) -> bool:
        mode = self.runtime.mode
        if route.dev_only and mode == "serve":
            return False
        if route.admin and mode == "serve":
            server = scope.get("server") or (None, None)
            return self.runtime.admin_port is not None and server[1] == self.runtime.admin_port
        return True

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.start()
                except Exception as exc:
                    log.exception("Hearth failed to start")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    await self.stop()
                finally:
                    await send({"type": "lifespan.shutdown.complete"})
                return

    async def _health(self, scope: Scope, receive: Receive, send: Send) -> None:
        workers = []
        for worker in self.runtime.workers.values():
            bindings: dict[str, str] = {name: "var" for name in worker.config.vars}
            bindings.update({name: "secret" for name in worker.config.secrets})
            for plugin, decl in worker.config.bindings:
                bindings[decl.name] = plugin.kind
            workers.append(
                {"name": worker.name, "routes": worker.config.routes, "bindings": bindings}
            )
        body = {"status": "ok", "pid": os.getpid(), "workers": workers}
        await _json(send, 200, body)

    async def _metrics(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Prometheus text for this host: every server process's metrics, summed."""
        if self.runtime.metrics is None:
            await _error(scope, send, 404, "metrics are off ([hearth] metrics = false)")
            return
        text = render(merge(await self.runtime.metric_snapshots())).encode()
        headers = [(b"content-type", b"text/plain; version=0.0.4; charset=utf-8")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": text})

    async def _metrics_json(self, scope: Scope, receive: Receive, send: Send) -> None:
        """This process's metrics alone, as JSON (what peers gather from each other)."""
        if self.runtime.metrics is None:
            await _error(scope, send, 404, "metrics are off ([hearth] metrics = false)")
            return
        await _json(send, 200, self.runtime.metrics.snapshot())


class _TrackedSocket:
    """A WebSocket's ASGI send, remembering whether the socket is open (for shutdown)."""

    __slots__ = ("closed", "open", "send")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.open = False
        self.closed = False

    async def __call__(self, message: Message) -> None:
        kind = message["type"]
        if kind == "websocket.close":
            # A close before accept refuses the upgrade (HTTP 403) and must go out; only a
            # second close (e.g. after shutdown closed the socket) is dropped.
            if self.closed:
                return
            self.closed = True
            self.open = False
        await self.send(message)
        if kind == "websocket.accept":
            self.open = True


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")  # type: ignore[no-any-return]
    return None


async def _json(send: Send, status: int, data: Any) -> None:
    body = json.dumps(data).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _error(scope: Scope, send: Send, status: int, message: str) -> None:
    """A JSON error, or a WebSocket close (1011 for a server error) on a WebSocket scope."""
    try:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1011 if status >= 500 else 1008})
        else:
            await _json(send, status, {"error": message})
    except Exception:  # noqa: S110 - the response had already started; the log has the error
        pass


def create_app() -> Host:
    """uvicorn factory (``bindings.host:create_app``): settings come from HEARTH_* variables."""
    from bindings import config as config_mod
    from bindings.logs import setup_logging

    setup_logging()
    cfg = config_mod.load(
        os.environ.get("HEARTH_CONFIG", config_mod.DEFAULT_CONFIG), os.environ.get("HEARTH_ENV")
    )
    runtime = Runtime(
        cfg,
        state_dir=os.environ.get("HEARTH_PERSIST_TO") or None,
        mode=os.environ.get("HEARTH_MODE", "dev"),
    )
    return Host(runtime)
