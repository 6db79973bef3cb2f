"""Outbound ``fetch()`` over httpx, as ``workers.fetch`` (one pooled client per runtime)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bindings import gates
from bindings.env import current_worker
from bindings.headers import Headers
from bindings.request import Request
from bindings.response import Response

if TYPE_CHECKING:
    import httpx


async def fetch(resource: str | Request, /, **init: Any) -> Response:
    """Fetch ``resource`` (a URL or Request); keyword options as the SDK's FetchKwargs.

    ``fetcher=`` (a service binding's fetch) dispatches in-process instead of over the network.
    """
    fetcher = init.pop("fetcher", None)
    request = resource if isinstance(resource, Request) and not init else Request(resource, **init)
    await gates.wait()  # from a Durable Object: its writes commit first (the output gate)
    if fetcher is not None:
        return await fetcher(request)  # type: ignore[no-any-return]
    worker = current_worker.get(None)
    if worker is None:
        import httpx

        async with httpx.AsyncClient() as client:
            return await _send(client, request)
    return await _send(_client_of(worker.runtime), request)


def _client_of(runtime: Any) -> httpx.AsyncClient:
    client: httpx.AsyncClient | None = getattr(runtime, "_http_client", None)
    if client is None:
        import httpx

        client = httpx.AsyncClient(timeout=httpx.Timeout(30.0))
        runtime._http_client = client
        runtime.on_close(client.aclose)
    return client


async def _send(client: httpx.AsyncClient, request: Request) -> Response:
    body = await request.bytes()
    reply = await client.request(
        str(request.method),
        request.url,
        headers=request.headers.items(),
        content=body or None,
        follow_redirects=request.redirect != "manual",
    )
    headers = Headers(
        (k.decode("latin-1"), v.decode("latin-1"))
        for k, v in reply.headers.raw
        if k.lower() not in (b"content-encoding", b"transfer-encoding", b"content-length")
    )
    response = Response(reply.content, reply.status_code, reply.reason_phrase, headers)
    response.url = str(reply.url)
    response.redirected = bool(reply.history)
    return response
