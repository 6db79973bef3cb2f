"""``DurableObjectsPlugin``: owns ``durable_objects`` and ``migrations``, one ``ObjectHost`` per
bound class, the alarm scheduler, the idle-eviction sweep, the gauges of live objects and
sockets, and (with several server processes) forwarding to each object's owner."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bindings.durable_objects.alarms import AlarmScheduler
from bindings.durable_objects.config import (
    DurableObjectDecl,
    migrations_of,
    parse_bindings,
    read_settings,
)
from bindings.durable_objects.host import ObjectHost
from bindings.durable_objects.namespace import DurableObjectNamespace
from bindings.entrypoints import DurableObject
from bindings.plugin import BindingDecl, BindingPlugin, ParseContext
from bindings.runtime import Runtime, Worker

if TYPE_CHECKING:
    from bindings.durable_objects.endpoints import Endpoints
    from bindings.durable_objects.remote import Remote

log = logging.getLogger("hearth")

STATE_FOLDER = "do"


class DurableObjectsPlugin(BindingPlugin):
    kind = "durable_object_namespace"
    sections = ("durable_objects", "migrations")

    @classmethod
    def parse(cls, table: Mapping[str, Any], ctx: ParseContext) -> list[BindingDecl]:
        return parse_bindings(table, ctx)

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        self.settings = read_settings(runtime.config.hearth, runtime.config.file)
        self.hosts: dict[tuple[str, str], ObjectHost] = {}
        self.scheduler: AlarmScheduler | None = None
        self.remote: Remote | None = None  # several server processes: forwarding to owners
        self.endpoints: Endpoints | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._bound = False

    def _decls(self) -> list[tuple[Worker, DurableObjectDecl]]:
        return [
            (worker, decl)
            for worker in self.runtime.workers.values()
            for _, decl in worker.config.bindings
            if isinstance(decl, DurableObjectDecl)
        ]

    def check(self) -> None:
        """Each bound class exists in its worker's main module and is a DurableObject."""
        for worker, decl in self._decls():
            script = decl.script_name or worker.name
            target = self.runtime.workers.get(script)
            if target is None:
                raise worker.config.error(
                    f"{decl.key}.script_name", f"no worker named {script!r} in this config"
                )
            where = f"worker {script!r} ({target.config.main})"
            if decl.class_name in migrations_of(target.config).deleted:
                raise worker.config.error(
                    f"{decl.key}.class_name",
                    f"class {decl.class_name!r} is deleted by the migrations of {where}",
                )
            exported = target.main.classes.get(decl.class_name)
            if exported is not None and issubclass(exported, DurableObject):
                continue
            value = getattr(target.main.module, decl.class_name, None)
            if value is None:
                problem = f"{where} has no class {decl.class_name!r}"
            elif not (inspect.isclass(value) and issubclass(value, DurableObject)):
                problem = f"{decl.class_name!r} in {where} is not a workers.DurableObject subclass"
            else:
                problem = f"{decl.class_name!r} is not exported by {where} (see its __all__)"
            raise worker.config.error(f"{decl.key}.class_name", problem)

    def host(self, worker: Worker, decl: DurableObjectDecl) -> ObjectHost:
        """The host of the class ``decl`` binds (one per class, shared by every binding)."""
        script = decl.script_name or worker.name
        key = (script, decl.class_name)
        host = self.hosts.get(key)
        if host is None:
            target = self.runtime.worker(script)
            migrations = migrations_of(target.config)
            storage_name = migrations.storage_name(decl.class_name)
            host = self.hosts[key] = ObjectHost(
                self.runtime,
                target,
                target.main.classes[decl.class_name],
                storage_name=storage_name,
                sqlite=decl.class_name in migrations.sqlite,
                directory=self.runtime.state_dir / STATE_FOLDER / f"{script}-{storage_name}",
                synchronous=self.settings.synchronous,
                scheduler=self.scheduler,
                remote=self.remote,
            )
            if self.endpoints is not None:
                self.endpoints.hosts[host.ids.unique_key] = host
        return host

    async def open(self) -> None:
        if not self.runtime.workers:
            return  # a command opening bindings without loading mains: no objects to host
        runtime = self.runtime
        if runtime.process_count > 1:  # imported only then: one process pays nothing for it
            from bindings.durable_objects.endpoints import Endpoints
            from bindings.durable_objects.ownership import Ownership
            from bindings.durable_objects.remote import Remote
            from bindings.peers import peers_of

            ownership = Ownership(runtime.process_index, runtime.process_count)
            peers = peers_of(runtime)
            self.remote = Remote(peers, ownership)
            self.endpoints = Endpoints(ownership)
            self.endpoints.install(runtime, peers)
        self.scheduler = AlarmScheduler(runtime.clock)
        hosts = [self.host(worker, decl) for worker, decl in self._decls()]
        self.scheduler.start(list(dict.fromkeys(hosts)))
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep())
        if runtime.metrics is not None:
            runtime.metrics.gauge("hearth_durable_objects_live", "Durable Objects in memory.",
                                  ("class",), self._live_objects)  # fmt: skip
            runtime.metrics.gauge("hearth_durable_object_websockets",
                                  "WebSockets accepted by Durable Objects (hibernatable or not).",
                                  ("class",), self._websockets)  # fmt: skip
            if self.remote is not None:
                runtime.metrics.gauge("hearth_durable_object_relays",
                                      "WebSockets relayed to a Durable Object in another process.",
                                      ("class",), self._relays)  # fmt: skip

    def bind(self, decl: BindingDecl, worker: Worker) -> DurableObjectNamespace:
        assert isinstance(decl, DurableObjectDecl)
        if not self._bound and self.scheduler is not None:
            # The runtime binds every worker in one synchronous pass: by the time this runs,
            # every env is complete and alarm handlers may use their bindings.
            self._bound = True
            asyncio.get_running_loop().call_soon(self.scheduler.ready)
        return DurableObjectNamespace(self.host(worker, decl))

    async def _sweep(self) -> None:
        idle = self.settings.idle_timeout
        while True:
            await asyncio.sleep(min(1.0, idle / 4))
            for host in list(self.hosts.values()):
                await host.evict_idle(idle)

    def _live_objects(self) -> dict[tuple[str, ...], float]:
        return {(h.ids.unique_key,): len(h.objects) for h in self.hosts.values()}

    def _websockets(self) -> dict[tuple[str, ...], float]:
        counts: dict[tuple[str, ...], float] = {}
        for host in self.hosts.values():
            hibernatable = sum(len(group.sockets) for group in host.groups.values())
            accepted = sum(len(obj.sockets) for obj in host.objects.values())
            counts[(host.ids.unique_key,)] = hibernatable + accepted
        return counts

    def _relays(self) -> dict[tuple[str, ...], float]:
        counts: dict[tuple[str, ...], float] = {}
        if self.remote is not None:
            for class_key in self.remote.relays.values():
                counts[(class_key,)] = counts.get((class_key,), 0) + 1
        return counts

    async def close(self) -> None:
        if self.endpoints is not None:
            self.endpoints.stopping = True  # forwarded calls now get "stopping": callers retry
        if self.remote is not None:
            await self.remote.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
            self._sweeper = None
        if self.scheduler is not None:
            await self.scheduler.stop()
        for host in self.hosts.values():
            host.close()
