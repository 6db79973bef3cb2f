"""The runtime: every worker of a config loaded, its bindings opened, its env built.

One ``Runtime`` per process (tests may hold several). ``start()`` imports the mains, opens each
binding plugin once, builds each worker's ``Env`` and runs Starlette lifespans once;
``stop()`` drains ``waitUntil`` work and closes everything in reverse order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

from bindings.clock import Clock, system_clock
from bindings.config import Config, WorkerConfig
from bindings.dispatch import call_asgi
from bindings.entrypoints import WorkerEntrypoint, relaxed
from bindings.env import Env, ExecutionContext, Tasks, current_worker
from bindings.errors import ConfigError
from bindings.loader import Main, load_main
from bindings.logs import AccessLog
from bindings.metrics import Metrics
from bindings.plugin import BindingPlugin, plugin_classes
from bindings.request import Request
from bindings.response import Response
from bindings.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("hearth")


class InternalRoute(NamedTuple):
    app: ASGIApp
    dev_only: bool
    admin: bool


class Worker:
    """One loaded worker: its env, its fetch handler as an ASGI app, and its entry classes."""

    main: Main
    app: ASGIApp

    def __init__(self, runtime: Runtime, config: WorkerConfig) -> None:
        self.runtime = runtime
        self.config = config
        self.name = config.name
        # Filled in place once bindings open, so `from workers import env` at import time works.
        self.env: Env = Env(config.name, {})
        self.state: dict[str, Any] = {}  # lifespan state of an ASGI app
        self._lifespan: _Lifespan | None = None

    def load(self) -> None:
        """Import the main module (with this worker current, for import-time ``workers.env``)."""
        token = current_worker.set(self)
        try:
            self.main = load_main(self.config)
        finally:
            current_worker.reset(token)
        self.app = self._fetch_app()

    def _fetch_app(self) -> ASGIApp:
        main = self.main
        if main.asgi_app is not None:
            _install_json_500(main.asgi_app)
            return main.asgi_app  # type: ignore[no-any-return]
        if main.default is not None:
            return _EntrypointApp(self, main.default)
        return _LegacyApp(self, main.on_fetch)

    def context(self, props: dict[str, Any] | None = None) -> ExecutionContext:
        return ExecutionContext(self.runtime.tasks, props)

    def entrypoint(self, name: str | None = None) -> type[WorkerEntrypoint]:
        """The Default class, or a named entrypoint; KeyError when absent."""
        if name in (None, "default", "Default"):
            cls = self.main.default
        else:
            cls = self.main.entrypoints.get(name)
        if cls is None:
            raise KeyError(name or "Default")
        return cls

    async def call(
        self,
        method: str,
        *args: Any,
        entrypoint: str | None = None,
        ctx: ExecutionContext | None = None,
    ) -> Any:
        """Call ``method`` strictly on a fresh entrypoint instance, as workerd does for
        ``scheduled``, ``queue`` and RPC. Passes ``(*args, env, ctx)`` for scheduled/queue.

        An event that must wait for its own ``waitUntil`` work (a queue batch, a cron run)
        passes a ``ctx`` with a Tasks of its own."""
        ctx = ctx or self.context()
        instance = self.entrypoint(entrypoint)(ctx, self.env)
        func = getattr(instance, method)
        token = current_worker.set(self)
        try:
            if method in ("scheduled", "queue"):
                return await func(*args, self.env, ctx)
            result = func(*args)
            return await result if isinstance(result, Awaitable) else result
        finally:
            current_worker.reset(token)

    async def fetch(self, request: Request) -> Response:
        """Answer ``request`` in-process (service bindings): no socket, same handler."""
        token = current_worker.set(self)
        try:
            if self.main.asgi_app is None and self.main.default is not None:
                return await _call_fetch(self, self.main.default, request)
            return await call_asgi(self.app, request, self.env, self.state)
        finally:
            current_worker.reset(token)

    async def start(self) -> None:
        if self.main.asgi_app is not None:
            self._lifespan = _Lifespan(self.main.asgi_app, self.name)
            self.state = await self._lifespan.startup()

    async def stop(self) -> None:
        if self._lifespan is not None:
            await self._lifespan.shutdown()
            self._lifespan = None


class Runtime:
    """Every worker of one config, with its bindings; use ``async with`` or start/stop."""

    def __init__(
        self,
        config: Config,
        *,
        state_dir: str | Path | None = None,
        clock: Clock = system_clock,
        mode: str = "dev",
    ) -> None:
        self.config = config
        self.state_dir = Path(state_dir) if state_dir else config.base_dir / ".hearth" / "state"
        self.clock = clock
        self.mode = mode  # "dev", "serve" or "test": plugins may differ (dev-only endpoints)
        self.tasks = Tasks()
        self.workers: dict[str, Worker] = {}
        self.plugins: dict[type[BindingPlugin], BindingPlugin] = {}
        self.internal_routes: dict[str, InternalRoute] = {}
        settings = config.hearth
        self.metrics: Metrics | None = Metrics() if settings.get("metrics", True) else None
        # Off unless asked for: behind nginx every request is in its access log already (with the
        # X-Request-ID it forwards), and the line costs a few microseconds per request.
        self.access_log: AccessLog | None = AccessLog() if settings.get("access_log") else None
        self.admin_port: int | None = None  # the admin listener's port, when the server opens one
        self.peers: list[str] = []  # admin base URLs of this host's other server processes
        self.process_index, self.process_count = 0, 1  # which of the host's server processes
        self.internal_token: str | None = None  # the secret process-to-process calls carry
        # Set once every env is bound and lifespans ran; cleared when stopping begins.
        # Background work started in a plugin's open() (queue consumers, cron) waits for it.
        self.ready = asyncio.Event()
        self._closers: list[Callable[[], Awaitable[None]]] = []
        self._started = False
        self._opened = False  # plugins opened, by start() or by a command via open_plugins()

    def plugin(self, cls: type[BindingPlugin]) -> BindingPlugin:
        """The runtime's instance of a plugin class (created on first use)."""
        instance = self.plugins.get(cls)
        if instance is None:
            instance = self.plugins[cls] = cls(self)
        return instance

    def worker(self, name: str) -> Worker:
        try:
            return self.workers[name]
        except KeyError:
            raise KeyError(f"no worker named {name!r}") from None

    def add_route(
        self, path: str, app: ASGIApp, *, dev_only: bool = False, admin: bool = False
    ) -> None:
        """Serve ``app`` at an exact internal path (``/__hearth/...``), before worker routes.

        ``dev_only`` routes do not exist under ``serve``; ``admin`` routes answer under ``serve``
        only on the admin listener, never on the public one.
        """
        self.internal_routes[path] = InternalRoute(app, dev_only, admin)

    async def metric_snapshots(self) -> list[dict[str, Any]]:
        """This process's metrics snapshot and each peer process's (peers that fail are skipped)."""
        assert self.metrics is not None
        snapshots = [self.metrics.snapshot()]
        if self.peers:
            import httpx

            async with httpx.AsyncClient(timeout=2.0) as client:
                replies = await asyncio.gather(
                    *(client.get(f"{peer}/__hearth/metrics.json") for peer in self.peers),
                    return_exceptions=True,
                )
            for peer, reply in zip(self.peers, replies, strict=True):
                if isinstance(reply, BaseException) or reply.status_code != 200:
                    log.warning("metrics of peer %s unavailable: %r", peer, reply)
                else:
                    snapshots.append(reply.json())
        return snapshots

    def on_close(self, closer: Callable[[], Awaitable[None]]) -> None:
        """Run ``closer`` at stop (after plugins close), e.g. a shared HTTP client's aclose."""
        self._closers.append(closer)

    def load(self) -> None:
        """Import every main and check the config across workers; no I/O beyond imports."""
        if self.workers:
            return
        for wc in self.config.workers:
            self.workers[wc.name] = Worker(self, wc)
        for worker in self.workers.values():
            worker.load()
        for cls in plugin_classes():
            if any(s in wc.table for wc in self.config.workers for s in cls.sections):
                self.plugin(cls)
        for plugin in list(self.plugins.values()):
            plugin.check()

    async def open_plugins(self) -> None:
        """Open every plugin the config uses (commands use this without loading mains);
        ``stop()`` closes them again."""
        self._opened = True
        for cls in plugin_classes():
            if any(s in wc.table for wc in self.config.workers for s in cls.sections):
                await self.plugin(cls).open()

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.load()
        await self.open_plugins()
        for worker in self.workers.values():
            values: dict[str, Any] = {**worker.config.vars, **worker.config.secrets}
            for plugin_cls, decl in worker.config.bindings:
                values[decl.name] = self.plugin(plugin_cls).bind(decl, worker)
            worker.env.__dict__.update(values)
        for worker in self.workers.values():
            await worker.start()
        self.ready.set()

    async def stop(self) -> None:
        if not (self._started or self._opened):
            return
        self._started = self._opened = False
        self.ready.clear()
        await self.tasks.drain()
        for worker in reversed(list(self.workers.values())):
            try:
                await worker.stop()
            except Exception:
                log.exception("lifespan shutdown of worker %r failed", worker.name)
        for plugin in reversed(list(self.plugins.values())):
            try:
                await plugin.close()
            except Exception:
                log.exception("closing the %s binding failed", plugin.kind)
        for closer in reversed(self._closers):
            await closer()
        self._closers.clear()
        if self.access_log is not None:
            self.access_log.close()

    async def __aenter__(self) -> Runtime:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def _call_fetch(worker: Worker, cls: type[WorkerEntrypoint], request: Request) -> Response:
    ctx = worker.context()
    instance = cls(ctx, worker.env)
    response = await relaxed_method(instance, "fetch")(request, worker.env, ctx)
    if not isinstance(response, Response):
        raise TypeError(
            f"fetch() of worker {worker.name!r} must return a Response, not {response!r}"
        )
    return response


def relaxed_method(instance: object, name: str) -> Callable[..., Any]:
    """``instance.name`` called relaxed; the arity is worked out once per class."""
    cls = type(instance)
    cache: dict[str, Callable[..., Any]] | None = cls.__dict__.get("__hearth_relaxed__")
    if cache is None:
        cache = {}
        type.__setattr__(cls, "__hearth_relaxed__", cache)
    unbound = cache.get(name)
    if unbound is None:
        unbound = cache[name] = relaxed(getattr(cls, name))
    return partial(unbound, instance)


class _EntrypointApp:
    """ASGI adapter for a ``Default(WorkerEntrypoint)`` whose ``fetch`` answers requests."""

    def __init__(self, worker: Worker, cls: type[WorkerEntrypoint]) -> None:
        self.worker = worker
        self.cls = cls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request._from_asgi(scope, receive)
        response = await _call_fetch(self.worker, self.cls, request)
        await send_response(response, scope, receive, send)


class _LegacyApp:
    """ASGI adapter for a legacy module-level ``on_fetch(request, env, ctx)``."""

    def __init__(self, worker: Worker, on_fetch: Callable[..., Any]) -> None:
        self.worker = worker
        self.on_fetch = relaxed(on_fetch)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request._from_asgi(scope, receive)
        ctx = self.worker.context()
        response = await self.on_fetch(request, self.worker.env, ctx)
        if not isinstance(response, Response):
            response = getattr(response, "js_response", response)
        if not isinstance(response, Response):
            raise TypeError(f"on_fetch must return a Response, not {response!r}")
        await send_response(response, scope, receive, send)


async def send_response(response: Response, scope: Scope, receive: Receive, send: Send) -> None:
    """Send a handler's Response; on a WebSocket scope, bridge or refuse the upgrade."""
    if scope["type"] == "websocket":
        from bindings import websocket

        await websocket.serve(response, scope, receive, send)
        return
    if response.web_socket is not None:
        raise TypeError("a Response with web_socket= answers only a WebSocket upgrade request")
    await response(scope, receive, send)


def _install_json_500(app: Any) -> None:
    """Give a Starlette app a JSON 500 handler unless it set its own (tracebacks go to the log)."""
    handlers = getattr(app, "exception_handlers", None)
    if not isinstance(handlers, dict) or Exception in handlers or 500 in handlers:
        return
    from starlette.responses import JSONResponse

    async def internal_error(request: Any, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": "Internal Server Error"}, status_code=500)

    handlers[Exception] = internal_error


class _Lifespan:
    """Drives an ASGI app's lifespan protocol once: startup now, shutdown at stop."""

    def __init__(self, app: ASGIApp, name: str) -> None:
        self.app = app
        self.name = name
        self.state: dict[str, Any] = {}
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._outbox: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._supported = True

    async def startup(self) -> dict[str, Any]:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}
        scope["state"] = self.state
        self._task = asyncio.ensure_future(self._run(scope))
        await self._inbox.put({"type": "lifespan.startup"})
        reply = await self._outbox.get()
        if reply["type"] == "lifespan.startup.failed":
            raise ConfigError("", self.name, f"lifespan startup failed: {reply.get('message', '')}")
        return self.state

    async def _run(self, scope: Scope) -> None:
        try:
            await self.app(scope, self._inbox.get, self._outbox.put)
        except Exception as exc:
            if self._outbox.empty():
                self._supported = False  # the app does not speak lifespan: that is allowed
                log.debug("worker %r has no lifespan: %r", self.name, exc)
                await self._outbox.put({"type": "lifespan.startup.complete"})
        finally:
            await self._outbox.put({"type": "lifespan.shutdown.complete"})

    async def shutdown(self) -> None:
        if self._task is None:
            return
        if self._supported and not self._task.done():
            await self._inbox.put({"type": "lifespan.shutdown"})
            await self._outbox.get()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None
