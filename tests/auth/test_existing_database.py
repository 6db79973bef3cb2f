"""An existing Better Auth database keeps working: Drizzle-made rows with epoch-second dates
(seed 003's schema) and a password hash written by better-auth itself."""

from __future__ import annotations

from bindings.testing import require_service
from tests.auth.conftest import node, node_ready

# seed 003's Drizzle schema: camelCase columns, dates as integer seconds, no admin fields.
DRIZZLE_SCHEMA = [
    'CREATE TABLE "user" ("id" text PRIMARY KEY, "name" text NOT NULL, '
    '"email" text NOT NULL UNIQUE, "emailVerified" integer NOT NULL DEFAULT 0, "image" text, '
    '"createdAt" integer NOT NULL, "updatedAt" integer NOT NULL, "role" text, '
    '"banned" integer, "banReason" text, "banExpires" integer)',
    'CREATE TABLE "session" ("id" text PRIMARY KEY, "expiresAt" integer NOT NULL, '
    '"token" text NOT NULL UNIQUE, "createdAt" integer NOT NULL, "updatedAt" integer NOT NULL, '
    '"ipAddress" text, "userAgent" text, '
    '"userId" text NOT NULL REFERENCES "user"("id") ON DELETE CASCADE, "impersonatedBy" text)',
    'CREATE TABLE "account" ("id" text PRIMARY KEY, "accountId" text NOT NULL, '
    '"providerId" text NOT NULL, '
    '"userId" text NOT NULL REFERENCES "user"("id") ON DELETE CASCADE, "accessToken" text, '
    '"refreshToken" text, "idToken" text, "accessTokenExpiresAt" integer, '
    '"refreshTokenExpiresAt" integer, "scope" text, "password" text, '
    '"createdAt" integer NOT NULL, "updatedAt" integer NOT NULL)',
]


async def test_drizzle_database_with_a_better_auth_hash(hearth, tmp_path):
    require_service("node + tests/auth/js/node_modules", node_ready(), "npm ci in tests/auth/js")
    from tests.auth.conftest import Auth, migrate, write_config

    h = await hearth(write_config(tmp_path / "config", vars={"AUTH_RATE_LIMIT": "false"}))
    db = h.env("auth").DB
    await db.batch([db.prepare(sql) for sql in DRIZZLE_SCHEMA])
    await (
        db.prepare('INSERT INTO "user" VALUES (?, ?, ?, 0, NULL, ?, ?, ?, NULL, NULL, NULL)')
        .bind("u" * 32, "Old", "old@example.com", 1_700_000_000, 1_700_000_000, "admin")
        .run()
    )
    await db.prepare(
        'INSERT INTO "account" ("id", "accountId", "providerId", "userId", "password", '
        '"createdAt", "updatedAt") VALUES (?, ?, \'credential\', ?, ?, ?, ?)'
    ).bind(
        "a" * 32, "u" * 32, "u" * 32, node("crypto-check.mjs", "hash", "old-password"),
        1_700_000_000, 1_700_000_000,
    ).run()  # fmt: skip
    await migrate(db)  # "create table if not exists": adopting an existing database is harmless
    a = Auth(h)
    response, cookie = await a.sign_in("old@example.com", "old-password")
    assert response.json()["user"]["createdAt"] == "2023-11-14T22:13:20.000Z"
    row = await db.prepare('SELECT "createdAt", "expiresAt" FROM "session"').first()
    assert isinstance(row["createdAt"], int) and row["createdAt"] < 10**11  # seconds, as Drizzle
    session = await a.get("/api/auth/get-session", cookie=cookie)
    assert session.json()["user"]["role"] == "admin"
