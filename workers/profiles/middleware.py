"""The seed's Hono middleware chain as plain ASGI middleware (no per-request objects beyond
what each needs):

- ``SecureHeaders``: Hono's ``secureHeaders()`` defaults on every response, and the seed's
  ``logger()`` as an ``X-Response-Time`` header (the host already writes the access log);
- ``PrettyJSON``: ``?pretty`` re-indents a JSON response, as Hono's ``prettyJSON()``;
- ``ApiGuard``: for ``/api/*``, a per-client-address limit per minute counted in KV (before
  anything else, so floods of bad keys are cut off too), then authentication through the auth
  worker (401 JSON when anonymous; an API key over its own per-minute limit gets 429 there).
  Scopes and team roles are checked by each handler.
"""

from __future__ import annotations

import json
from time import perf_counter
from typing import Any

from starlette.requests import Request

from bindings.types import ASGIApp, Message, Receive, Scope, Send
from workers.auth.client import AuthError, require_user
from workers.auth.ratelimit import consume
from workers.common.http import client_ip, json_error

SECURE_HEADERS = [
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"origin-agent-cluster", b"?1"),
    (b"referrer-policy", b"no-referrer"),
    (b"strict-transport-security", b"max-age=15552000; includeSubDomains"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-dns-prefetch-control", b"off"),
    (b"x-download-options", b"noopen"),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"x-permitted-cross-domain-policies", b"none"),
    (b"x-xss-protection", b"0"),
]
API_PREFIX = "/api/"
API_RATE_LIMIT = 600  # requests per minute per client address; the API_RATE_LIMIT var overrides
RATE_WINDOW_S = 60


class SecureHeaders:
    """Secure headers and ``X-Response-Time: <ms>ms`` on every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                elapsed = f"{(perf_counter() - started) * 1000:.1f}ms".encode()
                message["headers"] = [
                    *message.get("headers", ()), *SECURE_HEADERS, (b"x-response-time", elapsed)
                ]  # fmt: skip
            await send(message)

        await self.app(scope, receive, send_with_headers)


class PrettyJSON:
    """``?pretty`` (any value): JSON responses indented by two spaces."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_pretty(scope.get("query_string", b"")):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def buffer(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                if _is_json(message.get("headers", ())):
                    start = message
                    return
                await send(message)
            elif start is None:
                await send(message)
            else:
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    body = _reindent(b"".join(chunks))
                    headers = [h for h in start["headers"] if h[0].lower() != b"content-length"]
                    headers.append((b"content-length", str(len(body)).encode()))
                    await send({**start, "headers": headers})
                    await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, buffer)


def _has_pretty(query: bytes) -> bool:
    return any(part.split(b"=", 1)[0] == b"pretty" for part in query.split(b"&"))


def _is_json(headers: Any) -> bool:
    for key, value in headers:
        if key.lower() == b"content-type":
            return bool(value.split(b";")[0].strip().lower() == b"application/json")
    return False


def _reindent(body: bytes) -> bytes:
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False).encode()
    except ValueError:
        return body


class ApiGuard:
    """``/api/*``: the per-address rate limit, then authentication (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        env = scope["env"]
        kv = getattr(env, "KV", None)
        if kv is not None:
            limit = int(getattr(env, "API_RATE_LIMIT", API_RATE_LIMIT))
            verdict = await consume(
                kv, f"api:{client_ip(request)}", window=RATE_WINDOW_S, limit=limit
            )
            if not verdict.allowed:
                retry = {"Retry-After": str(verdict.retry_after)}
                await json_error(429, "Rate limit exceeded", retry)(scope, receive, send)
                return
        try:
            await require_user(request)  # the identity is cached on the scope for the handler
        except AuthError as exc:
            await exc.response()(scope, receive, send)
            return
        await self.app(scope, receive, send)
