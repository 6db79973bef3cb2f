"""``env.NS`` (a ``DurableObjectNamespace``) and the stubs it hands out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from bindings import gates
from bindings.durable_objects.errors import DurableObjectError
from bindings.durable_objects.ids import DurableObjectId
from bindings.errors import JsRangeError, JsTypeError
from bindings.jsobj import options
from bindings.metrics import timed
from bindings.request import Request
from bindings.response import Response
from bindings.rpc import check_method

if TYPE_CHECKING:
    from bindings.durable_objects.host import ObjectHost


class DurableObjectNamespace:
    """A Durable Object binding: makes ids and stubs for one class."""

    def __init__(self, host: ObjectHost) -> None:
        self._host = host
        self._ids = host.ids

    def idFromName(self, name: str) -> DurableObjectId:
        """The id for ``name``: the same name gives the same id, across restarts."""
        return self._ids.idFromName(name)

    def newUniqueId(self, opts: Any = None, /, **kw: Any) -> DurableObjectId:
        return self._ids.newUniqueId(options((opts,), kw).get("jurisdiction"))

    def idFromString(self, text: str) -> DurableObjectId:
        """Parse ``id.toString()``; an id of another namespace is refused."""
        return self._ids.idFromString(text)

    def get(self, id: DurableObjectId, opts: Any = None, /, **kw: Any) -> DurableObjectStub:
        """A stub for ``id`` (constructing nothing until it is used)."""
        if not isinstance(id, DurableObjectId):
            raise JsTypeError(
                "Failed to execute 'get' on 'DurableObjectNamespace': parameter 1 is not of "
                "type 'DurableObjectId'."
            )
        if not self._ids.owns(id):
            raise JsTypeError("Durable Object ID is not valid for this namespace.")
        _check_get_options(opts, kw)
        return DurableObjectStub(self._host, id)

    def getByName(self, name: str, opts: Any = None, /, **kw: Any) -> DurableObjectStub:
        """``get(idFromName(name))``."""
        _check_get_options(opts, kw)
        return DurableObjectStub(self._host, self._ids.idFromName(name))

    def jurisdiction(self, name: str | None) -> DurableObjectNamespace:
        if name is not None:
            raise DurableObjectError("Jurisdiction restrictions are not implemented in workerd.")
        return self

    def __repr__(self) -> str:
        return f"<DurableObjectNamespace {self._host.worker.name}-{self._host.class_name}>"


def _check_get_options(opts: Any, kw: dict[str, Any]) -> None:
    mode = options((opts,), kw).get("routingMode")
    if mode is not None and mode != "primary-only":
        raise JsRangeError(f"unknown routingMode: {mode}")


class DurableObjectStub:
    """A stub: ``await stub.fetch(...)`` and ``await stub.anyMethod(*args)`` (RPC), plus ``id``
    and ``name``. Stubs are cheap; the object lives as long as it is used, not as the stub."""

    def __init__(self, host: ObjectHost, id: DurableObjectId) -> None:
        self._host = host
        self.id = id
        self.name = id.name

    @timed("durable_object")
    async def fetch(self, input: str | Request, /, **init: Any) -> Response:
        """Send a request to the object's ``fetch`` (a URL with options, or a Request)."""
        request = input if isinstance(input, Request) and not init else Request(input, **init)
        if gates.current() is not None:
            await gates.wait()  # a call out of another Durable Object: its output gate
        return await self._host.fetch(self.id, request)

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        if name.startswith("_"):
            raise AttributeError(name)
        host, id = self._host, self.id
        try:
            check_method(host.cls, name)
        except JsTypeError as exc:
            error = exc

            async def missing(*args: Any) -> Any:
                raise error

            return missing

        async def rpc(*args: Any, **kwargs: Any) -> Any:
            if kwargs:
                raise JsTypeError(
                    f"RPC method {name}() takes positional arguments only (Cloudflare would "
                    f"pass {sorted(kwargs)} as one trailing dict)"
                )
            if gates.current() is not None:
                await gates.wait()  # a call out of another Durable Object: its output gate
            return await host.call(id, name, args)

        rpc.__name__ = name
        timed_rpc = timed("durable_object", "rpc")(rpc)
        self.__dict__[name] = timed_rpc  # the next call skips __getattr__
        return timed_rpc

    def __repr__(self) -> str:
        return f"<DurableObjectStub {self._host.class_name} {self.id}>"
