"""Service bindings: ``env.OTHER.fetch(...)`` and RPC into another worker, in-process."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bindings import gates
from bindings.clone import structured_clone
from bindings.errors import JsTypeError
from bindings.metrics import timed
from bindings.plugin import BindingDecl, BindingPlugin, ParseContext
from bindings.request import Request
from bindings.response import Response
from bindings.rpc import check_method, copy_args, crossed
from bindings.runtime import Runtime, Worker


@dataclass(frozen=True, kw_only=True)
class ServiceDecl(BindingDecl):
    service: str
    entrypoint: str | None = None


class ServiceBinding:
    """``env.OTHER``: ``fetch`` dispatches to the other worker's handler with no socket; any
    other attribute is an RPC method of its Default (or named) entrypoint."""

    def __init__(self, runtime: Runtime, decl: ServiceDecl) -> None:
        self._runtime = runtime
        self._service = decl.service
        self._entrypoint = decl.entrypoint

    @timed("service")
    async def fetch(self, input: str | Request, /, **init: Any) -> Response:
        request = input if isinstance(input, Request) and not init else Request(input, **init)
        await gates.wait()  # from a Durable Object: its writes commit first (the output gate)
        target = self._runtime.worker(self._service)
        if self._entrypoint is None:
            return await target.fetch(request)
        return await target.call("fetch", request, entrypoint=self._entrypoint)  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)

        async def rpc(*args: Any) -> Any:
            target = self._runtime.worker(self._service)
            try:
                cls = target.entrypoint(self._entrypoint)
            except KeyError:
                raise JsTypeError(
                    f"worker {self._service!r} has no {self._entrypoint or 'Default'} entrypoint "
                    "class to call over RPC"
                ) from None
            check_method(cls, name)
            await gates.wait()
            try:
                result = await target.call(name, *copy_args(args), entrypoint=self._entrypoint)
            except Exception as exc:
                raise crossed(exc) from None
            return structured_clone(result)

        rpc.__name__ = name
        return timed("service", "rpc")(rpc)

    def __repr__(self) -> str:
        return (
            f"<ServiceBinding {self._service}{':' + self._entrypoint if self._entrypoint else ''}>"
        )


class ServicesPlugin(BindingPlugin):
    kind = "service"
    sections = ("services",)

    @classmethod
    def parse(cls, table: Mapping[str, Any], ctx: ParseContext) -> list[BindingDecl]:
        decls: list[BindingDecl] = []
        for entry, key in ctx.tables(table.get("services"), "services"):
            decls.append(
                ServiceDecl(
                    name=ctx.string(entry, "binding", key),
                    key=key,
                    service=ctx.string(entry, "service", key),
                    entrypoint=ctx.optional(entry, "entrypoint", key),
                )
            )
        return decls

    def bind(self, decl: BindingDecl, worker: Worker) -> ServiceBinding:
        assert isinstance(decl, ServiceDecl)
        return ServiceBinding(self.runtime, decl)

    def check(self) -> None:
        for worker in self.runtime.workers.values():
            for _, decl in worker.config.bindings:
                if not isinstance(decl, ServiceDecl):
                    continue
                target = self.runtime.workers.get(decl.service)
                if target is None:
                    raise worker.config.error(
                        f"{decl.key}.service", f"no worker named {decl.service!r} in this config"
                    )
                if decl.entrypoint is None:
                    continue  # fetch always works; RPC needs a Default class, checked per call
                try:
                    target.entrypoint(decl.entrypoint)
                except KeyError:
                    raise worker.config.error(
                        f"{decl.key}.entrypoint",
                        f"worker {decl.service!r} has no entrypoint {decl.entrypoint!r}",
                    ) from None
