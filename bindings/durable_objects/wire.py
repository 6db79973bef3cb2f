"""What a Durable Object call forwarded between server processes looks like on the wire.

Each call goes to the owner's admin listener with the internal token (``bindings.peers``):

- ``POST /__hearth/do/rpc``: body ``serialize([method, args])`` (structured clone); a 200
  reply's body is ``serialize(result)``.
- ``POST /__hearth/do/fetch``: the request's body, its method, URL and headers in
  ``x-hearth-request``; the reply carries the object's response: its status and body as they
  are, its status text and headers in ``x-hearth-response``.
- a WebSocket to ``/__hearth/do/websocket``: the upgrade request in ``x-hearth-request``; a
  refusal is an HTTP response as for fetch; an accepted socket is relayed frame by frame.

Every call names its object in ``x-hearth-object`` (the class's namespace key, the id, its
name, and the caller's process count so the owner can refuse a caller that disagrees). A reply
with ``x-hearth-exception`` carries an exception (``rpc.described``) as JSON; with status 503
it means "the owner is stopping: try again".
"""

from __future__ import annotations

import base64
import json
from typing import Any

from bindings.rpc import described
from bindings.types import Receive, Send

RPC_PATH = "/__hearth/do/rpc"
FETCH_PATH = "/__hearth/do/fetch"
WEBSOCKET_PATH = "/__hearth/do/websocket"

OBJECT_HEADER = "x-hearth-object"
REQUEST_HEADER = "x-hearth-request"
RESPONSE_HEADER = "x-hearth-response"
EXCEPTION_HEADER = "x-hearth-exception"
STOPPING = 503  # the owner is shutting down (or not ready): the caller retries


def encode(value: Any) -> str:
    """JSON in a header value (base64url, so any header or name survives)."""
    raw = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii")


def decode(value: str | bytes) -> Any:
    return json.loads(base64.urlsafe_b64decode(value))


async def send_exception(
    send: Send, exc: BaseException, status: int = 500, *, websocket: bool = False
) -> None:
    """Reply with ``exc`` over HTTP, or refuse a WebSocket upgrade with it."""
    body = json.dumps(described(exc)).encode()
    headers = [
        (EXCEPTION_HEADER.encode(), b"1"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    prefix = "websocket.http.response" if websocket else "http.response"
    await send({"type": f"{prefix}.start", "status": status, "headers": headers})
    await send({"type": f"{prefix}.body", "body": body})


async def read_body(receive: Receive) -> bytes:
    """The whole body of an internal HTTP request."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
