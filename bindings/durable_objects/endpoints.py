"""The owner's side of forwarded Durable Object calls: internal routes on the admin listener.

Each route takes a call that another server process forwarded (``remote``; wire format in
``wire``), checks that this process really owns the object (and that the caller counts the
same processes), and runs it as an ordinary event of the live object here: the input and
output gates, hibernation and alarms all work as for a call made in this process. The routes
exist only with several processes, answer only on the admin listener (``admin=True``) and only
requests carrying the internal token (``bindings.peers``); nginx never forwards to them.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from bindings import websocket
from bindings.clone import deserialize, serialize
from bindings.durable_objects import wire
from bindings.durable_objects.errors import DurableObjectError
from bindings.durable_objects.ids import DurableObjectId
from bindings.headers import Headers
from bindings.request import Request
from bindings.response import Response
from bindings.types import Receive, Scope, Send

if TYPE_CHECKING:
    from bindings.durable_objects.host import ObjectHost
    from bindings.durable_objects.ownership import Ownership
    from bindings.peers import Peers

MISDIRECTED = 421  # a caller that counts processes differently, or names an object not ours


class Endpoints:
    """``/__hearth/do/rpc``, ``/fetch`` and ``/websocket`` for every class of this runtime."""

    def __init__(self, ownership: Ownership) -> None:
        self.ownership = ownership
        self.hosts: dict[str, ObjectHost] = {}  # namespace key ("<worker>-<Class>") -> host
        self.stopping = False  # set at close: callers retry until the owner is back

    def install(self, runtime: Any, peers: Peers) -> None:
        for path, app in (
            (wire.RPC_PATH, self.rpc),
            (wire.FETCH_PATH, self.fetch),
            (wire.WEBSOCKET_PATH, self.websocket),
        ):
            runtime.add_route(path, peers.guard(app), admin=True)

    def _target(self, scope: Scope) -> tuple[ObjectHost, DurableObjectId]:
        """The host and id a call names; raises (with the reply's status) when it is not ours."""
        if self.stopping:
            raise _Refusal(wire.STOPPING, "the owning server process is stopping")
        named = wire.decode(wire.scope_headers(scope), wire.OBJECT_HEADER)
        if named is None:
            raise _Refusal(400, "the call names no Durable Object")
        count, key, hex_id, name = named
        mine = self.ownership
        if count != mine.count:
            raise _Refusal(
                MISDIRECTED,
                f"server processes disagree on their number: the caller counts {count}, "
                f"process {mine.index} counts {mine.count}; start every process with the same "
                "--workers",
            )
        host = self.hosts.get(key)
        if host is None:
            raise _Refusal(404, f"no Durable Object class {key!r} in server process {mine.index}")
        if not mine.owns(hex_id):
            raise _Refusal(
                MISDIRECTED,
                f"Durable Object {hex_id} belongs to server process {mine.owner(hex_id)}, "
                f"not {mine.index}",
            )
        return host, DurableObjectId(hex_id, host.ids.key, name)

    async def rpc(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def call() -> Response:
            host, id = self._target(scope)
            method, args = deserialize(await wire.read_body(receive))
            return Response(serialize(await host.call(id, method, tuple(args))))

        await _answer(call(), scope, receive, send)

    async def fetch(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def call() -> Response:
            host, id = self._target(scope)
            response = await host.fetch(id, _request(scope, await wire.read_body(receive)))
            if response.web_socket is not None:
                raise TypeError(
                    "a Response with web_socket= cannot leave the server process owning the "
                    "Durable Object except as the answer to a WebSocket upgrade request"
                )
            _describe(response)
            return response

        await _answer(call(), scope, receive, send)

    async def websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """An upgrade forwarded by a relay: the object's 101 is bridged, anything else refused."""
        try:
            host, id = self._target(scope)
            response = await host.fetch(id, _request(scope, b""))
        except _Refusal as refusal:
            await _refuse(receive, send, refusal.error, refusal.status)
            return
        except Exception as exc:
            await _refuse(receive, send, exc, 500)
            return
        if response.status != 101 or response.web_socket is None:
            _describe(response)
        await websocket.serve(response, scope, receive, send)


class _Refusal(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = DurableObjectError(message)


async def _answer(call: Awaitable[Response], scope: Scope, receive: Receive, send: Send) -> None:
    """Send the response ``call`` makes, or the exception it raises (with its status)."""
    try:
        response = await call
    except _Refusal as refusal:
        await wire.send_exception(send, refusal.error, refusal.status)
    except Exception as exc:
        await wire.send_exception(send, exc)
    else:
        await response(scope, receive, send)


def _request(scope: Scope, body: bytes) -> Request:
    """The caller's request, rebuilt from ``x-hearth-request`` and the body."""
    sent = wire.decode(wire.scope_headers(scope), wire.REQUEST_HEADER)
    if sent is None:
        raise _Refusal(400, "the call carries no request")
    method, url, headers = sent
    return Request(url, method=method, headers=Headers(headers), body=body or None)


def _describe(response: Response) -> None:
    """Move the object's status text and headers into ``x-hearth-response`` (the caller
    restores them exactly); the status and body travel as they are."""
    head = [response.status, response.status_text, response.headers._items]
    response.headers = Headers(wire.encode(wire.RESPONSE_HEADER, head))


async def _refuse(receive: Receive, send: Send, exc: BaseException, status: int) -> None:
    message = await receive()
    if message["type"] == "websocket.connect":
        await wire.send_exception(send, exc, status, websocket=True)
