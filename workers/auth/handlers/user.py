"""Better Auth's user endpoints: (refused) sign-up, update-user and change-password."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from workers.auth.context import AuthContext
from workers.auth.crypto import hash_password, verify_password
from workers.auth.errors import APIError, api_error
from workers.auth.settings import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from workers.auth.store import user_json
from workers.auth.tokens import RefreshTokens
from workers.auth.validation import (
    BOOLEAN,
    STRING,
    Field,
    email_check,
    nonempty_string,
    nullable,
    validate,
)

SIGN_UP_FIELDS = (
    Field("name", STRING),
    Field("email", email_check),
    Field("password", nonempty_string),
    Field("image", STRING, required=False),
    Field("callbackURL", STRING, required=False),
    Field("rememberMe", BOOLEAN, required=False),
)
# The admin plugin's fields: never settable through update-user.
PROTECTED_FIELDS = ("role", "banned", "banReason", "banExpires")


async def sign_up_email(ctx: AuthContext, body: Any) -> Response:
    """``POST /sign-up/email``: users are created by admins only, so always refused
    (after the body schema, as Better Auth checks it first)."""
    validate(body, SIGN_UP_FIELDS)
    raise api_error(400, "EMAIL_PASSWORD_SIGN_UP_DISABLED")


def check_password_length(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise api_error(400, "PASSWORD_TOO_SHORT")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise api_error(400, "PASSWORD_TOO_LONG")


async def update_user(ctx: AuthContext, body: Any) -> Response:
    """``POST /update-user``: change name and image; re-issues the session cookie."""
    found = await ctx.require_session()
    if not isinstance(body, dict):
        raise api_error(400, "BODY_MUST_BE_AN_OBJECT")
    validate(body, (Field("name", STRING, False), Field("image", nullable(STRING), False)))
    if body.get("email"):
        raise api_error(400, "EMAIL_CAN_NOT_BE_UPDATED")
    for key in PROTECTED_FIELDS:
        if body.get(key):
            raise APIError(400, f"{key} is not allowed to be set", "FIELD_NOT_ALLOWED")
    fields = {k: body[k] for k in ("name", "image") if k in body}
    if not fields:
        raise APIError(400, "No fields to update")
    await ctx.store.update_user(found.user["id"], fields)
    ctx.set_session_cookie(found.session["token"], dont_remember=ctx.dont_remember)
    return ctx.json({"status": True})


CHANGE_PASSWORD_FIELDS = (
    Field("newPassword", STRING),
    Field("currentPassword", STRING),
    Field("revokeOtherSessions", BOOLEAN, required=False),
)


async def change_password(ctx: AuthContext, body: Any) -> Response:
    """``POST /change-password``: check the current password, store the new hash."""
    found = await ctx.require_session()
    body = validate(body, CHANGE_PASSWORD_FIELDS)
    new, current = body["newPassword"], body["currentPassword"]
    check_password_length(new)
    if len(current) > MAX_PASSWORD_LENGTH:
        raise api_error(400, "PASSWORD_TOO_LONG")
    user = found.user
    account = await ctx.store.credential_account(user["id"])
    if account is None or not account["password"]:
        raise api_error(400, "CREDENTIAL_ACCOUNT_NOT_FOUND")
    new_hash = await hash_password(new)
    if not await verify_password(account["password"], current):
        raise api_error(400, "INVALID_PASSWORD")
    await ctx.store.set_password(account["id"], new_hash)
    token = None
    if body.get("revokeOtherSessions"):
        await ctx.store.delete_user_sessions(user["id"])
        await RefreshTokens(ctx.store).revoke_user(user["id"])  # customers' logins too
        session = await ctx.start_session(user, dont_remember=False)
        token = session["token"]
    return ctx.json({"token": token, "user": user_json(user)})
