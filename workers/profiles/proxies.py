"""A team's proxies. Credentials are stored for the launching client and never shown in full
anywhere else: a username as its first two characters and ``***``, a password not at all
(``hasPassword``), a proxy URL with both masked. Only ``launch`` hands them out whole, to the
client that then holds the profile's lock. Passwords are stored sealed (``credentials``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from workers.profiles import audit
from workers.profiles.credentials import PREFIX, Sealer
from workers.profiles.ids import new_id, now_ms

COLUMNS = ("name", "type", "host", "port", "username", "password")  # writable, by API name
_SELECT = "id, team_id, name, type, host, port, username, password, created_at, updated_at"
MASK = "***"


def mask(secret: str | None) -> str | None:
    """``"alice"`` → ``"al***"``; None stays None."""
    if secret is None:
        return None
    return secret[:2] + MASK if len(secret) > 4 else MASK


def mask_url(url: str) -> str:
    """A proxy URL with its credentials masked (``socks5://al***:***@host:1080``)."""
    if "@" not in url:
        return url
    parts = urlsplit(url)
    if parts.username is None:
        return url
    userinfo = mask(parts.username) or ""
    if parts.password is not None:
        userinfo += ":" + MASK
    netloc = f"{userinfo}@{parts.netloc.rpartition('@')[2]}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def proxy_json(row: dict[str, Any], *, reveal: bool = False) -> dict[str, Any]:
    """A proxy row as JSON; credentials masked unless ``reveal`` (launch only)."""
    out = {k: row[k] for k in ("id", "team_id", "name", "type", "host", "port")}
    if reveal:
        out["username"], out["password"] = row["username"], row["password"]
    else:
        out["username"], out["hasPassword"] = mask(row["username"]), row["password"] is not None
    out["created_at"], out["updated_at"] = row["created_at"], row["updated_at"]
    return out


class Proxies:
    """The proxies of one database, always within one team; ``keys`` gives the sealer when a
    password is written or revealed."""

    def __init__(self, db: Any, keys: Callable[[], Sealer]) -> None:
        self.db = db
        self._keys = keys

    def _sealed(self, fields: dict[str, Any], proxy_id: str) -> dict[str, Any]:
        password = fields.get("password")
        if password is None:
            return fields
        return {**fields, "password": self._keys().seal(password, _where(proxy_id))}

    def revealed(self, row: dict[str, Any]) -> dict[str, Any]:
        """``row`` with its password opened (for ``launch``)."""
        password = row["password"]
        if password is None or not password.startswith(PREFIX):
            return row
        return {**row, "password": self._keys().open(password, _where(row["id"]))}

    async def list(self, team_id: str, limit: int, offset: int) -> dict[str, Any]:
        count, rows = await self.db.batch(
            [
                self.db.prepare("SELECT count(*) AS n FROM proxies WHERE team_id = ?").bind(
                    team_id
                ),
                self.db.prepare(
                    f"SELECT {_SELECT} FROM proxies WHERE team_id = ? "
                    "ORDER BY created_at, id LIMIT ? OFFSET ?"
                ).bind(team_id, limit, offset),
            ]
        )
        return {"proxies": list(rows["results"]), "total": count["results"][0]["n"]}

    async def get(self, proxy_id: str, team_id: str) -> dict[str, Any] | None:
        sql = f"SELECT {_SELECT} FROM proxies WHERE id = ? AND team_id = ?"
        return await self.db.prepare(sql).bind(proxy_id, team_id).first()  # type: ignore[no-any-return]

    async def create(
        self, team_id: str, user_id: str, fields: dict[str, Any], limit: int
    ) -> dict[str, Any] | None:
        """Add a proxy unless the team has ``limit`` already (None then)."""
        db, proxy_id, now = self.db, new_id(), now_ms()
        stored = self._sealed(fields, proxy_id)
        values = [stored.get(c) for c in COLUMNS]
        added = await audit.Log(db, team_id, user_id).changed(
            db.prepare(
                f"INSERT INTO proxies ({_SELECT}) "
                "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9 "
                "WHERE (SELECT count(*) FROM proxies WHERE team_id = ?2) < ?10 "
                f"RETURNING {_SELECT}"
            ).bind(proxy_id, team_id, *values, now, limit),
            "proxy.create", "proxy", proxy_id, fields["name"],
            {"type": fields["type"], "host": fields["host"], "port": fields["port"]},
        )  # fmt: skip
        return added["results"][0] if added["results"] else None

    async def update(
        self, proxy_id: str, team_id: str, user_id: str, changes: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Apply ``changes`` (API names; only from ``COLUMNS``); None when not in the team."""
        if not changes:
            return await self.get(proxy_id, team_id)
        names = [c for c in COLUMNS if c in changes]
        sets = ", ".join(f"{c} = ?" for c in names)  # identifiers from COLUMNS only
        details = {c: (MASK if c in ("username", "password") else changes[c]) for c in names}
        stored = self._sealed(changes, proxy_id)
        db = self.db
        updated = await audit.Log(db, team_id, user_id).changed(
            db.prepare(
                f"UPDATE proxies SET {sets}, updated_at = ? WHERE id = ? AND team_id = ? "
                f"RETURNING {_SELECT}"
            ).bind(*(stored[c] for c in names), now_ms(), proxy_id, team_id),
            "proxy.update", "proxy", proxy_id, None, details,
        )  # fmt: skip
        return updated["results"][0] if updated["results"] else None

    async def delete(self, proxy_id: str, team_id: str, user_id: str) -> bool:
        """Delete a proxy (profiles using it keep running without one: ``proxy_id`` → null)."""
        db = self.db
        done = await audit.Log(db, team_id, user_id).changed(
            db.prepare("DELETE FROM proxies WHERE id = ? AND team_id = ?").bind(
                proxy_id, team_id
            ),
            "proxy.delete", "proxy", proxy_id,
        )  # fmt: skip
        return bool(done["meta"]["changes"])


def _where(proxy_id: str) -> str:
    return f"proxies.password:{proxy_id}"
