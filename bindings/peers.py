"""The host's other server processes: their admin URLs, the internal token and one HTTP pool.

Process-to-process calls (a Durable Object call forwarded to its owner, the drain handshake at
shutdown) go to a peer's admin listener, which listens on loopback only and is never proxied,
and carry the per-deployment secret ``HEARTH_INTERNAL_TOKEN`` in ``x-hearth-internal-token``.
An internal route answers 403 without it; the comparison takes constant time. The supervisor of
``serve --workers N`` makes a token when none is set and hands it to its processes; processes
started one by one (systemd) read the same token from their environment file.

One aiohttp session per process (a keep-alive pool) carries every HTTP call to every peer; it
ignores proxy settings from the environment (peers are always on loopback) and leaves bodies
encoded as they were sent. aiohttp rather than httpx, which the rest of Hearth uses for outbound
``fetch``: on this path, a call per forwarded Durable Object event, httpx's asynchronous client
measured 1.5-3 ms a request against aiohttp's 0.3-0.7 ms (sequential POSTs on loopback, the
same run). aiohttp is imported on first use only, and is already installed by aiobotocore.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from bindings.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    import aiohttp

    from bindings.runtime import Runtime

TOKEN_ENV = "HEARTH_INTERNAL_TOKEN"  # noqa: S105 - the variable's name, not a secret
TOKEN_HEADER = "x-hearth-internal-token"  # noqa: S105
MIN_TOKEN_LENGTH = 32
CONNECT_TIMEOUT = 5.0  # seconds to open a connection to a peer (loopback: refused at once)
PHASE_PATH = "/__hearth/phase"  # a process's shutdown phase (bindings.server)
POOL_SIZE = 256  # connections to all peers together, kept alive between calls
KEEPALIVE_EXPIRY = 4.0  # seconds: below uvicorn's 5 s, so a peer never closes one as it is reused

_TOKEN_RAW = TOKEN_HEADER.encode()


class Peers:
    """This process's view of the host's server processes (``peers_of(runtime)``)."""

    def __init__(self, runtime: Runtime) -> None:
        self.index, self.count = runtime.process_index, runtime.process_count
        self.token = runtime.internal_token or ""
        urls = list(runtime.peers)
        urls.insert(self.index, f"http://127.0.0.1:{runtime.admin_port}")
        if len(urls) != self.count:
            raise RuntimeError(f"{len(urls)} admin URLs for {self.count} server processes")
        self.urls = urls
        self.headers = {TOKEN_HEADER: self.token}
        self._session: aiohttp.ClientSession | None = None

    def url(self, index: int) -> str:
        """The admin base URL of process ``index``."""
        return self.urls[index]

    def session(self) -> aiohttp.ClientSession:
        """The process's one pooled HTTP session for peer calls (made on first use)."""
        session = self._session
        if session is None:
            import aiohttp

            connector = aiohttp.TCPConnector(
                limit=POOL_SIZE, limit_per_host=0, keepalive_timeout=KEEPALIVE_EXPIRY
            )
            session = self._session = aiohttp.ClientSession(
                connector=connector,
                headers=self.headers,
                # No overall limit: an event may rightly run long, as it may in-process.
                timeout=aiohttp.ClientTimeout(total=None, connect=CONNECT_TIMEOUT),
                auto_decompress=False,
                trust_env=False,
            )
        return session

    async def phases(self) -> list[str | None]:
        """Each other process's shutdown phase ("running", "draining", "drained"); None for one
        that does not answer."""
        import asyncio

        import aiohttp

        async def phase(index: int) -> str | None:
            try:
                async with self.session().get(
                    self.urls[index] + PHASE_PATH, timeout=aiohttp.ClientTimeout(total=1.0)
                ) as reply:
                    if reply.status != 200:
                        return None
                    return str((await reply.json())["phase"])
            except (aiohttp.ClientError, TimeoutError, ValueError, KeyError):
                return None

        others = [i for i in range(self.count) if i != self.index]
        return list(await asyncio.gather(*(phase(i) for i in others)))

    def guard(self, app: ASGIApp) -> ASGIApp:
        """``app`` as an internal route: 403 unless the request carries the token."""
        return guarded(app, self.token)

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


def peers_of(runtime: Runtime) -> Peers:
    """The runtime's ``Peers`` (made once; closed when the runtime stops)."""
    peers: Peers | None = getattr(runtime, "_peers", None)
    if peers is None:
        peers = Peers(runtime)
        runtime._peers = peers  # type: ignore[attr-defined]
        runtime.on_close(peers.close)
    return peers


def guarded(app: ASGIApp, token: str | None) -> ASGIApp:
    """``app`` answering only requests that carry ``token``; 403 for the rest."""

    async def internal(scope: Scope, receive: Receive, send: Send) -> None:
        if authorized(scope, token):
            await app(scope, receive, send)
        else:
            await forbidden(scope, receive, send)

    return internal


def authorized(scope: Scope, token: str | None) -> bool:
    """True when ``scope`` carries ``token`` in the internal-token header (constant time)."""
    if not token:
        return False
    for key, value in scope["headers"]:
        if key == _TOKEN_RAW:
            return hmac.compare_digest(value, token.encode())
    return False


async def forbidden(scope: Scope, receive: Receive, send: Send) -> None:
    """403 for an internal request without the token (a WebSocket upgrade is refused too)."""
    body = b'{"error":"Forbidden"}'
    headers = [(b"content-type", b"application/json"), (b"content-length", b"21")]
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        if "websocket.http.response" not in scope.get("extensions", {}):
            await send({"type": "websocket.close", "code": 1008})
            return
        await send({"type": "websocket.http.response.start", "status": 403, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body})
        return
    await send({"type": "http.response.start", "status": 403, "headers": headers})
    await send({"type": "http.response.body", "body": body})
