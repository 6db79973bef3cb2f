"""``Registry``: the user directory (the seed's SessionManager), one object for everyone.

It holds every user's name, keys and dates in one SQL table, and the per-address rate limits
of registering and connecting. One object makes names unique for free (its storage calls
never yield, so check-then-insert is atomic); each call is a few microseconds of SQLite, far
below what one process relays. Messages never pass through it: the worker asks it whether a
name exists and for a user's key, and each user's ``Inbox`` does the rest.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from workers import DurableObject
from workers.messaging.keys import InvalidKey, PublicKey, parse_encryption_key, parse_public_key
from workers.messaging.protocol import USERNAME_RULE, b64encode, valid_username
from workers.messaging.ratelimit import Windows

NAME = "global"  # the one registry object: env.REGISTRY.getByName(NAME)
REGISTRATIONS_PER_HOUR = 10  # per client address, unless the REGISTRATIONS_PER_HOUR var says
CONNECTIONS_PER_MINUTE = 60  # WebSocket upgrades per client address (CONNECTIONS_PER_MINUTE)

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY,
    key_type TEXT NOT NULL,
    public_key BLOB NOT NULL,
    encryption_key BLOB,
    registered_at INTEGER NOT NULL,
    last_seen INTEGER NOT NULL
)
"""


def setting(env: Any, name: str, default: int) -> int:
    """An integer var of the worker, or ``default``."""
    return int(getattr(env, name, default))


class Registry(DurableObject):
    """Users and their keys; rate limits per client address."""

    clock = staticmethod(time.time)  # tests pin it

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.sql = ctx.storage.sql
        self.sql.exec(SCHEMA)
        self.windows = Windows(self.sql)

    def _now(self) -> int:
        return int(self.clock() * 1000)

    def register(
        self, ip: str, username: object, public_key: object, encryption_key: object
    ) -> dict[str, Any]:
        """``POST /api/register``: ``{"status", "body"}``, and ``retryAfter`` on a 429."""
        now = self._now()
        limit = setting(self.env, "REGISTRATIONS_PER_HOUR", REGISTRATIONS_PER_HOUR)
        wait = self.windows.admit(f"register:{ip}", limit, 3_600_000, now)
        if wait:
            error = "Too many registrations from this address; try again later"
            return {"status": 429, "body": {"error": error}, "retryAfter": wait}
        if not valid_username(username):
            return {"status": 400, "body": {"error": USERNAME_RULE}}
        try:
            key = parse_public_key(public_key)
            agreement = None if encryption_key is None else parse_encryption_key(encryption_key)
        except InvalidKey as exc:
            return {"status": 400, "body": {"error": str(exc)}}
        if self._row(username) is not None:
            return {"status": 409, "body": {"error": "User already exists"}}
        self.sql.exec(
            "INSERT INTO users (username, key_type, public_key, encryption_key, registered_at,"
            " last_seen) VALUES (?, ?, ?, ?, ?, ?)",
            username, key.kind, key.data, agreement, now, now,
        )  # fmt: skip
        record = self.lookup(username)
        return {"status": 201, "body": {"success": True, "user": record}}

    def lookup(self, username: str) -> dict[str, Any] | None:
        """``GET /api/users?username=``: the public record, or None."""
        row = self._row(username)
        if row is None:
            return None
        return {
            "username": row.username,
            "publicKey": b64encode(row.public_key),
            "keyType": row.key_type,
            "encryptionKey": None if row.encryption_key is None else b64encode(row.encryption_key),
            "registeredAt": _iso(row.registered_at),
            "lastSeen": _iso(row.last_seen),
        }

    def signingKey(self, username: str) -> dict[str, Any] | None:
        """The key ``username`` authenticates with (``kind``, ``data``), or None."""
        row = self._row(username)
        return None if row is None else {"kind": row.key_type, "data": row.public_key}

    def exists(self, username: str) -> bool:
        return self._row(username) is not None

    def admitConnection(self, ip: str, username: str) -> str:
        """May ``ip`` open a socket for ``username`` now: "ok", "rate_limited" or "unknown"."""
        limit = setting(self.env, "CONNECTIONS_PER_MINUTE", CONNECTIONS_PER_MINUTE)
        if self.windows.admit(f"connect:{ip}", limit, 60_000, self._now()):
            return "rate_limited"
        return "ok" if self.exists(username) else "unknown"

    def seen(self, username: str) -> None:
        """Note that ``username`` was just online (``lastSeen``)."""
        self.sql.exec("UPDATE users SET last_seen = ? WHERE username = ?", self._now(), username)

    def _row(self, username: str) -> Any:
        rows = self.sql.exec("SELECT * FROM users WHERE username = ?", username).toArray()
        return rows[0] if rows else None


def signing_key(record: dict[str, Any]) -> PublicKey:
    """The ``PublicKey`` of a ``Registry.signingKey`` answer."""
    return PublicKey(record["kind"], bytes(record["data"]))


def _iso(ms: int) -> str:
    """JavaScript's ``Date.toISOString()``: UTC, milliseconds, ``Z``."""
    moment = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
