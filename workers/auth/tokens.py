"""Shop customers' tokens: HS256 access JWTs (15 minutes) and rotating refresh tokens in D1.

Access tokens are signed with ``JWT_SECRET`` and always verified with PyJWT (algorithm pinned,
``exp``/``iat``/``sub`` required); expiry is checked against the runtime's clock so tests can
pin it. Refresh tokens are opaque, stored only as SHA-256, and single-use: each refresh returns
a new one of the same *family*; presenting a rotated token again revokes the whole family (a
stolen token and its legitimate twin both stop working).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workers.auth.crypto import generate_id, sha256_hex
from workers.auth.dates import now, now_ms, parse_ms
from workers.auth.settings import Settings
from workers.auth.store import Store

ACCESS_TOKEN_TTL = 15 * 60
REFRESH_TOKEN_TTL = 30 * 24 * 3600
JWT_ALGORITHM = "HS256"
JWT_ISSUER = "hearth-auth"
REFRESH_TOKEN_LENGTH = 48


def issue_access_token(settings: Settings, user: dict[str, Any]) -> str:
    """A signed access token for ``user`` (a user row)."""
    issued = int(now())
    claims = {
        "iss": JWT_ISSUER,
        "sub": user["id"],
        "email": user["email"],
        "name": user["name"],
        "role": user.get("role") or "",
        "iat": issued,
        "exp": issued + ACCESS_TOKEN_TTL,
        "jti": generate_id(16),
        "typ": "access",
    }
    import jwt  # PyJWT pulls in cryptography (~80 ms): imported on first use, not at startup

    return jwt.encode(claims, settings.jwt_secret, algorithm=JWT_ALGORITHM)


def verify_access_token(settings: Settings, token: str) -> dict[str, Any] | None:
    """The claims of a valid, unexpired access token; None for anything else."""
    import jwt

    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=[JWT_ALGORITHM],
            issuer=JWT_ISSUER,
            options={"require": ["exp", "iat", "sub"], "verify_exp": False, "verify_iat": False},
        )
    except jwt.PyJWTError:
        return None
    exp = claims.get("exp")
    if claims.get("typ") != "access" or not isinstance(exp, int) or exp <= now():
        return None
    return claims


@dataclass(frozen=True)
class Rotation:
    """The result of presenting a refresh token."""

    user_id: str | None = None
    token: str | None = None
    reused: bool = False


class RefreshTokens:
    """Refresh tokens of one database: issue, rotate, revoke."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db

    async def issue(self, user_id: str, family: str | None = None) -> str:
        token = generate_id(REFRESH_TOKEN_LENGTH)
        created = now_ms()
        await (
            self.db.prepare(
                'INSERT INTO "refresh_token" ("id", "family", "tokenHash", "userId", "expiresAt", '
                '"createdAt") VALUES (?, ?, ?, ?, ?, ?)'
            )
            .bind(
                generate_id(),
                family or generate_id(),
                sha256_hex(token),
                user_id,
                await self.store.date(created + REFRESH_TOKEN_TTL * 1000),
                await self.store.date(created),
            )
            .run()
        )
        return token

    async def rotate(self, token: str) -> Rotation:
        """Spend ``token`` and return its successor; a replayed token revokes its family."""
        row = (
            await self.db.prepare(
                'SELECT "id", "family", "userId", "expiresAt", "usedAt", "revokedAt" '
                'FROM "refresh_token" WHERE "tokenHash" = ?'
            )
            .bind(sha256_hex(token))
            .first()
        )
        if row is None or row["revokedAt"] is not None:
            return Rotation()
        if row["usedAt"] is not None:
            await self.revoke_family(row["family"])
            return Rotation(reused=True)

        current = now_ms()
        if (parse_ms(row["expiresAt"]) or 0) <= current:
            return Rotation()
        spent = (
            await self.db.prepare(
                'UPDATE "refresh_token" SET "usedAt" = ? WHERE "id" = ? AND "usedAt" IS NULL '
                'AND "revokedAt" IS NULL'
            )
            .bind(await self.store.date(current), row["id"])
            .run()
        )
        if spent["meta"]["changes"] != 1:  # spent concurrently: the same token used twice
            await self.revoke_family(row["family"])
            return Rotation(reused=True)
        return Rotation(row["userId"], await self.issue(row["userId"], row["family"]))

    async def revoke_family(self, family: str) -> None:
        await self._revoke("family", family)

    async def revoke_user(self, user_id: str) -> None:
        """Revoke every refresh token of a user (ban, password change)."""
        await self._revoke("userId", user_id)

    async def _revoke(self, column: str, value: str) -> None:
        await self.db.prepare(_REVOKE[column]).bind(await self.store.date(now_ms()), value).run()


_REVOKE = {
    column: f'UPDATE "refresh_token" SET "revokedAt" = ? WHERE "{column}" = ? '  # noqa: S608
    'AND "revokedAt" IS NULL'
    for column in ("family", "userId")
}
