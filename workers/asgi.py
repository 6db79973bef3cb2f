"""Cloudflare's ``workers.asgi``: run an ASGI app (Starlette, FastAPI) as a worker.

Handlers read bindings from ``request.scope["env"]``, as on Cloudflare. Hearth differs in one
way that only helps: the app's lifespan runs once per process, not around every request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from bindings.dispatch import call_asgi
from bindings.entrypoints import WorkerEntrypoint
from bindings.request import Request
from bindings.response import Response
from bindings.types import ASGIApp

__all__ = ["Options", "entrypoint", "env", "fetch"]  # noqa: F822 - env is lazy (__getattr__)


@dataclass
class Options:
    encode_body: Literal["automatic", "manual"] = "automatic"


async def fetch(
    app: ASGIApp, req: Request, env: Any, ctx: Any = None, *, options: Options | None = None
) -> Response:
    """Answer ``req`` with ``app``, ``env`` in the scope; the response body streams back."""
    return await call_asgi(app, req, env)


def entrypoint(app: ASGIApp, *, options: Options | None = None) -> type[WorkerEntrypoint]:
    """A ``Default`` entrypoint class serving ``app`` (``Default = asgi.entrypoint(app)``).

    Hearth recognises it and serves ``app`` directly, without a Request round trip.
    """

    class Default(WorkerEntrypoint):
        __hearth_asgi_app__ = app

        async def fetch(self, request: Request) -> Response:
            return await call_asgi(app, request, self.env)

    return Default


def __getattr__(name: str) -> Any:
    if (
        name == "env"
    ):  # FastAPI dependency, built lazily so Starlette-only apps never import FastAPI
        from fastapi import Depends
        from fastapi import Request as FastAPIRequest

        def _env(request: FastAPIRequest) -> Any:
            return request.scope["env"]

        return Depends(_env)
    raise AttributeError(f"module 'workers.asgi' has no attribute {name!r}")
