"""WebSockets: answering an upgrade with a worker's Response (accept and bridge, or refuse)."""

from __future__ import annotations

from bindings.response import Response
from bindings.types import Receive, Scope, Send


async def serve(response: Response, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer a WebSocket upgrade: a 101 with ``web_socket=`` is bridged, anything else refused."""
    if response.status == 101 and response.web_socket is not None:
        await response.web_socket._bridge(scope, receive, send)
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
