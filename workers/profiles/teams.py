"""Teams, their members (owner / admin / member) and invitations by email, in D1.

Every user has a personal team, made on first use and never deleted or left, which is where
their calls go unless they name another team (``X-Team-ID``). Each rule that spans rows (the
last owner stays, a member limit) is part of the one conditional statement that changes the
row, so two concurrent requests cannot break it between a check and a write.
"""

from __future__ import annotations

from typing import Any

from workers.profiles import audit
from workers.profiles.ids import new_id, now_ms

ROLES = ("member", "admin", "owner")  # by rank
INVITE_TTL_MS = 7 * 24 * 3600 * 1000


def rank(role: str | None) -> int:
    """0 member, 1 admin, 2 owner; -1 for no role."""
    return ROLES.index(role) if role in ROLES else -1


class Teams:
    """The teams of one database."""

    def __init__(self, db: Any) -> None:
        self.db = db

    async def role_of(self, team_id: str, user_id: str) -> str | None:
        row = await (
            self.db.prepare("SELECT role FROM team_members WHERE team_id = ? AND user_id = ?")
            .bind(team_id, user_id)
            .first()
        )
        return None if row is None else str(row["role"])

    async def personal(self, user_id: str, display: str) -> tuple[str, str]:
        """The user's personal team and their role in it, made on first use (race-free: the
        team's ``personal_owner`` is unique, so concurrent first calls make one team)."""
        sql = (
            "SELECT t.id, m.role FROM teams t JOIN team_members m "
            "ON m.team_id = t.id AND m.user_id = ?1 WHERE t.personal_owner = ?1"
        )
        row = await self.db.prepare(sql).bind(user_id).first()
        if row is None:
            db, team_id, now, name = self.db, new_id(), now_ms(), f"{display}'s team"
            await db.batch(
                [
                    db.prepare(
                        "INSERT INTO teams (id, name, personal_owner, created_by, created_at) "
                        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (personal_owner) DO NOTHING"
                    ).bind(team_id, name, user_id, user_id, now),
                    audit.Log(db, team_id, user_id).entry(
                        "team.create", "team", team_id, name, {"personal": True}, if_changed=True
                    ),
                    db.prepare(
                        "INSERT INTO team_members (team_id, user_id, role, created_at) "
                        "SELECT id, ?1, 'owner', ?2 FROM teams WHERE personal_owner = ?1 "
                        "ON CONFLICT DO NOTHING"
                    ).bind(user_id, now),
                ]
            )
            row = await self.db.prepare(sql).bind(user_id).first()
        return str(row["id"]), str(row["role"])

    async def of_user(self, user_id: str) -> list[dict[str, Any]]:
        """Every team the user belongs to, with their role."""
        rows = await (
            self.db.prepare(
                "SELECT t.id, t.name, m.role, t.personal_owner = m.user_id AS personal, "
                "t.created_at, (SELECT count(*) FROM team_members WHERE team_id = t.id) AS members "
                "FROM team_members m JOIN teams t ON t.id = m.team_id "
                "WHERE m.user_id = ? ORDER BY t.created_at, t.id"
            )
            .bind(user_id)
            .all()
        )
        return [{**row, "personal": bool(row["personal"])} for row in rows["results"]]

    async def get(self, team_id: str) -> dict[str, Any] | None:
        """The team with its members (name and email from the auth worker's users)."""
        team, members = await self.db.batch(
            [
                self.db.prepare(
                    "SELECT id, name, personal_owner IS NOT NULL AS personal, created_at "
                    "FROM teams WHERE id = ?"
                ).bind(team_id),
                self.db.prepare(
                    'SELECT m.user_id, u."email", u."name", m.role, m.created_at '
                    'FROM team_members m JOIN "user" u ON u."id" = m.user_id '
                    "WHERE m.team_id = ? ORDER BY m.created_at, m.user_id"
                ).bind(team_id),
            ]
        )
        if not team["results"]:
            return None
        row = team["results"][0]
        return {**row, "personal": bool(row["personal"]), "members": list(members["results"])}

    async def create(self, name: str, user_id: str) -> str:
        db, team_id, now = self.db, new_id(), now_ms()
        await db.batch(
            [
                db.prepare(
                    "INSERT INTO teams (id, name, created_by, created_at) VALUES (?, ?, ?, ?)"
                ).bind(team_id, name, user_id, now),
                db.prepare(
                    "INSERT INTO team_members (team_id, user_id, role, created_at) "
                    "VALUES (?, ?, 'owner', ?)"
                ).bind(team_id, user_id, now),
                audit.Log(db, team_id, user_id).entry("team.create", "team", team_id, name),
            ]
        )
        return team_id

    async def rename(self, team_id: str, name: str, user_id: str) -> None:
        db = self.db
        await db.batch(
            [
                db.prepare("UPDATE teams SET name = ? WHERE id = ?").bind(name, team_id),
                audit.Log(db, team_id, user_id).entry("team.update", "team", team_id, name),
            ]
        )

    async def delete(self, team_id: str) -> tuple[bool, list[str]]:
        """Delete a (non-personal) team and everything in it; returns whether it was deleted
        and the ids of its profiles (their session data is then purged through the queue)."""
        rows = await (
            self.db.prepare("SELECT id FROM profiles WHERE team_id = ?").bind(team_id).all()
        )
        done = await (
            self.db.prepare("DELETE FROM teams WHERE id = ? AND personal_owner IS NULL")
            .bind(team_id)
            .run()
        )
        return bool(done["meta"]["changes"]), [row["id"] for row in rows["results"]]

    # -- members ---------------------------------------------------------------------------

    async def set_role(self, team_id: str, user_id: str, role: str, actor: str) -> bool:
        """Change a member's role; False when that would leave the team without an owner."""
        db = self.db
        changed = await audit.Log(db, team_id, actor).changed(
            db.prepare(
                "UPDATE team_members SET role = ?1 WHERE team_id = ?2 AND user_id = ?3 AND "
                "(role != 'owner' OR ?1 = 'owner' OR (SELECT count(*) FROM team_members "
                "WHERE team_id = ?2 AND role = 'owner') > 1)"
            ).bind(role, team_id, user_id),
            "member.update", "user", user_id, None, {"role": role},
        )  # fmt: skip
        return bool(changed["meta"]["changes"])

    async def remove(self, team_id: str, user_id: str, actor: str) -> bool:
        """Remove a member; False when they are the last owner or the personal team's owner."""
        db = self.db
        removed = await audit.Log(db, team_id, actor).changed(
            db.prepare(
                "DELETE FROM team_members WHERE team_id = ?1 AND user_id = ?2 "
                "AND NOT EXISTS (SELECT 1 FROM teams WHERE id = ?1 AND personal_owner = ?2) "
                "AND (role != 'owner' OR (SELECT count(*) FROM team_members "
                "WHERE team_id = ?1 AND role = 'owner') > 1)"
            ).bind(team_id, user_id),
            "member.remove", "user", user_id,
        )  # fmt: skip
        return bool(removed["meta"]["changes"])

    # -- invitations -------------------------------------------------------------------------

    async def invite(self, team_id: str, email: str, role: str, actor: str) -> dict[str, Any]:
        """Invite ``email`` (again: the role and expiry are renewed)."""
        db, now = self.db, now_ms()
        invite, _ = await db.batch(
            [
                db.prepare(
                    "INSERT INTO team_invites (id, team_id, email, role, invited_by, created_at, "
                    "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (team_id, email) "
                    "DO UPDATE SET role = excluded.role, invited_by = excluded.invited_by, "
                    "created_at = excluded.created_at, expires_at = excluded.expires_at "
                    "RETURNING id, team_id, email, role, created_at, expires_at"
                ).bind(new_id(), team_id, email, role, actor, now, now + INVITE_TTL_MS),
                audit.Log(db, team_id, actor).entry(
                    "member.invite", "invite", None, email, {"role": role}
                ),
            ]
        )
        return dict(invite["results"][0])

    async def invites_of_team(self, team_id: str) -> list[dict[str, Any]]:
        rows = await (
            self.db.prepare(
                "SELECT id, team_id, email, role, created_at, expires_at FROM team_invites "
                "WHERE team_id = ? AND expires_at > ? ORDER BY created_at, id"
            )
            .bind(team_id, now_ms())
            .all()
        )
        return list(rows["results"])

    async def invites_for(self, email: str) -> list[dict[str, Any]]:
        rows = await (
            self.db.prepare(
                "SELECT i.id, i.team_id, t.name AS team_name, i.role, i.created_at, i.expires_at "
                "FROM team_invites i JOIN teams t ON t.id = i.team_id "
                "WHERE i.email = ? AND i.expires_at > ? ORDER BY i.created_at, i.id"
            )
            .bind(email.lower(), now_ms())
            .all()
        )
        return list(rows["results"])

    async def revoke(self, team_id: str, invite_id: str, actor: str) -> bool:
        db = self.db
        done = await audit.Log(db, team_id, actor).changed(
            db.prepare("DELETE FROM team_invites WHERE id = ? AND team_id = ?").bind(
                invite_id, team_id
            ),
            "member.uninvite", "invite", invite_id,
        )  # fmt: skip
        return bool(done["meta"]["changes"])

    async def pending(self, invite_id: str, email: str) -> dict[str, Any] | None:
        """An unexpired invitation addressed to ``email``, or None."""
        return await (  # type: ignore[no-any-return]
            self.db.prepare(
                "SELECT id, team_id, role FROM team_invites "
                "WHERE id = ? AND email = ? AND expires_at > ?"
            )
            .bind(invite_id, email.lower(), now_ms())
            .first()
        )

    async def join(
        self, invite: dict[str, Any], user_id: str, email: str, max_members: int
    ) -> bool:
        """Join through ``invite`` (used up); False when the team already has
        ``max_members`` (the plan's limit, checked in the same statement as the insert)."""
        db, team_id, role = self.db, invite["team_id"], invite["role"]
        joined, _, _ = await db.batch(
            [
                db.prepare(
                    "INSERT INTO team_members (team_id, user_id, role, created_at) "
                    "SELECT ?1, ?2, ?3, ?4 WHERE (SELECT count(*) FROM team_members "
                    "WHERE team_id = ?1) < ?5 ON CONFLICT DO NOTHING"
                ).bind(team_id, user_id, role, now_ms(), max_members),
                audit.Log(db, team_id, user_id).entry(
                    "member.join", "user", user_id, email, {"role": role}, if_changed=True
                ),
                # used up once its user is in the team (now or before)
                db.prepare(
                    "DELETE FROM team_invites WHERE id = ?1 AND EXISTS "
                    "(SELECT 1 FROM team_members WHERE team_id = ?2 AND user_id = ?3)"
                ).bind(invite["id"], team_id, user_id),
            ]
        )
        return bool(joined["meta"]["changes"]) or await self.role_of(team_id, user_id) is not None
