"""Better Auth's session endpoints: sign-in, sign-out, get-session, list and revoke sessions."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from workers.auth.accounts import InvalidCredentials, authenticate
from workers.auth.context import AuthContext
from workers.auth.cookies import serialize
from workers.auth.dates import now_ms, parse_ms
from workers.auth.errors import api_error
from workers.auth.settings import (
    MAX_PASSWORD_LENGTH,
    SESSION_EXPIRES_IN,
    SESSION_FRESH_AGE,
    SESSION_UPDATE_AGE,
)
from workers.auth.store import session_json, user_json
from workers.auth.validation import (
    BOOLEAN,
    EMAIL,
    STRING,
    Field,
    validate,
)

SIGN_IN_FIELDS = (
    Field("email", STRING),
    Field("password", STRING),
    Field("callbackURL", STRING, required=False),
    Field("rememberMe", BOOLEAN, required=False),
)


async def sign_in_email(ctx: AuthContext, body: Any) -> Response:
    """``POST /sign-in/email``: a session for a correct email and password."""
    body = validate(body, SIGN_IN_FIELDS)
    email, password = body["email"], body["password"]
    if not EMAIL.match(email):
        raise api_error(400, "INVALID_EMAIL")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise api_error(400, "PASSWORD_TOO_LONG")
    try:
        user = await authenticate(ctx.store, email, password)
    except InvalidCredentials:
        raise api_error(401, "INVALID_EMAIL_OR_PASSWORD") from None
    dont_remember = body.get("rememberMe") is False
    session = await ctx.start_session(user, dont_remember=dont_remember)
    callback = body.get("callbackURL")
    out: dict[str, Any] = {"redirect": bool(callback), "token": session["token"]}
    if callback:
        out["url"] = callback
    out["user"] = user_json(user)
    return ctx.json(out, headers={"location": callback} if callback else None)


async def sign_out(ctx: AuthContext, body: Any) -> Response:
    """``POST /sign-out``: delete the session (if any) and expire the cookies."""
    token = ctx.session_token()
    if token is not None:
        await ctx.store.delete_session(token)
    ctx.clear_session_cookies()
    return ctx.json({"success": True})


NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}


async def get_session(ctx: AuthContext, body: Any) -> Response:
    """``GET /get-session``: the session and user, or ``null``; refreshes an ageing session."""
    if ctx.request.method == "POST":
        raise api_error(405, "METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED")
    settings = ctx.settings
    if settings.cookie("session_data") in ctx.cookies:
        ctx.set_cookies.append(_expire(ctx, "session_data"))  # no cookie cache here: clean it
    token = ctx.session_token()
    if token is None:
        return ctx.json(None, headers=NO_STORE)
    found = await ctx.store.session_with_user(token)
    now = now_ms()
    expires = parse_ms(found.session["expiresAt"]) if found else None
    if found is None or expires is None or expires < now:
        ctx.clear_session_cookies()
        if found is not None:
            await ctx.store.delete_session(token)
        return ctx.json(None, headers=NO_STORE)
    session = found.session
    query = ctx.request.query_params
    skip = ctx.dont_remember or _truthy(query.get("disableRefresh"))
    if not skip and expires - SESSION_EXPIRES_IN * 1000 + SESSION_UPDATE_AGE * 1000 <= now:
        refreshed = await ctx.store.refresh_session(token, now + SESSION_EXPIRES_IN * 1000)
        if refreshed is None:  # deleted concurrently
            ctx.clear_session_cookies()
            raise api_error(401, "FAILED_TO_GET_SESSION")
        session = refreshed
        ctx.set_session_cookie(token)
    return ctx.json(
        {"session": session_json(session), "user": user_json(found.user)}, headers=NO_STORE
    )


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1", "")


def _expire(ctx: AuthContext, name: str) -> str:
    return serialize(ctx.settings, name, "", 0)


async def list_sessions(ctx: AuthContext, body: Any) -> Response:
    """``GET /list-sessions``: the user's live sessions; needs a fresh session."""
    found = await ctx.require_session()
    created = parse_ms(found.session["createdAt"]) or 0
    if SESSION_FRESH_AGE and now_ms() - created >= SESSION_FRESH_AGE * 1000:
        raise api_error(403, "SESSION_NOT_FRESH")
    rows = await ctx.store.active_sessions(found.user["id"])
    return ctx.json([session_json(r) for r in rows if not r.get("impersonatedBy")])


async def revoke_session(ctx: AuthContext, body: Any) -> Response:
    """``POST /revoke-session``: delete one of the user's own sessions by token."""
    found = await ctx.require_session()
    body = validate(body, (Field("token", STRING),))
    token = body["token"]
    target = await ctx.store.session_by_token(token)
    if target is not None and target["userId"] == found.user["id"]:
        await ctx.store.delete_session(token)
    if token == found.session["token"]:
        ctx.clear_session_cookies()
    return ctx.json({"status": True})


async def revoke_sessions(ctx: AuthContext, body: Any) -> Response:
    """``POST /revoke-sessions``: delete every session of the user."""
    found = await ctx.require_session()
    await ctx.store.delete_user_sessions(found.user["id"])
    ctx.clear_session_cookies()
    return ctx.json({"status": True})


async def revoke_other_sessions(ctx: AuthContext, body: Any) -> Response:
    """``POST /revoke-other-sessions``: keep only the current session."""
    found = await ctx.require_session()
    await ctx.store.delete_user_sessions(found.user["id"], except_token=found.session["token"])
    return ctx.json({"status": True})
