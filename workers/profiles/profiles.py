"""Browser profiles in D1 (the seed's ProfileService), always within one team.

Every query carries ``team_id``: a profile of another team is indistinguishable from one that
does not exist. Ordering comes from fixed maps (``ORDER_BY``, ``DIRECTIONS``), never from the
request's text; a search is a substring match (``instr``, no LIKE pattern to escape) in the name
or in any one tag. The password in a profile's proxy URL is stored sealed (``credentials``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from workers.profiles import audit
from workers.profiles.credentials import PREFIX, Sealer, open_url, password_of, seal_url
from workers.profiles.fingerprints import Fingerprint
from workers.profiles.ids import new_id, now_ms
from workers.profiles.proxies import mask_url

COLUMNS = (
    "id", "name", "group_id", "tags", "team_id", "owner_id", "template_id", "user_agent",
    "platform", "vendor", "screen_width", "screen_height", "color_depth", "device_memory",
    "hardware_concurrency", "webgl_vendor", "webgl_renderer", "fonts", "timezone", "language",
    "proxy_id", "proxy", "locked_by", "locked_at", "session_hash", "synced_at", "created_at",
    "last_active", "launch_count", "notes",
)  # fmt: skip
_SELECT = ", ".join(COLUMNS)
ORDER_BY = {"name": "name", "last_active": "last_active", "created_at": "created_at"}
DIRECTIONS = {"asc": "ASC", "desc": "DESC"}
# Update fields (API name → column); JSON-encoded ones are lists.
UPDATABLE = {
    "name": "name", "groupId": "group_id", "tags": "tags", "timezone": "timezone",
    "language": "language", "proxyId": "proxy_id", "proxy": "proxy", "notes": "notes",
}  # fmt: skip
_PROXY_IN_TEAM = (
    "(?{n} IS NULL OR EXISTS (SELECT 1 FROM proxies WHERE id = ?{n} AND team_id = ?{t}))"
)


def profile_json(row: dict[str, Any], *, reveal: bool = False) -> dict[str, Any]:
    """A row as the API's JSON: lists decoded, the proxy URL's credentials masked unless
    ``reveal`` (launch)."""
    out = dict(row)
    out["tags"] = json.loads(row["tags"])
    out["fonts"] = json.loads(row["fonts"])
    if not reveal:
        out["proxy"] = mask_url(row["proxy"])
    return out


class Profiles:
    """The profiles of one database."""

    def __init__(self, db: Any, keys: Callable[[], Sealer]) -> None:
        self.db = db
        self._keys = keys  # the sealer, asked for only when a proxy password is written or shown

    def _sealed(self, url: str, profile_id: str) -> str:
        if not password_of(url):
            return url
        return seal_url(url, self._keys(), _where(profile_id))

    def revealed(self, row: dict[str, Any]) -> dict[str, Any]:
        """``row`` with its proxy URL's password opened (for ``launch``)."""
        if not password_of(row["proxy"]).startswith(PREFIX):
            return row
        return {**row, "proxy": open_url(row["proxy"], self._keys(), _where(row["id"]))}

    async def list(
        self,
        team_id: str,
        *,
        group_id: str | None,
        search: str | None,
        limit: int,
        offset: int,
        order_by: str,
        order: str,
    ) -> dict[str, Any]:
        """``{profiles, total}``: one page and the count of every match, in one transaction."""
        where, params = ["team_id = ?"], [team_id]
        if group_id is not None:
            where.append("group_id = ?")
            params.append(group_id)
        if search is not None:
            where.append(
                "(instr(lower(name), lower(?)) > 0 OR EXISTS (SELECT 1 FROM json_each(tags) "
                "WHERE instr(lower(json_each.value), lower(?)) > 0))"
            )
            params += [search, search]
        condition = " AND ".join(where)
        column, direction = ORDER_BY[order_by], DIRECTIONS[order]
        db = self.db
        count, page = await db.batch(
            [
                db.prepare(f"SELECT count(*) AS n FROM profiles WHERE {condition}").bind(*params),
                db.prepare(
                    f"SELECT {_SELECT} FROM profiles WHERE {condition} "
                    f"ORDER BY {column} {direction}, id {direction} LIMIT ? OFFSET ?"
                ).bind(*params, limit, offset),
            ]
        )
        return {
            "profiles": [profile_json(row) for row in page["results"]],
            "total": count["results"][0]["n"],
        }

    async def get(self, profile_id: str, team_id: str) -> dict[str, Any] | None:
        sql = f"SELECT {_SELECT} FROM profiles WHERE id = ? AND team_id = ?"
        return await self.db.prepare(sql).bind(profile_id, team_id).first()  # type: ignore[no-any-return]

    async def create(
        self,
        team_id: str,
        user_id: str,
        fields: dict[str, Any],
        fp: Fingerprint,
        limit: int,
    ) -> dict[str, Any] | None:
        """Insert a profile unless the team has ``limit`` already or ``proxyId`` is not one of
        its proxies (None then: ask ``proxy_in_team`` which)."""
        now, profile_id = now_ms(), new_id()
        row: dict[str, Any] = {
            "id": profile_id, "name": fields["name"], "group_id": fields.get("groupId"),
            "tags": json.dumps(fields.get("tags") or []), "team_id": team_id, "owner_id": user_id,
            "template_id": fp.templateId, "user_agent": fp.userAgent, "platform": fp.platform,
            "vendor": fp.vendor, "screen_width": fp.screen["width"],
            "screen_height": fp.screen["height"], "color_depth": fp.colorDepth,
            "device_memory": fp.deviceMemory, "hardware_concurrency": fp.hardwareConcurrency,
            "webgl_vendor": fp.webgl["vendor"], "webgl_renderer": fp.webgl["renderer"],
            "fonts": json.dumps(fp.fonts), "timezone": fields.get("timezone") or fp.timezone,
            "language": fields.get("language") or fp.language, "proxy_id": fields.get("proxyId"),
            "proxy": self._sealed(fields.get("proxy") or "", profile_id), "locked_by": None,
            "locked_at": None, "session_hash": None, "synced_at": None, "created_at": now,
            "last_active": now, "launch_count": 0, "notes": fields.get("notes") or "",
        }  # fmt: skip
        n = len(COLUMNS)
        places = ", ".join(f"?{i}" for i in range(1, n + 1))
        guard = _PROXY_IN_TEAM.format(
            n=COLUMNS.index("proxy_id") + 1, t=COLUMNS.index("team_id") + 1
        )
        db = self.db
        added = await audit.Log(db, team_id, user_id).changed(
            db.prepare(
                f"INSERT INTO profiles ({_SELECT}) SELECT {places} "
                f"WHERE (SELECT count(*) FROM profiles WHERE team_id = ?{n + 1}) < ?{n + 2} "
                f"AND {guard}"
            ).bind(*(row[c] for c in COLUMNS), team_id, limit),
            "profile.create", "profile", profile_id, row["name"], {"templateId": fp.templateId},
        )  # fmt: skip
        return row if added["meta"]["changes"] else None

    async def proxy_in_team(self, proxy_id: str, team_id: str) -> bool:
        row = await (
            self.db.prepare("SELECT 1 AS ok FROM proxies WHERE id = ? AND team_id = ?")
            .bind(proxy_id, team_id)
            .first()
        )
        return row is not None

    async def update(
        self, profile_id: str, team_id: str, user_id: str, changes: dict[str, Any]
    ) -> bool:
        """Apply ``changes`` (API names, only from ``UPDATABLE``); False when the profile is
        not in the team or ``proxyId`` is not one of its proxies."""
        names = [name for name in UPDATABLE if name in changes]
        if "proxy" in changes:
            changes = {**changes, "proxy": self._sealed(changes["proxy"], profile_id)}
        values = [json.dumps(changes[k]) if k == "tags" else changes[k] for k in names]
        sets = ", ".join(f"{UPDATABLE[k]} = ?" for k in names)  # identifiers from UPDATABLE
        details = {k: mask_url(changes[k]) if k == "proxy" else changes[k] for k in names}
        proxy = changes.get("proxyId")
        db = self.db
        done = await audit.Log(db, team_id, user_id).changed(
            db.prepare(
                f"UPDATE profiles SET {sets} WHERE id = ? AND team_id = ? AND "
                "(? IS NULL OR EXISTS (SELECT 1 FROM proxies WHERE id = ? AND team_id = ?))"
            ).bind(*values, profile_id, team_id, proxy, proxy, team_id),
            "profile.update", "profile", profile_id, changes.get("name"), details,
        )  # fmt: skip
        return bool(done["meta"]["changes"])

    async def delete(self, profile_id: str, team_id: str, user_id: str, name: str) -> bool:
        db = self.db
        done = await audit.Log(db, team_id, user_id).changed(
            db.prepare("DELETE FROM profiles WHERE id = ? AND team_id = ?").bind(
                profile_id, team_id
            ),
            "profile.delete", "profile", profile_id, name,
        )  # fmt: skip
        return bool(done["meta"]["changes"])

    async def synced(self, profile_id: str, team_id: str, user_id: str, digest: str) -> None:
        """Record that the session data with hash ``digest`` is now stored."""
        db, now = self.db, now_ms()
        await audit.Log(db, team_id, user_id).changed(
            db.prepare(
                "UPDATE profiles SET session_hash = ?1, synced_at = ?2, last_active = ?2 "
                "WHERE id = ?3 AND team_id = ?4"
            ).bind(digest, now, profile_id, team_id),
            "profile.sync", "profile", profile_id, None, {"hash": digest},
        )  # fmt: skip


def _where(profile_id: str) -> str:
    return f"profiles.proxy:{profile_id}"
