"""Shop customers (seed 000): ``POST /auth/register``, ``/auth/login``, ``/auth/refresh``.

They share the Better Auth user tables (a customer is a ``user`` with a credential account) but
authenticate API calls with short-lived HS256 access tokens and rotating refresh tokens.

Registration never says whether an email was already taken: it answers ``202 {"status":
"accepted"}`` either way, after the same password hashing, and creates the account only for a
new email. The customer then signs in with ``/auth/login``; a taken email simply fails there
with the same "Invalid email or password" as any wrong password.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from workers.auth.accounts import (
    Banned,
    InvalidCredentials,
    authenticate,
    lift_expired_ban,
)
from workers.auth.crypto import hash_password
from workers.auth.errors import MESSAGES, HTTPError
from workers.auth.settings import (
    DEFAULT_ROLE,
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    settings,
)
from workers.auth.store import Store, user_json
from workers.auth.tokens import ACCESS_TOKEN_TTL, RefreshTokens, issue_access_token
from workers.auth.validation import EMAIL, json_object, require_str

INVALID_CREDENTIALS = "Invalid email or password"


def _email(body: dict[str, Any]) -> str:
    email = require_str(body, "email", max_length=254).strip().lower()
    if not EMAIL.match(email):
        raise HTTPError(400, "email is not a valid address")
    return email


def _password(body: dict[str, Any], *, new: bool) -> str:
    password = require_str(body, "password", max_length=10_000)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise HTTPError(400, f"password must be at most {MAX_PASSWORD_LENGTH} characters")
    if new and len(password) < MIN_PASSWORD_LENGTH:
        raise HTTPError(400, f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    return password


async def _tokens(
    request: Request, store: Store, user: dict[str, Any], refresh: str | None = None
) -> Response:
    config = settings(request.scope["env"])
    refresh = refresh or await RefreshTokens(store).issue(user["id"])
    return JSONResponse(
        {
            "accessToken": issue_access_token(config, user),
            "tokenType": "Bearer",
            "expiresIn": ACCESS_TOKEN_TTL,
            "refreshToken": refresh,
            "user": user_json(user),
        },
        headers={"cache-control": "no-store"},
    )


async def register(request: Request) -> Response:
    """``POST /auth/register`` ``{email, password, name?}`` → 202, whether or not it was new."""
    body = await json_object(request)
    email, password = _email(body), _password(body, new=True)
    name = body.get("name", email.partition("@")[0])
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise HTTPError(400, "name must be a string of 1 to 100 characters")
    store = Store(request.scope["env"].DB)
    password_hash = await hash_password(password)
    if await store.user_by_email(email) is None:
        try:
            await store.create_user(
                email=email, name=name.strip(), role=DEFAULT_ROLE, password_hash=password_hash
            )
        except Exception as exc:  # a concurrent registration won the UNIQUE(email) race
            if "UNIQUE" not in str(exc):
                raise
    return JSONResponse({"status": "accepted"}, status_code=202)


async def login(request: Request) -> Response:
    """``POST /auth/login`` ``{email, password}`` → access and refresh tokens."""
    body = await json_object(request)
    email, password = _email(body), _password(body, new=False)
    store = Store(request.scope["env"].DB)
    try:
        user = await authenticate(store, email, password)
        user = await lift_expired_ban(store, user)
    except InvalidCredentials:
        raise HTTPError(401, INVALID_CREDENTIALS) from None
    except Banned:
        raise HTTPError(403, MESSAGES["BANNED_USER"]) from None
    return await _tokens(request, store, user)


async def refresh(request: Request) -> Response:
    """``POST /auth/refresh`` ``{refreshToken}`` → new tokens; a replay revokes its family."""
    body = await json_object(request)
    token = require_str(body, "refreshToken", max_length=200)
    store = Store(request.scope["env"].DB)
    rotation = await RefreshTokens(store).rotate(token)
    if rotation.reused:
        raise HTTPError(401, "Refresh token reuse detected: this login has been revoked")
    if rotation.user_id is None or rotation.token is None:
        raise HTTPError(401, "Invalid or expired refresh token")
    user = await store.user_by_id(rotation.user_id)
    if user is None:
        raise HTTPError(401, "Invalid or expired refresh token")
    try:
        user = await lift_expired_ban(store, user)
    except Banned:
        await RefreshTokens(store).revoke_user(user["id"])
        raise HTTPError(403, MESSAGES["BANNED_USER"]) from None
    return await _tokens(request, store, user, refresh=rotation.token)
