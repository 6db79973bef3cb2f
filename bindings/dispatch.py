"""Calling an ASGI app in-process with a ``Request`` and getting a ``Response`` back.

Used by ``workers.asgi.fetch`` and by service bindings: no socket, no serialisation beyond
the ASGI messages themselves. A response body sent in several chunks is streamed to the caller.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import unquote

from bindings.body import ReadableStream
from bindings.headers import Headers
from bindings.request import Request, split_url
from bindings.response import Response
from bindings.types import ASGIApp, Message, Scope

_END = object()
log = logging.getLogger("hearth")


def request_scope(request: Request, env: Any, state: dict[str, Any] | None = None) -> Scope:
    """The HTTP scope Cloudflare's ``workers.asgi`` builds for a request (plus ``server``)."""
    scheme, host, raw_path, query = split_url(request.url)
    headers = [(b"host", host.encode("latin-1"))]
    headers += [(k, v) for k, v in request.headers._raw() if k != b"host"]
    hostname, _, port = host.partition(":")
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": str(request.method),
        "scheme": scheme,
        "path": unquote(raw_path),
        "raw_path": raw_path.encode("latin-1"),
        "query_string": query,
        "root_path": "",
        "headers": headers,
        "server": (hostname, int(port) if port else (443 if scheme == "https" else 80)),
        "client": None,
        "env": env,
    }
    if state:
        scope["state"] = dict(state)
    return scope


async def call_asgi(
    app: ASGIApp, request: Request, env: Any, state: dict[str, Any] | None = None
) -> Response:
    """Run ``app`` on ``request``; return once the response starts, streaming the rest."""
    scope = request_scope(request, env, state)
    body = await request.bytes()
    start: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
    chunks: asyncio.Queue[Any] = asyncio.Queue(maxsize=16)
    finished = asyncio.Event()
    request_sent = False
    ended = False

    async def receive() -> Message:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await finished.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal ended
        if message["type"] == "http.response.start":
            start.set_result(message)
        elif message["type"] == "http.response.body":
            await chunks.put(message.get("body", b""))
            if not message.get("more_body", False):
                ended = True
                await chunks.put(_END)

    async def run() -> None:
        nonlocal ended
        try:
            await app(scope, receive, send)
        except BaseException as exc:
            if not start.done():
                start.set_exception(exc)
            elif ended:
                log.error("ASGI app failed after its response was sent", exc_info=exc)
            else:
                ended = True
                await chunks.put(exc)
            if not isinstance(exc, Exception):
                raise
        finally:
            finished.set()
            if not start.done():
                start.set_exception(RuntimeError("the app returned without sending a response"))
            if not ended:
                await chunks.put(_END)

    task = asyncio.ensure_future(run())
    message = await start
    first = await chunks.get()
    if isinstance(first, BaseException):
        raise first
    headers = Headers._from_raw(message.get("headers", ()))
    status = message["status"]
    if first is _END:
        content: Any = None
    else:
        second = chunks.get_nowait() if not chunks.empty() else None
        streamed = second is not _END
        content = ReadableStream(_rest(first, second, chunks, task)) if streamed else first
    response = Response(content, status, headers=headers)
    response.url = request.url
    return response


async def _rest(
    first: bytes, second: Any, chunks: asyncio.Queue[Any], task: asyncio.Future[None]
) -> AsyncIterator[bytes]:
    try:
        yield first
        item = second if second is not None else await chunks.get()
        while item is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
            item = await chunks.get()
    finally:
        if not task.done():
            task.cancel()
