"""Reaching a Durable Object owned by another server process of this host.

Under ``serve --workers N`` (N > 1) every object has exactly one owner (``ownership``). In the
other processes ``ObjectHost.call`` and ``ObjectHost.fetch`` hand the event to ``Remote``,
which sends it to the owner's admin listener (the wire format is in ``wire``; ``endpoints``
answers there). What the caller sees is what an in-process call gives: structured-clone copies
of arguments and results, exceptions crossing with their type name and message, the calling
object's output gate honoured (the stub waits at it before anything leaves), the object's
response with its status, headers and streamed body. A WebSocket upgrade is relayed: this
process accepts the client's socket (the client end of a pair it returns in a 101) and pipes
frames both ways to a WebSocket it opens to the owner, where the object accepts it as usual
(hibernation included); close codes and reasons cross both ways.

Request bodies are buffered (so a call can be sent again while the owner restarts); response
bodies stream. An owner that refuses connections or answers "stopping" (a rolling restart) is
retried for ``OWNER_WAIT`` seconds; a call that may have reached the owner is never resent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import TYPE_CHECKING, Any

from bindings.body import ReadableStream
from bindings.clone import deserialize, serialize
from bindings.durable_objects import wire
from bindings.durable_objects.errors import DurableObjectError
from bindings.durable_objects.ownership import Ownership
from bindings.headers import Headers
from bindings.request import Request
from bindings.response import Response
from bindings.rpc import revived
from bindings.websocket import WebSocket, WebSocketPair

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import aiohttp
    from websockets.asyncio.client import ClientConnection

    from bindings.durable_objects.host import ObjectHost
    from bindings.durable_objects.ids import DurableObjectId
    from bindings.peers import Peers
    from bindings.websocket import CloseEvent, MessageEvent

OWNER_WAIT = 10.0  # seconds to keep retrying an owner that is restarting
RETRY_FIRST, RETRY_MAX = 0.05, 0.5  # seconds between retries, doubling
INLINE_BODY = 65_536  # a response body up to this size (with a known length) is read at once
WS_MAX_MESSAGE = 16 * 1024 * 1024  # the server's own WebSocket message limit
OWNER_GONE = 1001  # close code for a client whose owner connection broke without a close frame


class Remote:
    """This process's forwarding to owners: ownership, and calls over the peers' one pool."""

    def __init__(self, peers: Peers, ownership: Ownership) -> None:
        self.peers = peers
        self.ownership = ownership
        self.relays: dict[_Relay, str] = {}  # open relayed WebSockets -> their namespace key

    def owns(self, hex_id: str) -> bool:
        return self.ownership.owns(hex_id)

    def _object(self, host: ObjectHost, id: DurableObjectId) -> list[tuple[str, str]]:
        named = [self.ownership.count, host.ids.unique_key, id._hex, id.name]
        return wire.encode(wire.OBJECT_HEADER, named)

    async def call(
        self, host: ObjectHost, id: DurableObjectId, method: str, args: tuple[Any, ...]
    ) -> Any:
        """An RPC call on the owner; arguments are serialised here, so clone errors raise here."""
        body = serialize([method, list(args)])
        reply = await self._post(host, id, wire.RPC_PATH, [], body)
        try:
            data = await reply.read()
        finally:
            reply.release()
        return deserialize(data)

    async def fetch(self, host: ObjectHost, id: DurableObjectId, request: Request) -> Response:
        """The object's response to ``request``, from its owner (an upgrade is relayed)."""
        if (request.headers.get("upgrade") or "").lower() == "websocket":
            return await self.websocket(host, id, request)
        sent = [str(request.method), request.url, request.headers._items]
        head = wire.encode(wire.REQUEST_HEADER, sent)
        body = await request.bytes()
        reply = await self._post(host, id, wire.FETCH_PATH, head, body)
        status, text, headers = wire.decode(reply.headers.get, wire.RESPONSE_HEADER)
        length = reply.content_length
        if length is not None and length <= INLINE_BODY:
            try:
                content = await reply.read()
            finally:
                reply.release()
            return Response(content, status, text, Headers(headers))
        return Response(ReadableStream(_raw_body(reply)), status, text, Headers(headers))

    async def _post(
        self,
        host: ObjectHost,
        id: DurableObjectId,
        path: str,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> aiohttp.ClientResponse:
        """POST to the owner; an exception it sends back is raised here."""
        import aiohttp

        session = self.peers.session()
        owner = self.ownership.owner(id._hex)
        url = self.peers.url(owner) + path
        headers = [*self._object(host, id), *headers]
        waiting = _Waiting(host, id, owner)
        while True:
            try:
                reply = await session.post(url, data=body, headers=headers)
            except aiohttp.ClientConnectorError as exc:  # nothing was sent: safe to try again
                await waiting.again(exc)
                continue
            except aiohttp.ClientError as exc:
                raise _lost(id, owner, exc) from None
            if wire.EXCEPTION_HEADER not in reply.headers:
                return reply
            try:
                error = revived(json.loads(await reply.read()))
            finally:
                reply.release()
            if reply.status != wire.STOPPING:
                raise error
            await waiting.again(error)

    async def websocket(self, host: ObjectHost, id: DurableObjectId, request: Request) -> Response:
        """Open a WebSocket to the owner and return the client end of a relay to it."""
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidHandshake, InvalidStatus

        owner = self.ownership.owner(id._hex)
        url = "ws" + self.peers.url(owner).removeprefix("http") + wire.WEBSOCKET_PATH
        offered = request.headers.get("sec-websocket-protocol") or ""
        protocols = [p.strip() for p in offered.split(",") if p.strip()]
        headers = [
            *self.peers.headers.items(),
            *self._object(host, id),
            *wire.encode(wire.REQUEST_HEADER, ["GET", request.url, request.headers._items]),
        ]
        waiting = _Waiting(host, id, owner)
        while True:
            try:
                conn = await connect(
                    url,
                    additional_headers=headers,
                    subprotocols=protocols or None,  # type: ignore[arg-type]
                    compression=None,
                    proxy=None,
                    open_timeout=None,
                    ping_interval=None,
                    max_size=WS_MAX_MESSAGE,
                    user_agent_header=None,
                )
                break
            except InvalidStatus as exc:
                refusal = exc.response
                body = refusal.body or b""
                if wire.EXCEPTION_HEADER not in refusal.headers:
                    status, text, pairs = wire.decode(refusal.headers.get, wire.RESPONSE_HEADER)
                    return Response(body, status, text, Headers(pairs))
                error = revived(json.loads(body))
                if refusal.status_code != wire.STOPPING:
                    raise error from None
                await waiting.again(error)
            except InvalidHandshake as exc:
                raise _lost(id, owner, exc) from None
            except ConnectionRefusedError as exc:  # the owner is not listening (yet)
                await waiting.again(exc)
        client, server = WebSocketPair()
        self.relays[_Relay(self, conn, server)] = host.ids.unique_key
        chosen = {"sec-websocket-protocol": conn.subprotocol} if conn.subprotocol else None
        return Response(None, status=101, web_socket=client, headers=chosen)

    async def close(self) -> None:
        """Drop every relay still open (the process is stopping)."""
        for relay in list(self.relays):
            relay.abort()
        await asyncio.gather(*(r.task for r in list(self.relays)), return_exceptions=True)


def _lost(id: DurableObjectId, owner: int, exc: BaseException) -> DurableObjectError:
    """The error for a call that may or may not have reached the owner (never resent)."""
    return DurableObjectError(
        f"Network connection lost: the call to Durable Object {id} at server process {owner} "
        f"failed ({type(exc).__name__}: {exc})"
    )


class _Waiting:
    """Retries for one call while its owner cannot take it (restarting, stopping)."""

    def __init__(self, host: ObjectHost, id: DurableObjectId, owner: int) -> None:
        self.what = f"{host.class_name} {id}"
        self.owner = owner
        self.deadline: float | None = None
        self.delay = RETRY_FIRST

    async def again(self, problem: BaseException) -> None:
        now = time.monotonic()
        if self.deadline is None:
            self.deadline = now + OWNER_WAIT
        if now >= self.deadline:
            raise DurableObjectError(
                f"Durable Object {self.what} is owned by server process {self.owner}, which did "
                f"not take the call for {OWNER_WAIT:g} s ({problem})"
            ) from None
        await asyncio.sleep(self.delay)
        self.delay = min(self.delay * 2, RETRY_MAX)


async def _raw_body(reply: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """The reply's body as sent (still encoded), releasing the connection at the end."""
    try:
        async for chunk in reply.content.iter_any():
            yield chunk
    finally:
        reply.release()


class _Relay:
    """Frames between the server end of a pair (the local client's socket) and the owner."""

    def __init__(self, remote: Remote, conn: ClientConnection, server: WebSocket) -> None:
        self.remote = remote
        self.conn = conn
        self.server = server
        server.accept()
        server.addEventListener("message", self._to_owner)
        server.addEventListener("close", self._client_closed)
        self.task = asyncio.get_running_loop().create_task(self._from_owner())

    async def _to_owner(self, event: MessageEvent) -> None:
        from websockets.exceptions import ConnectionClosed

        with contextlib.suppress(ConnectionClosed):  # closed: _from_owner passes the close on
            await self.conn.send(event.data)

    async def _client_closed(self, event: CloseEvent) -> None:
        if event.code == 1006:  # the client vanished: so does the owner's socket (1006 there)
            self.abort()
        elif event.code == 1005:  # a close frame without a code: the same goes on
            await self.conn.close(None, "")  # type: ignore[arg-type]
        else:
            await self.conn.close(event.code, event.reason)

    async def _from_owner(self) -> None:
        from websockets.exceptions import ConnectionClosed

        server = self.server
        try:
            async for message in self.conn:
                server.send(message)
        except ConnectionClosed:
            pass
        finally:
            self.remote.relays.pop(self, None)
        code, reason = self.conn.close_code, self.conn.close_reason or ""
        if server.readyState == WebSocket.CLOSED:
            return
        if code == 1005:
            server.close()
        elif code is None or code in (1004, 1006, 1015):
            server.close(OWNER_GONE, "Durable Object connection lost")
        else:
            server.close(code, reason)

    def abort(self) -> None:
        transport = self.conn.transport
        if transport is not None:
            transport.abort()
