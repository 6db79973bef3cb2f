"""WebSockets: ``WebSocketPair``, the host bridge to a real client, and the upgrade helpers.

A ``WebSocketPair`` is two linked ends: what one end ``send()``s, the other receives. The
worker keeps the *server* end (``accept()`` it and add listeners, or hand it to a Durable
Object's ``ctx.acceptWebSocket``) and returns the *client* end in ``Response(None, status=101,
web_socket=client)``; the host then bridges that end to the real client socket (``_bridge``).

Delivery rules:

- Messages from one socket are handled one at a time, in order: a listener or hibernation
  handler that is a coroutine is awaited before the next message of that socket is handled.
- ``send()`` is synchronous, as in JS. Towards a real client it writes straight through the
  ASGI ``send`` when the transport is ready (no task, no queue); only when the transport pushes
  back are later messages queued behind it, in order. That keeps a broadcast loop to the cost
  of the sends themselves. Once the upgrade is accepted, message frames go to the server's own
  ``send`` (``FRAME_SEND``, from the host), past the per-message layers of the worker's ASGI
  app, which saw the handshake; the close still goes through the app's ``send``.
- A message sent by a Durable Object (or on a socket it accepted) leaves after the object's
  pending writes commit (``bindings.gates``).

``forward_upgrade`` and ``deny_upgrade`` let a Starlette ``WebSocketRoute`` hand its upgrade to
a Durable Object stub, or refuse it with an HTTP response, before accepting it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from http import HTTPStatus
from typing import Any, Protocol

from bindings import gates
from bindings.clone import deserialize, serialize
from bindings.errors import JsException, JsRangeError, JsTypeError
from bindings.headers import Headers, HeadersInit
from bindings.request import Request
from bindings.response import Response
from bindings.types import FRAME_SEND, Message, Receive, Scope, Send

log = logging.getLogger("hearth")

MAX_ATTACHMENT_BYTES = 16_384
MAX_AUTO_RESPONSE_BYTES = 2_048
MAX_CLOSE_REASON_BYTES = 123
CLOSE_MESSAGE_TOO_BIG = 1009  # for apps closing a socket whose message is over their limit

CONNECTING, OPEN, CLOSING, CLOSED = 0, 1, 2, 3

# What an end is doing: fresh from the pair, accept()ed (listeners), accepted for hibernation
# (a Durable Object's handler), returned in a Response (waiting for the host), or bridged to a
# real client socket.
_NEW, _ACCEPTED, _HIBERNATABLE, _RESPONSE, _BRIDGED = range(5)

Event = tuple[Any, ...]  # ("message", data) | ("close", code, reason, was_clean) | ("error", exc)


class InvalidAccessError(JsException):
    """workerd's DOMInvalidAccessError (a bad close code)."""

    js_name = "InvalidAccessError"


class DOMSyntaxError(JsException):
    """workerd's DOMSyntaxError (a close reason over 123 bytes)."""

    js_name = "SyntaxError"


class SocketHandler(Protocol):
    """Where a hibernatable socket's events go (a Durable Object's hibernation group)."""

    async def on_message(self, ws: WebSocket, data: str | bytes) -> None: ...

    async def on_close(self, ws: WebSocket, code: int, reason: str, was_clean: bool) -> None: ...

    async def on_error(self, ws: WebSocket, error: BaseException) -> None: ...


class MessageEvent:
    __slots__ = ("data",)
    type = "message"

    def __init__(self, data: str | bytes) -> None:
        self.data = data


class CloseEvent:
    __slots__ = ("code", "reason", "wasClean")
    type = "close"

    def __init__(self, code: int, reason: str, was_clean: bool) -> None:
        self.code, self.reason, self.wasClean = code, reason, was_clean


class ErrorEvent:
    __slots__ = ("error", "message")
    type = "error"

    def __init__(self, error: BaseException) -> None:
        self.error, self.message = error, str(error)


class WebSocket:
    """One end of a ``WebSocketPair``, with the JS API (``accept``, ``send``, ``close``,
    ``addEventListener``, ``serializeAttachment``, ``readyState``)."""

    CONNECTING, OPEN, CLOSING, CLOSED = CONNECTING, OPEN, CLOSING, CLOSED

    def __init__(self) -> None:
        self.readyState = OPEN
        self.url: str | None = None
        self.protocol = ""
        self.extensions = ""
        self._peer: WebSocket = self
        self._state = _NEW
        self._listeners: dict[str, list[Callable[[Any], Any]]] = {}
        self._inbox: deque[Event] = deque()  # events waiting to be handled or written, in order
        self._pump: asyncio.Task[None] | None = None
        self._handler: SocketHandler | None = None
        self._asgi_send: Send | None = None
        self._frame_send: Send | None = None  # message frames, once bridged
        self._writing = False  # a write is suspended on the transport: queue behind it
        self._writer: asyncio.Task[None] | None = None  # the task finishing that write
        self._closed_out = False  # this end called close()
        self._close_seen = False  # a close event was delivered to this end
        self._attachment: bytes | None = None
        self._tags: tuple[str, ...] = ()
        self._auto_response_at: float | None = None
        self._on_closed: list[Callable[[WebSocket], None]] = []
        self._gate: gates.Gate | None = None  # the Durable Object whose output gate applies

    # -- the JS API -----------------------------------------------------------------------------

    def accept(self, options: Any = None) -> None:
        """Start handling this end's events with listeners (``addEventListener``)."""
        if self._state in (_RESPONSE, _BRIDGED):
            raise JsTypeError("Can't accept() WebSocket that was already used in a response.")
        if self._state == _HIBERNATABLE:
            raise JsTypeError("Can't accept() WebSocket after enabling hibernation.")
        if self._state == _ACCEPTED:
            return
        self._state = _ACCEPTED
        self._gate = gates.current()  # accepted inside a Durable Object: its output gate
        self._kick()

    def send(self, message: str | bytes | bytearray | memoryview) -> None:
        """Send a text (str) or binary (bytes-like) message to the other end."""
        # The broadcast hot path: a handful of attribute checks, then the ASGI send itself.
        if self._closed_out:
            raise JsTypeError("Can't call WebSocket send() after close().")
        state = self._state
        if state != _HIBERNATABLE and state != _ACCEPTED:
            raise JsTypeError(
                "You must call one of accept() or state.acceptWebSocket() on this WebSocket "
                "before sending messages."
            )
        if type(message) is not str:
            if isinstance(message, str):
                message = str(message)
            elif isinstance(message, bytes | bytearray | memoryview):
                message = bytes(message)
            else:
                raise JsTypeError(
                    f"WebSocket.send() takes a str or bytes, not {type(message).__name__}"
                )
        if self.readyState == CLOSED:
            return  # the peer is gone: dropped silently, as workerd does
        gate = gates.current() or self._gate
        if gate is not None:
            gate.flush()
        peer = self._peer
        if peer._asgi_send is not None and not peer._writing and not peer._inbox:
            peer._drive(
                {"type": "websocket.send", "text": message}
                if type(message) is str
                else {"type": "websocket.send", "bytes": message}
            )
        else:
            peer._arrive_sync(("message", message))

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Close with ``code`` (1000-4999 but 1004, 1005, 1006, 1015) and an optional reason."""
        if code is not None and (
            not isinstance(code, int) or not 1000 <= code < 5000 or code in (1004, 1005, 1006, 1015)
        ):
            raise InvalidAccessError(f"Invalid WebSocket close code: {code}.")
        if reason is not None and len(reason.encode()) > MAX_CLOSE_REASON_BYTES:
            raise DOMSyntaxError(
                "WebSocket close reason must not be longer than 123 bytes when UTF-8 encoded."
            )
        if reason is not None and code is None:
            raise InvalidAccessError(
                "If you specify a WebSocket close reason, you must also specify a code."
            )
        if self._closed_out or self.readyState == CLOSED:
            return
        if self._state not in (_ACCEPTED, _HIBERNATABLE):
            raise JsTypeError(
                "You must call one of accept() or state.acceptWebSocket() on this WebSocket "
                "before sending messages."
            )
        self._closed_out = True
        self.readyState = CLOSING
        gates.release(gates.current() or self._gate)
        self._peer._arrive_sync(("close", 1005 if code is None else code, reason or "", True))

    def addEventListener(self, type: str, listener: Callable[[Any], Any]) -> None:
        self._listeners.setdefault(type, []).append(listener)

    def removeEventListener(self, type: str, listener: Callable[[Any], Any]) -> None:
        listeners = self._listeners.get(type, [])
        if listener in listeners:
            listeners.remove(listener)

    def serializeAttachment(self, value: Any) -> None:
        """Keep a structured-clone copy of ``value`` with the socket (survives hibernation)."""
        data = serialize(value)
        if len(data) > MAX_ATTACHMENT_BYTES:
            raise JsException(
                f"A WebSocket 'attachment' cannot be larger than {MAX_ATTACHMENT_BYTES} bytes."
                f"'attachment' was {len(data)} bytes."
            )
        self._attachment = data

    def deserializeAttachment(self) -> Any:
        return None if self._attachment is None else deserialize(self._attachment)

    def __repr__(self) -> str:
        return f"<WebSocket readyState={self.readyState}>"

    # -- hooks for the host and Durable Objects -----------------------------------------------

    def _hibernate(self, handler: SocketHandler, tags: tuple[str, ...]) -> None:
        """``ctx.acceptWebSocket``: this end's events now go to ``handler``."""
        if self._state == _ACCEPTED:
            raise JsException(
                "Cannot call `acceptWebSocket()` if the WebSocket was already accepted via "
                "`accept()`"
            )
        if self._state != _NEW or self._peer._state in (_ACCEPTED, _HIBERNATABLE, _BRIDGED):
            raise JsException(
                "Cannot call `acceptWebSocket()` on this WebSocket because its pair has already "
                "been accepted or used in a Response."
            )
        self._handler = handler
        self._tags = tags
        self._state = _HIBERNATABLE
        self._gate = gates.current()
        self._kick()

    @property
    def _hibernatable(self) -> bool:
        return self._state == _HIBERNATABLE

    @property
    def _accepted(self) -> bool:
        return self._state == _ACCEPTED

    async def _bridge(
        self, scope: Scope, receive: Receive, send: Send, response: Response | None = None
    ) -> None:
        """Serve a real client: accept its upgrade, then relay both ways until it closes."""
        if self._state in (_ACCEPTED, _HIBERNATABLE):
            raise JsTypeError("Can't return WebSocket in a Response after calling accept().")
        if self._state == _BRIDGED:
            raise JsTypeError("Can't return WebSocket that was already used in a response.")
        self._state = _RESPONSE
        message = await receive()
        if message["type"] != "websocket.connect":
            self._lost()
            return
        accept: Message = {"type": "websocket.accept"}
        protocol = response.headers.get("sec-websocket-protocol") if response else None
        if protocol:
            accept["subprotocol"] = protocol
            self.protocol = protocol
        await send(accept)
        self._asgi_send, self._frame_send = send, scope.get(FRAME_SEND, send)
        self._state = _BRIDGED
        while self._inbox and not self._writing:  # what the object sent before the upgrade
            self._write(self._inbox.popleft())
        peer = self._peer
        try:
            while True:
                message = await receive()
                kind = message["type"]
                if kind == "websocket.receive":
                    data = message.get("text")
                    await peer._arrive(("message", message.get("bytes") if data is None else data))
                elif kind == "websocket.disconnect":
                    code = message.get("code", 1005)
                    self._lost()
                    await peer._arrive(("close", code, message.get("reason") or "", code != 1006))
                    return
        except BaseException:
            self._lost()
            if not peer._close_seen:
                await peer._arrive(("close", 1006, "", False))
            raise

    # -- delivery -------------------------------------------------------------------------------

    def _arrive_sync(self, event: Event) -> None:
        """An event for this end from in-process code (the peer's send or close)."""
        if self._state == _BRIDGED and not self._inbox and not self._writing:
            self._write(event)
            return
        self._inbox.append(event)
        self._kick()

    async def _arrive(self, event: Event) -> None:
        """An event for this end from its real client: handled now, in order, and awaited."""
        if self._inbox or self._pump is not None or self._state not in (_ACCEPTED, _HIBERNATABLE):
            self._inbox.append(event)
            self._kick()
            return
        await self._handle(event)

    def _kick(self) -> None:
        """Start draining the inbox if this end can handle events now."""
        if not self._inbox or self._pump is not None:
            return
        if self._state == _BRIDGED:
            while self._inbox and not self._writing:
                self._write(self._inbox.popleft())
        elif self._state in (_ACCEPTED, _HIBERNATABLE):
            self._pump = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self._inbox:
                await self._handle(self._inbox.popleft())
        finally:
            self._pump = None

    async def _handle(self, event: Event) -> None:
        kind = event[0]
        if kind == "close":
            if self._close_seen:
                return
            self._close_seen = True
            self.readyState = CLOSED
            for callback in self._on_closed:
                callback(self)
            if not self._peer._close_seen and self._peer._state != _BRIDGED:
                self._peer._arrive_sync(event)  # reply to an in-process close (auto-reply)
        try:
            handler = self._handler
            if handler is not None:
                if kind == "message":
                    await handler.on_message(self, event[1])
                elif kind == "close":
                    await handler.on_close(self, event[1], event[2], event[3])
                else:
                    await handler.on_error(self, event[1])
                return
            listeners = self._listeners.get(kind)
            if not listeners:
                return
            if kind == "message":
                arg: Any = MessageEvent(event[1])
            elif kind == "close":
                arg = CloseEvent(event[1], event[2], event[3])
            else:
                arg = ErrorEvent(event[1])
            for listener in tuple(listeners):
                result = listener(arg)
                if isinstance(result, Awaitable):
                    await result
        except Exception:
            log.exception("WebSocket %s handler failed", kind)

    def _write(self, event: Event) -> None:
        """Send an event to the real client through ASGI."""
        if event[0] == "message":
            data = event[1]
            self._drive(
                {"type": "websocket.send", "text": data}
                if isinstance(data, str)
                else {"type": "websocket.send", "bytes": data}
            )
        elif event[0] == "close":
            self._drive({"type": "websocket.close", "code": event[1], "reason": event[2]})

    def _drive(self, message: Message) -> None:
        """Run the ASGI send of ``message`` without a task: uvicorn writes to the transport
        without suspending unless it pushes back, and only then does a task finish the write
        (later messages queue behind it, in order)."""
        send = self._frame_send if message["type"] == "websocket.send" else self._asgi_send
        if self.readyState == CLOSED or send is None:
            return
        coro: Coroutine[Any, Any, Any] = send(message)  # type: ignore[assignment]
        try:
            waiting = coro.send(None)
        except StopIteration:
            return
        except Exception:
            self._lost()
            return
        self._writing = True
        self._writer = asyncio.get_running_loop().create_task(self._finish_write(coro, waiting))

    async def _finish_write(self, coro: Coroutine[Any, Any, Any], waiting: Any) -> None:
        try:
            await _resume(coro, waiting)
            while self._inbox and self.readyState != CLOSED:
                event = self._inbox.popleft()
                if event[0] == "message":
                    data = event[1]
                    key = "text" if isinstance(data, str) else "bytes"
                    await self._frame_send({"type": "websocket.send", key: data})  # type: ignore[misc]
                elif event[0] == "close":
                    await self._asgi_send(  # type: ignore[misc]
                        {"type": "websocket.close", "code": event[1], "reason": event[2]}
                    )
        except Exception:
            self._lost()
        finally:
            self._writing = False
            self._writer = None

    def _lost(self) -> None:
        """The real client is gone: later sends to it are dropped."""
        self.readyState = CLOSED
        self._inbox.clear()


async def _resume(coro: Coroutine[Any, Any, Any], waiting: Any) -> None:
    """Finish a coroutine that was started by hand (``coro.send(None)``) and suspended on the
    future ``waiting``, as an asyncio Task would: take the future over (clear its blocking
    flag, which a Task clears when a coroutine yields it), wait for it, resume the coroutine."""
    while True:
        if waiting is None:
            await asyncio.sleep(0)  # a bare yield
        else:
            waiting._asyncio_future_blocking = False
            await waiting
        try:
            waiting = coro.send(None)
        except StopIteration:
            return


class WebSocketPair:
    """Two linked WebSockets: ``client, server = WebSocketPair()`` (also ``pair[0]``,
    ``pair[1]``, and ``WebSocketPair.new().object_values()`` as Pyodide code writes it)."""

    def __init__(self) -> None:
        self.client = WebSocket()
        self.server = WebSocket()
        self.client._peer, self.server._peer = self.server, self.client

    @classmethod
    def new(cls) -> WebSocketPair:
        return cls()

    def object_values(self) -> tuple[WebSocket, WebSocket]:
        return self.client, self.server

    def __iter__(self) -> Iterator[WebSocket]:
        return iter((self.client, self.server))

    def __getitem__(self, index: int) -> WebSocket:
        return (self.client, self.server)[index]


class WebSocketRequestResponsePair:
    """An auto-response rule for ``ctx.setWebSocketAutoResponse``: a message equal to
    ``request`` is answered with ``response`` without waking the Durable Object."""

    def __init__(self, request: str, response: str) -> None:
        for label, text in (("Request", request), ("Response", response)):
            if not isinstance(text, str):
                raise JsTypeError(f"{label} must be a string")
            size = len(text.encode())
            if size > MAX_AUTO_RESPONSE_BYTES:
                raise JsRangeError(
                    f"{label} cannot be larger than {MAX_AUTO_RESPONSE_BYTES} bytes. A "
                    f"{label.lower()} of size {size} was provided."
                )
        self.request = request
        self.response = response

    @classmethod
    def new(cls, request: str, response: str) -> WebSocketRequestResponsePair:
        return cls(request, response)


# -- answering an upgrade ---------------------------------------------------------------------


async def serve(response: Response, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer a WebSocket upgrade: a 101 with ``web_socket=`` is bridged, anything else refused."""
    if response.status == 101 and response.web_socket is not None:
        await response.web_socket._bridge(scope, receive, send, response)
        return
    await deny(response, scope, receive, send)


async def deny(response: Response, scope: Scope, receive: Receive, send: Send) -> None:
    """Refuse the upgrade with the handler's own HTTP response where the server allows it."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    if "websocket.http.response" in scope.get("extensions", {}):
        body = await response.bytes()
        headers = response.headers
        headers.set("content-length", str(len(body)))
        await send(
            {
                "type": "websocket.http.response.start",
                "status": response.status,
                "headers": headers._raw(),
            }
        )
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": 1008})


class _Upgrade(Protocol):
    """What the helpers need of a Starlette ``WebSocket`` (or any ASGI connection object)."""

    scope: Scope

    async def receive(self) -> Message: ...

    async def send(self, message: Message) -> None: ...


class _Target(Protocol):
    def fetch(self, input: Request, /) -> Awaitable[Response]: ...


async def forward_upgrade(
    websocket: _Upgrade, target: _Target, *, url: str | None = None, headers: HeadersInit = None
) -> None:
    """Hand a Starlette ``WebSocketRoute``'s upgrade to ``target`` (a Durable Object stub or a
    service binding): its ``fetch`` gets the upgrade request (with ``url`` and extra
    ``headers`` if given, e.g. the authenticated user) and its answer is served — a 101 is
    bridged to the client, any other response refuses the upgrade with that HTTP response.
    ``headers`` replace the client's headers of the same name.

    Call it before ``websocket.accept()``::

        async def room(websocket):
            env = websocket.scope["env"]
            user = await authenticate(websocket)
            if user is None:
                return await deny_upgrade(websocket, 401)
            stub = env.ROOMS.getByName(websocket.path_params["room"])
            await forward_upgrade(websocket, stub, headers={"x-user-id": user.id})
    """
    request = Request._from_asgi(websocket.scope, websocket.receive)
    if url is not None or headers is not None:
        merged = Headers(request.headers)
        for name, value in Headers(headers).items():
            merged.set(name, value)  # replaced, so a client cannot send its own x-user-id
        request = Request(url or request.url, headers=merged)
    response = await target.fetch(request)
    await serve(response, websocket.scope, websocket.receive, websocket.send)


async def deny_upgrade(websocket: _Upgrade, response: Response | int) -> None:
    """Refuse a Starlette ``WebSocketRoute``'s upgrade with an HTTP response (or a status code)
    before accepting it; servers without the ``websocket.http.response`` extension get a 1008
    close instead."""
    if isinstance(response, int):
        response = Response.json({"error": _reason(response)}, status=response)
    await deny(response, websocket.scope, websocket.receive, websocket.send)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
