"""The seed's Hono middleware chain as plain ASGI middleware (no per-request objects beyond
what each needs):

- ``SecureHeaders``: Hono's ``secureHeaders()`` defaults on every response, and the seed's
  ``logger()`` as an ``X-Response-Time`` header (the host already writes the access log);
- ``PrettyJSON``: ``?pretty`` re-indents a JSON response, as Hono's ``prettyJSON()``;
- ``ApiGuard``: for ``/api/*``, authentication through the auth worker (401 JSON when
  anonymous; an API key over its own per-minute limit gets 429 there), behind a per-address
  limit on failed attempts: after ``AUTH_FAILURE_LIMIT`` failures in a minute (counted in KV),
  the address is refused (429) before its credentials are even checked, for as long as the
  window needs — so keys cannot be guessed at speed, while callers with valid credentials pay
  one KV ``list`` (usually empty). Scopes and team roles are checked by each handler.
"""

from __future__ import annotations

import json
from time import perf_counter
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from bindings.types import ASGIApp, Message, Receive, Scope, Send
from workers.auth.client import AuthError, require_user
from workers.auth.dates import now_ms
from workers.auth.ratelimit import KV_MIN_TTL, consume
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
AUTH_FAILURE_LIMIT = 30  # failed authentications per minute and address; the var overrides
WINDOW_S = 60
BLOCKED = "api-blocked:"  # KV key of a blocked address (until it expires)


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
    """``/api/*``: authentication, behind a per-address limit on failed attempts."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        env = scope["env"]
        limit = int(getattr(env, "AUTH_FAILURE_LIMIT", AUTH_FAILURE_LIMIT))
        kv = getattr(env, "KV", None) if limit > 0 else None  # 0 turns the guard off
        address = client_ip(request)
        if kv is not None and (wait := await _blocked(kv, address)):
            await _too_many(wait)(scope, receive, send)
            return
        try:
            await require_user(request)  # the identity is cached on the scope for the handler
        except AuthError as exc:
            response: Response = exc.response()
            if kv is not None and exc.status_code == 401:
                verdict = await consume(kv, f"api-auth:{address}", window=WINDOW_S, limit=limit)
                if not verdict.allowed:
                    ttl = max(KV_MIN_TTL, verdict.retry_after)
                    await kv.put(f"{BLOCKED}{address}:", "1", expirationTtl=ttl)
                    response = _too_many(ttl)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _blocked(kv: Any, address: str) -> int:
    """Seconds the address stays blocked (0: not blocked). ``list`` reads the backend, not a
    per-process cache, so a block set by another process counts at once."""
    listed = await kv.list(prefix=f"{BLOCKED}{address}:", limit=1)
    if not listed["keys"]:
        return 0
    expiration = listed["keys"][0].get("expiration")
    return max(1, int(expiration - now_ms() / 1000)) if expiration else KV_MIN_TTL


def _too_many(seconds: int) -> Response:
    return json_error(429, "Too many failed authentications", {"Retry-After": str(seconds)})
