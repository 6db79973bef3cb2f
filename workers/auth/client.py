"""The request-auth helper every worker uses to learn who is calling.

    from workers.auth.client import current_user, require_role

    async def orders(request):
        user = await require_role(request, "admin")      # 401 / 403 JSON errors otherwise
        return JSONResponse({"hello": user.email, "via": user.via})

It asks the auth worker over a service binding (``env.AUTH``, ``[[services]] binding = "AUTH",
service = "auth"``) with a plain dict of the credentials: the ``Cookie``, ``Authorization`` and
``x-api-key`` headers, and the ``?token=`` query parameter (browsers cannot set headers on a
WebSocket upgrade). Without an ``AUTH`` binding it resolves them in-process from the shared D1
(``env.DB``, the same secrets, and ``env.AUTH_KV`` for API-key limits). Works for Starlette
``Request`` and ``WebSocket`` alike; the answer is cached on the connection for its lifetime.
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException, WebSocketException
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response

from workers.auth.identity import CREDENTIAL_HEADERS, Identity, identify

__all__ = [
    "AuthError",
    "Identity",
    "current_user",
    "exception_handlers",
    "require_role",
    "require_scope",
    "require_user",
]

AUTH_BINDING = "AUTH"
_CACHE = "hearth.auth.identity"
WS_POLICY_VIOLATION = 1008


class AuthError(HTTPException):
    """401/403/429 as a Starlette HTTPException; ``exception_handlers`` renders it as JSON."""

    def response(self) -> Response:
        return JSONResponse({"error": self.detail}, self.status_code, headers=self.headers)


def credentials(conn: HTTPConnection) -> dict[str, str]:
    """The parts of a request or WebSocket that may prove who is calling."""
    out = {name: conn.headers[name] for name in CREDENTIAL_HEADERS if name in conn.headers}
    token = conn.query_params.get("token")
    if token:
        out["token"] = token
    return out


async def current_user(conn: HTTPConnection) -> Identity | None:
    """The caller, or None when anonymous or the credentials are not valid.

    Raises AuthError(429) when an API key is over its per-minute limit.
    """
    cached = conn.scope.get(_CACHE)
    if cached is not None:
        return cached[0]  # type: ignore[no-any-return]
    env = conn.scope["env"]
    proof = credentials(conn)
    if not proof:
        answer: dict[str, Any] = {"identity": None}
    elif (service := getattr(env, AUTH_BINDING, None)) is not None:
        answer = await service.identify(proof)
    else:
        answer = await identify(env, proof)
    if answer.get("error"):
        error = answer["error"]
        retry = {"Retry-After": str(error["retryAfter"])} if error.get("retryAfter") else None
        raise _refusal(conn, int(error["status"]), str(error["message"]), retry)
    data = answer.get("identity")
    identity = Identity.from_dict(data) if data else None
    conn.scope[_CACHE] = (identity,)
    return identity


def _refusal(
    conn: HTTPConnection, status: int, message: str, headers: dict[str, str] | None = None
) -> Exception:
    if conn.scope["type"] == "websocket":
        return WebSocketException(WS_POLICY_VIOLATION, message)
    return AuthError(status, message, headers)


async def require_user(conn: HTTPConnection) -> Identity:
    """The caller; 401 ``{"error": "Authentication required"}`` when anonymous."""
    identity = await current_user(conn)
    if identity is None:
        raise _refusal(conn, 401, "Authentication required", {"WWW-Authenticate": "Bearer"})
    return identity


async def require_role(conn: HTTPConnection, *roles: str) -> Identity:
    """A caller holding one of ``roles``; 401 when anonymous, 403 otherwise."""
    identity = await require_user(conn)
    if not identity.has_role(*roles):
        raise _refusal(conn, 403, "Insufficient permissions")
    return identity


async def require_scope(conn: HTTPConnection, scope: str) -> Identity:
    """A caller whose credential allows ``scope`` (``"products:write"``); API keys may be
    narrower than their user, sessions and JWTs allow everything their user may do."""
    identity = await require_user(conn)
    if not identity.allows(scope):
        raise _refusal(conn, 403, f"This API key lacks the scope {scope!r}")
    return identity


async def _auth_error(request: Any, exc: Exception) -> Response:
    assert isinstance(exc, AuthError)
    return exc.response()


# Starlette(exception_handlers=exception_handlers) renders AuthError as {"error": ...} JSON.
exception_handlers = {AuthError: _auth_error}
