"""The host: one ASGI app serving every worker of a config on one origin.

Per request it does only what it must: pick the worker by route, put the worker's env into
``scope["env"]`` (Cloudflare's ASGI convention, for HTTP and WebSocket scopes alike), note the
current worker for ``workers.env`` / ``wait_until``, and turn an unhandled exception into a
JSON 500 whose traceback goes only to the log.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from bindings.config import Config
from bindings.env import current_worker
from bindings.routing import Router
from bindings.runtime import Runtime, Worker
from bindings.types import Receive, Scope, Send

log = logging.getLogger("hearth")


class Host:
    """ASGI entry point; under uvicorn its lifespan starts and stops the runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.router: Router[Worker] = Router([])
        runtime.add_route("/__hearth/health", self._health)

    @property
    def config(self) -> Config:
        return self.runtime.config

    async def start(self) -> None:
        await self.runtime.start()
        workers = list(self.runtime.workers.values())
        if len(workers) == 1 and not workers[0].config.routes:
            routes = [
                ("/*", workers[0])
            ]  # one worker without routes answers everything, as in wrangler dev
        else:
            routes = [(p, w) for w in workers for p in w.config.routes]
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
            if internal is not None and (not internal[1] or self.runtime.mode != "serve"):
                await internal[0](scope, receive, send)
                return
        host = None
        if not self.router._any_host:
            for name, value in scope["headers"]:
                if name == b"host":
                    host = value.decode("latin-1")
                    break
        worker = self.router.match(host, path)
        if worker is None:
            await _error(scope, send, 404, "Not Found")
            return
        scope["env"] = worker.env
        if worker.state:
            scope["state"] = dict(worker.state)
        token = current_worker.set(worker)
        try:
            await worker.app(scope, receive, send)
        except Exception:
            log.exception(
                "unhandled error in worker %r: %s %s", worker.name, scope.get("method"), path
            )
            await _error(scope, send, 500, "Internal Server Error")
        finally:
            current_worker.reset(token)

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
