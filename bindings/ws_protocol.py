"""uvicorn's sans-I/O WebSocket protocol, with the frames of one loop turn sent together.

A broadcast writes one frame to each of many sockets, and several broadcasts often run in the
same turn of the event loop. asyncio's transport makes one ``send()`` per ``write()``; here the
writes a socket gets during one turn are joined and sent once, at the end of the turn (a
callback queued with ``call_soon`` runs after the callbacks already ready). workerd batches
its socket writes the same way. A frame waits at most for the rest of the turn it was written
in; flow control is the real transport's, which still sees every byte.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


class TurnBufferedTransport:
    """A transport whose ``write``s are sent as one at the end of the loop turn."""

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(data)

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        if pending:
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self._flush()  # a close frame written just before must still go out
        self._transport.close()

    def abort(self) -> None:
        self._pending = []
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)  # is_closing, get_extra_info, pause_reading, ...


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """What ``--ws`` names for Hearth's servers (``bindings.server.WS_IMPL``)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.transport = TurnBufferedTransport(self.transport, self.loop)  # type: ignore[assignment]
