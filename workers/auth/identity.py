"""Who is calling: one answer for session cookies, bearer session tokens, access JWTs and API
keys, shared by the auth worker's RPC method and the client module other workers import.

``identify(env, credentials)`` takes a plain dict of the relevant request parts (so it crosses
a service binding as a structured clone) and returns a plain dict:
``{"identity": {...}}``, ``{"identity": None}`` (anonymous or bad credentials), or
``{"error": {"status": 429, "message": ..., "retryAfter": s}}`` when an API key is over its limit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from workers import wait_until
from workers.auth.apikeys import ApiKeys, check_rate, scopes_of
from workers.auth.cookies import SESSION_TOKEN, parse_cookie_header, read_signed
from workers.auth.crypto import unsign
from workers.auth.dates import now_ms, parse_ms
from workers.auth.settings import Settings, settings
from workers.auth.store import Store
from workers.auth.tokens import verify_access_token

CREDENTIAL_HEADERS = ("cookie", "authorization", "x-api-key")
KV_BINDING = "AUTH_KV"
_SESSION_TOKEN = re.compile(r"^[A-Za-z0-9]{32}$")


@dataclass(frozen=True)
class Identity:
    """The caller: a user, how they proved it, their roles and (for API keys) their scopes."""

    user_id: str
    email: str
    name: str
    roles: tuple[str, ...]
    via: str  # "session" (cookie), "bearer" (session token), "jwt" or "api_key"
    scopes: tuple[str, ...] = ("*",)
    session_id: str | None = None
    api_key_id: str | None = None

    @property
    def role(self) -> str:
        """The roles as stored (comma-joined, Better Auth's format)."""
        return ",".join(self.roles)

    def has_role(self, *roles: str) -> bool:
        """Whether the caller holds any of ``roles``."""
        return any(r in self.roles for r in roles)

    def allows(self, scope: str) -> bool:
        """Whether the credential may be used for ``scope`` (``"products:write"``)."""
        resource = scope.partition(":")[0]
        return "*" in self.scopes or scope in self.scopes or f"{resource}:*" in self.scopes

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["roles"] = list(self.roles)
        out["scopes"] = list(self.scopes)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Identity:
        fields = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        fields["roles"] = tuple(data.get("roles", ()))
        fields["scopes"] = tuple(data.get("scopes", ("*",)))
        return cls(**fields)


def roles_of(role: str | None) -> tuple[str, ...]:
    return tuple(r.strip() for r in (role or "").split(",") if r.strip())


def _banned(user: Mapping[str, Any]) -> bool:
    if not user.get("banned"):
        return False
    expires = parse_ms(user.get("banExpires"))
    return expires is None or expires > now_ms()


def session_token(value: str, config: Settings) -> str | None:
    """A bearer value's session token: ``token.sig`` verified, a bare ``token`` accepted."""
    if "." in value:
        return unsign(config.secret, value)
    return value if _SESSION_TOKEN.match(value) else None


async def _from_session(store: Store, token: str, via: str) -> Identity | None:
    found = await store.session_with_user(token)
    if found is None:
        return None
    expires = parse_ms(found.session["expiresAt"])
    if expires is None or expires < now_ms() or _banned(found.user):
        return None
    user = found.user
    return Identity(
        user["id"], user["email"], user["name"], roles_of(user.get("role")), via,
        session_id=found.session["id"],
    )  # fmt: skip


async def _from_api_key(env: Any, store: Store, secret: str) -> dict[str, Any]:
    keys = ApiKeys(store)
    row = await keys.verify(secret)
    if row is None:
        return {"identity": None}
    user = await store.user_by_id(row["referenceId"])
    if user is None or _banned(user):
        return {"identity": None}
    kv = getattr(env, KV_BINDING, None)
    if kv is not None:
        verdict = await check_rate(kv, row)
        if not verdict.allowed:
            return {
                "error": {
                    "status": 429,
                    "message": "Rate limit exceeded.",
                    "retryAfter": verdict.retry_after,
                }
            }
    wait_until(keys.touch(row["id"]))
    permissions = json.loads(row["permissions"]) if row.get("permissions") else None
    identity = Identity(
        user["id"], user["email"], user["name"], roles_of(user.get("role")), "api_key",
        scopes=scopes_of(permissions), api_key_id=row["id"],
    )  # fmt: skip
    return {"identity": identity.to_dict()}


async def identify(env: Any, credentials: Mapping[str, Any]) -> dict[str, Any]:
    """Resolve ``credentials`` (``cookie``, ``authorization``, ``x-api-key``, ``token``)."""
    config = settings(env)
    store = Store(env.DB)
    api_key = credentials.get("x-api-key")
    if api_key:
        return await _from_api_key(env, store, str(api_key))
    bearer = None
    authorization = str(credentials.get("authorization") or "")
    if authorization[:7].lower() == "bearer ":
        bearer = authorization[7:].strip()
    bearer = bearer or (str(credentials.get("token") or "").strip() or None)
    identity: Identity | None = None
    if bearer:
        if bearer.count(".") == 2:
            claims = verify_access_token(config, bearer)
            if claims is None:
                return {"identity": None}
            identity = Identity(
                str(claims["sub"]), str(claims.get("email", "")), str(claims.get("name", "")),
                roles_of(claims.get("role")), "jwt",
            )  # fmt: skip
            return {"identity": identity.to_dict()}
        token = session_token(bearer, config)
        if token is not None:
            identity = await _from_session(store, token, "bearer")
            return {"identity": identity.to_dict() if identity else None}
        return await _from_api_key(env, store, bearer)
    cookies = parse_cookie_header(credentials.get("cookie"))
    token = read_signed(config, cookies, SESSION_TOKEN)
    if token is not None:
        identity = await _from_session(store, token, "session")
    return {"identity": identity.to_dict() if identity else None}
