"""The auth worker: Better Auth's HTTP API under ``/api/auth``, shop-customer tokens under
``/auth``, the ``/login`` and ``/dashboard`` pages, and ``identify`` over RPC for other workers.

``/api/auth`` follows Better Auth's router: an unknown path, a wrong method or a trailing slash is
a 404 with no body; each request is rate limited (sign-in-like paths), its body parsed, its
origin checked, then its handler runs. Errors are ``{"message", "code"}`` there and
``{"error": ...}`` everywhere else.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from workers import asgi
from workers.auth import identity
from workers.auth.context import AuthContext
from workers.auth.errors import APIError, HTTPError
from workers.auth.handlers import admin, apikey, customer, pages, session, user
from workers.auth.origin import (
    SAFE_METHODS,
    validate_callbacks,
    validate_form_csrf,
    validate_origin,
)
from workers.auth.ratelimit import SIGN_IN_MAX, SIGN_IN_WINDOW, STRICT_PREFIXES, consume
from workers.auth.settings import NotConfigured, settings
from workers.auth.validation import MISSING, better_auth_body, client_ip

log = logging.getLogger("hearth.auth")
BASE_PATH = "/api/auth"

Handler = Callable[[AuthContext, Any], Awaitable[Response]]


@dataclass(frozen=True)
class Endpoint:
    handler: Handler
    form: bool = False  # also takes application/x-www-form-urlencoded (and the login CSRF rule)


ENDPOINTS: dict[tuple[str, str], Endpoint] = {
    ("POST", "/sign-in/email"): Endpoint(session.sign_in_email, form=True),
    ("POST", "/sign-up/email"): Endpoint(user.sign_up_email, form=True),
    ("POST", "/sign-out"): Endpoint(session.sign_out),
    ("GET", "/get-session"): Endpoint(session.get_session),
    ("POST", "/get-session"): Endpoint(session.get_session),
    ("GET", "/list-sessions"): Endpoint(session.list_sessions),
    ("POST", "/revoke-session"): Endpoint(session.revoke_session),
    ("POST", "/revoke-sessions"): Endpoint(session.revoke_sessions),
    ("POST", "/revoke-other-sessions"): Endpoint(session.revoke_other_sessions),
    ("POST", "/update-user"): Endpoint(user.update_user),
    ("POST", "/change-password"): Endpoint(user.change_password),
    ("POST", "/admin/create-user"): Endpoint(admin.create_user),
    ("GET", "/admin/list-users"): Endpoint(admin.list_users),
    ("POST", "/admin/set-role"): Endpoint(admin.set_role),
    ("POST", "/admin/ban-user"): Endpoint(admin.ban_user),
    ("POST", "/admin/unban-user"): Endpoint(admin.unban_user),
    ("POST", "/admin/remove-user"): Endpoint(admin.remove_user),
    ("POST", "/api-key/create"): Endpoint(apikey.create),
    ("GET", "/api-key/list"): Endpoint(apikey.list_keys),
    ("GET", "/api-key/get"): Endpoint(apikey.get_key),
    ("POST", "/api-key/delete"): Endpoint(apikey.delete),
}

TOO_MANY = "Too many requests. Please try again later."


async def rate_limited(request: Request, path: str) -> Response | None:
    """Better Auth's strict rule (3 per 10 s per IP and path) on sign-in-like paths."""
    env = request.scope["env"]
    verdict = await consume(
        env.AUTH_KV, f"{client_ip(request)}|{path}", window=SIGN_IN_WINDOW, limit=SIGN_IN_MAX
    )
    if verdict.allowed:
        return None
    return JSONResponse(
        {"message": TOO_MANY}, 429, headers={"X-Retry-After": str(verdict.retry_after)}
    )


async def better_auth(request: Request) -> Response:
    """Everything under ``/api/auth``: route, rate limit, parse, check origin, handle."""
    path = request.url.path[len(BASE_PATH) :]
    method = "GET" if request.method == "HEAD" else request.method
    endpoint = ENDPOINTS.get((method, path))
    if endpoint is None:
        return Response(status_code=404)
    ctx = AuthContext(request)
    if ctx.settings.rate_limit and path.startswith(STRICT_PREFIXES):
        refused = await rate_limited(request, path)
        if refused is not None:
            return refused
    body = MISSING
    if method not in SAFE_METHODS:
        body = await better_auth_body(request, form=endpoint.form)
        validate_origin(ctx.headers, ctx.settings, ctx.own_origin, force=False)
        validate_callbacks(body, request.query_params, ctx.settings, ctx.own_origin)
        if endpoint.form:
            validate_form_csrf(ctx.headers, ctx.settings, ctx.own_origin)
    return await endpoint.handler(ctx, body)


async def customer_endpoint(request: Request) -> Response:
    """``/auth/register`` and ``/auth/login`` are rate limited like sign-in; refresh is not."""
    path = request.url.path
    env = request.scope["env"]
    if path != "/auth/refresh" and settings(env).rate_limit:
        verdict = await consume(
            env.AUTH_KV, f"{client_ip(request)}|{path}", window=SIGN_IN_WINDOW, limit=SIGN_IN_MAX
        )
        if not verdict.allowed:
            raise HTTPError(429, TOO_MANY, headers={"Retry-After": str(verdict.retry_after)})
    handler = {"/auth/register": customer.register, "/auth/login": customer.login}
    return await handler.get(path, customer.refresh)(request)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, APIError)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPError)
    return exc.response()


async def _starlette_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"error": exc.detail}, exc.status_code, headers=exc.headers)


async def _not_configured(request: Request, exc: Exception) -> Response:
    log.error("auth worker: %s", exc)
    return JSONResponse({"error": "The auth worker is not configured (see the server log)"}, 503)


async def _internal(request: Request, exc: Exception) -> Response:
    log.exception("auth worker: unhandled error on %s %s", request.method, request.url.path)
    if request.url.path.startswith(BASE_PATH):
        return JSONResponse(
            {"message": "Internal Server Error", "code": "INTERNAL_SERVER_ERROR"}, 500
        )
    return JSONResponse({"error": "Internal Server Error"}, 500)


ANY = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

app = Starlette(
    routes=[
        Route(BASE_PATH + "/{rest:path}", better_auth, methods=ANY),
        Route("/auth/register", customer_endpoint, methods=["POST"]),
        Route("/auth/login", customer_endpoint, methods=["POST"]),
        Route("/auth/refresh", customer_endpoint, methods=["POST"]),
        Route("/login", pages.login_page, methods=["GET"]),
        Route("/login", pages.login_submit, methods=["POST"]),
        Route("/logout", pages.logout, methods=["POST"]),
        Route("/dashboard", pages.dashboard, methods=["GET"]),
        Route("/dashboard/users", pages.create_user, methods=["POST"]),
        Route("/dashboard/users/{user_id}/{action:str}", pages.set_ban, methods=["POST"]),
    ],
    exception_handlers={
        APIError: _api_error,
        HTTPError: _http_error,
        HTTPException: _starlette_error,
        NotConfigured: _not_configured,
        Exception: _internal,
    },
)


class Default(asgi.entrypoint(app)):  # type: ignore[misc]
    """The worker's entrypoint: serves ``app``, and ``identify`` for other workers over RPC."""

    async def identify(self, credentials: dict[str, Any]) -> dict[str, Any]:
        """Who sent these credentials (``cookie``, ``authorization``, ``x-api-key``, ``token``)?"""
        return await identity.identify(self.env, credentials)


__all__ = ["Default", "app"]
