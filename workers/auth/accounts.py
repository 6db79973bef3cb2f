"""Credential checks shared by every way of signing in (Better Auth API, /auth/login, /login).

An unknown email and a wrong password cost the same (one scrypt either way: Better Auth hashes
the password it was given when there is no user) and end in the same ``InvalidCredentials``.
"""

from __future__ import annotations

from typing import Any

from workers.auth.crypto import hash_password, verify_password
from workers.auth.dates import now_ms, parse_ms
from workers.auth.errors import api_error
from workers.auth.settings import ADMIN_ROLES
from workers.auth.store import Store


class InvalidCredentials(Exception):
    """Unknown email, no password set, or wrong password: deliberately indistinguishable."""


class Banned(Exception):
    """The user is banned (and the ban has not expired)."""


async def authenticate(store: Store, email: str, password: str) -> dict[str, Any]:
    """The user row for ``email``/``password``; InvalidCredentials otherwise."""
    user, stored = await store.user_with_password(email)
    if user is None or not stored:
        await hash_password(password)  # same work as a real check: no timing difference
        raise InvalidCredentials
    if not await verify_password(stored, password):
        raise InvalidCredentials
    return user


async def lift_expired_ban(store: Store, user: dict[str, Any]) -> dict[str, Any]:
    """Raise Banned for a banned user; clear a ban whose ``banExpires`` has passed."""
    if not user.get("banned"):
        return user
    expires = parse_ms(user.get("banExpires"))
    if expires is not None and expires < now_ms():
        updated = await store.update_user(
            user["id"], {"banned": False, "banReason": None, "banExpires": None}
        )
        return updated or user
    raise Banned


def banned_error() -> Exception:
    """Better Auth's 403 for a banned user's sign-in."""
    return api_error(403, "BANNED_USER")


def is_admin(user: dict[str, Any]) -> bool:
    """Whether any of the user's comma-joined roles is an admin role."""
    return any(r.strip() in ADMIN_ROLES for r in (user.get("role") or "").split(","))


async def create_account(
    store: Store,
    *,
    email: str,
    name: str,
    password: str | None,
    role: str,
    image: str | None = None,
) -> dict[str, Any]:
    """Create a user (admin-only path): Better Auth's checks and error codes, then the rows."""
    from workers.auth.settings import MAX_PASSWORD_LENGTH
    from workers.auth.validation import EMAIL

    email = email.strip().lower()
    if not EMAIL.match(email):
        raise api_error(400, "INVALID_EMAIL")
    if password and len(password) > MAX_PASSWORD_LENGTH:
        raise api_error(400, "PASSWORD_TOO_LONG")
    if await store.user_by_email(email) is not None:
        raise api_error(400, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL")
    password_hash = await hash_password(password) if password else None
    return await store.create_user(
        email=email, name=name, role=role, password_hash=password_hash, image=image
    )


async def ban(
    store: Store, user_id: str, *, reason: str | None, expires_in: float | None
) -> dict[str, Any] | None:
    """Ban a user: flag the row, end every session, revoke every refresh token."""
    from workers.auth.tokens import RefreshTokens

    user = await store.update_user(
        user_id,
        {
            "banned": True,
            "banReason": reason or "No reason",
            "banExpires": now_ms() + int(expires_in * 1000) if expires_in else None,
        },
    )
    await store.delete_user_sessions(user_id)
    await RefreshTokens(store).revoke_user(user_id)
    return user


async def unban(store: Store, user_id: str) -> dict[str, Any] | None:
    return await store.update_user(
        user_id, {"banned": False, "banReason": None, "banExpires": None}
    )
