"""CORS from an allowlist in the worker's vars (``CORS_ORIGINS``: a list, or a comma-separated
string), with Starlette's ``CORSMiddleware`` doing the work. The env arrives with each request,
so the middleware is built per env (once per worker and process) rather than at import.

    app = Starlette(routes=..., middleware=[Middleware(AllowlistCORS, methods=[...])])
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from starlette.middleware.cors import CORSMiddleware
from starlette.requests import HTTPConnection

from bindings.types import ASGIApp, Receive, Scope, Send

METHODS = ["GET", "POST", "OPTIONS"]
HEADERS = ["Content-Type", "Authorization"]  # the seed's preflight answer
MAX_AGE = 600


def allowed_origins(env: Any) -> list[str]:
    """The worker's ``CORS_ORIGINS`` var as a list (empty when unset)."""
    value = getattr(env, "CORS_ORIGINS", None) or []
    if isinstance(value, str):
        value = value.split(",")
    return [origin.strip().rstrip("/") for origin in value if origin.strip()]


def origin_allowed(origin: str | None, env: Any) -> bool:
    """Whether a request from ``origin`` may proceed (requests without one are not browsers')."""
    return origin is None or origin in allowed_origins(env)


def trusted_origin(conn: HTTPConnection) -> bool:
    """Whether a browser's request comes from this server's own origin (its ``Origin`` names
    the ``Host`` it was sent to) or one in ``CORS_ORIGINS``: the check a cookie-authenticated
    write or WebSocket upgrade needs against cross-site requests. No ``Origin``: not a browser."""
    origin = conn.headers.get("origin")
    if origin is None:
        return True
    host = conn.headers.get("host", "").lower()
    try:
        own = bool(host) and urlsplit(origin).netloc.lower() == host
    except ValueError:
        own = False
    return own or origin_allowed(origin, conn.scope["env"])


class AllowlistCORS:
    """ASGI middleware: Starlette's CORS with the origins of the request's env."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        methods: list[str] | None = None,
        headers: list[str] | None = None,
        credentials: bool = False,
        expose: list[str] | None = None,
    ) -> None:
        self.app = app
        self.methods = methods or METHODS
        self.headers = headers or HEADERS
        self.credentials = credentials
        self.expose = expose or []
        self._built: tuple[Any, ASGIApp] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        env = scope["env"]
        built = self._built
        if built is None or built[0] is not env:
            origins = allowed_origins(env)
            cors = CORSMiddleware(
                self.app, allow_origins=origins, allow_methods=self.methods,
                allow_headers=self.headers, allow_credentials=self.credentials,
                expose_headers=self.expose, max_age=MAX_AGE,
            )  # fmt: skip
            built = self._built = (env, cors)
        await built[1](scope, receive, send)
