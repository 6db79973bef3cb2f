"""API keys in Better Auth's api-key plugin format (table ``apikey``), with scopes and a
per-key requests-per-minute limit counted in KV.

The secret (optional prefix + 64 letters) is shown once, at creation; the table keeps its
unpadded base64url SHA-256 (the plugin's ``defaultKeyHasher``) and its first 6 characters
(``start``) so a UI can tell keys apart. Scopes are the plugin's ``permissions`` map
(``{"products": ["read", "write"]}``), flattened to ``"products:read"`` strings; a key without
permissions may do whatever its user may (``["*"]``, as seed 002's keys).
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping
from typing import Any

from workers.auth.crypto import generate_id, sha256_b64url
from workers.auth.dates import now_ms, parse_ms, to_iso
from workers.auth.ratelimit import Verdict, consume
from workers.auth.store import Store

KEY_LENGTH = 64
KEY_ALPHABET = string.ascii_letters
START_LENGTH = 6
RATE_LIMIT_WINDOW_MS = 60_000  # per-key limits are requests per minute
DEFAULT_RATE_LIMIT = 100
MAX_RATE_LIMIT = 1000
ALL_SCOPES = ("*",)

COLUMNS = (
    "id", "configId", "name", "start", "referenceId", "prefix", "key", "refillInterval",
    "refillAmount", "lastRefillAt", "enabled", "rateLimitEnabled", "rateLimitTimeWindow",
    "rateLimitMax", "requestCount", "remaining", "lastRequest", "expiresAt", "createdAt",
    "updatedAt", "permissions", "metadata",
)  # fmt: skip
_SELECT = ", ".join(f'"{c}"' for c in COLUMNS)
_DATES = ("lastRefillAt", "lastRequest", "expiresAt", "createdAt", "updatedAt")


def scopes_of(permissions: Mapping[str, list[str]] | None) -> tuple[str, ...]:
    """``{"products": ["read"]}`` → ``("products:read",)``; no permissions → ``("*",)``."""
    if not permissions:
        return ALL_SCOPES
    return tuple(
        f"{resource}:{action}" for resource, acts in permissions.items() for action in acts
    )


def key_json(row: Mapping[str, Any], *, secret: str | None = None) -> dict[str, Any]:
    """A key row as the plugin's JSON (``key`` only at creation, never the stored hash)."""
    out: dict[str, Any] = {}
    for column in COLUMNS:
        value = row.get(column)
        if column == "key":
            if secret is None:
                continue
            value = secret
        elif column in _DATES:
            value = to_iso(value)
        elif column in ("enabled", "rateLimitEnabled"):
            value = bool(value)
        elif column in ("permissions", "metadata"):
            value = json.loads(value) if value else None
        out[column] = value
    return out


class ApiKeys:
    """The API keys of one database."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db

    async def create(
        self,
        user_id: str,
        *,
        name: str | None,
        prefix: str | None,
        expires_in: int | None,
        permissions: Mapping[str, list[str]] | None,
        metadata: Mapping[str, Any] | None,
        rate_limit: int,
    ) -> tuple[dict[str, Any], str]:
        """Store a new key; returns its row and the secret (shown to the user once)."""
        secret = (prefix or "") + generate_id(KEY_LENGTH, KEY_ALPHABET)
        created = now_ms()
        date = self.store.date
        row: dict[str, Any] = {
            "id": generate_id(), "configId": "default", "name": name,
            "start": secret[:START_LENGTH], "referenceId": user_id, "prefix": prefix,
            "key": sha256_b64url(secret), "refillInterval": None, "refillAmount": None,
            "lastRefillAt": None, "enabled": 1, "rateLimitEnabled": 1,
            "rateLimitTimeWindow": RATE_LIMIT_WINDOW_MS, "rateLimitMax": rate_limit,
            "requestCount": 0, "remaining": None, "lastRequest": None,
            "expiresAt": await date(created + expires_in * 1000) if expires_in else None,
            "createdAt": await date(created), "updatedAt": await date(created),
            "permissions": json.dumps(permissions) if permissions else None,
            "metadata": json.dumps(metadata) if metadata is not None else None,
        }  # fmt: skip
        await (
            self.db.prepare(
                f'INSERT INTO "apikey" ({_SELECT}) VALUES ({", ".join("?" * len(COLUMNS))})'
            )
            .bind(*(row[c] for c in COLUMNS))
            .run()
        )
        return row, secret

    async def list(self, user_id: str) -> list[dict[str, Any]]:
        rows = (
            await self.db.prepare(
                f'SELECT {_SELECT} FROM "apikey" WHERE "referenceId" = ? ORDER BY rowid'
            )
            .bind(user_id)
            .all()
        )
        return list(rows.results)

    async def get(self, key_id: str, user_id: str) -> dict[str, Any] | None:
        sql = f'SELECT {_SELECT} FROM "apikey" WHERE "id" = ? AND "referenceId" = ?'
        return await self.db.prepare(sql).bind(key_id, user_id).first()  # type: ignore[no-any-return]

    async def delete(self, key_id: str, user_id: str) -> bool:
        result = (
            await self.db.prepare('DELETE FROM "apikey" WHERE "id" = ? AND "referenceId" = ?')
            .bind(key_id, user_id)
            .run()
        )
        return bool(result["meta"]["changes"])

    async def verify(self, secret: str) -> dict[str, Any] | None:
        """The enabled, unexpired key row for ``secret``, or None."""
        sql = f'SELECT {_SELECT} FROM "apikey" WHERE "key" = ?'
        row = await self.db.prepare(sql).bind(sha256_b64url(secret)).first()
        if row is None or not row["enabled"]:
            return None
        expires = parse_ms(row["expiresAt"])
        if expires is not None and expires <= now_ms():
            return None
        return row  # type: ignore[no-any-return]

    async def touch(self, key_id: str) -> None:
        """Record a use (``lastRequest``, ``requestCount``); run through waitUntil."""
        await (
            self.db.prepare(
                'UPDATE "apikey" SET "lastRequest" = ?, '
                '"requestCount" = coalesce("requestCount", 0) + 1 '
                'WHERE "id" = ?'
            )
            .bind(await self.store.date(now_ms()), key_id)
            .run()
        )


async def check_rate(kv: Any, row: Mapping[str, Any]) -> Verdict:
    """Count one request against the key's limit (requests per ``rateLimitTimeWindow``)."""
    if not row.get("rateLimitEnabled") or not row.get("rateLimitMax"):
        return Verdict(True)
    window = (row.get("rateLimitTimeWindow") or RATE_LIMIT_WINDOW_MS) / 1000
    return await consume(kv, f"apikey:{row['id']}", window=window, limit=int(row["rateLimitMax"]))
