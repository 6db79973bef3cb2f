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
it means "the owner is stopping: try again". Each described value is base64url JSON split over
headers ``<name>-0``, ``<name>-1`` ... of at most ``HEADER_CHUNK`` characters, since HTTP
parsers cap a header line at about 8 KiB and a request's own headers (cookies) may be that big.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
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
HEADER_CHUNK = 4096


def encode(name: str, value: Any) -> list[tuple[str, str]]:
    """``value`` as headers ``name-0``, ``name-1`` ... (base64url JSON, so anything survives)."""
    raw = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    text = base64.urlsafe_b64encode(raw).decode("ascii")
    return [
        (f"{name}-{i}", text[start : start + HEADER_CHUNK])
        for i, start in enumerate(range(0, len(text), HEADER_CHUNK))
    ]


def decode(get: Callable[[str], str | bytes | None], name: str) -> Any:
    """The value ``encode`` put in headers named ``name``, read with ``get`` (None if absent)."""
    parts: list[str | bytes] = []
    while (part := get(f"{name}-{len(parts)}")) is not None:
        parts.append(part)
    if not parts:
        return None
    joined = b"".join(p.encode("ascii") if isinstance(p, str) else p for p in parts)
    return json.loads(base64.urlsafe_b64decode(joined))


def scope_headers(scope: Any) -> Callable[[str], bytes | None]:
    """A header lookup for an ASGI scope (for ``decode``)."""
    headers = {key: value for key, value in scope["headers"] if key.startswith(b"x-hearth-")}
    return lambda name: headers.get(name.encode("latin-1"))


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
