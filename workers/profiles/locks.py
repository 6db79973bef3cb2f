"""Profile locks: one client at a time runs a profile.

The seed read the lock, decided, then wrote it: two launches could both read "free" and both
win. Here acquisition is ONE conditional UPDATE — it takes the lock only when it is free, held
by the same client, or stale (no heartbeat for ``LOCK_TIMEOUT_MS``) — and the caller learns
whether it won from ``meta.changes``. SQLite runs writes one at a time, so of any number of
concurrent launches, across processes too, exactly one changes the row. Heartbeat and release
are conditional on the holder in the same way. A cron (``release_stale``) frees abandoned locks.
"""

from __future__ import annotations

from typing import Any

from workers.profiles import audit
from workers.profiles.ids import now_ms

LOCK_TIMEOUT_MS = 5 * 60 * 1000  # a lock without a heartbeat for this long may be taken over
HEARTBEAT_INTERVAL_MS = 15 * 1000  # what clients are told to keep to


class Locks:
    """The locks of one database's profiles."""

    def __init__(self, db: Any) -> None:
        self.db = db

    async def acquire(
        self, profile_id: str, team_id: str, client_id: str, user_id: str, name: str
    ) -> bool:
        """Take (or refresh) the lock for ``client_id``; also counts the launch."""
        db, now = self.db, now_ms()
        taken = await audit.Log(db, team_id, user_id).changed(
            db.prepare(
                "UPDATE profiles SET locked_by = ?1, locked_at = ?2, last_active = ?2, "
                "launch_count = launch_count + 1 WHERE id = ?3 AND team_id = ?4 "
                "AND (locked_by IS NULL OR locked_by = ?1 OR locked_at < ?5)"
            ).bind(client_id, now, profile_id, team_id, now - LOCK_TIMEOUT_MS),
            "profile.launch", "profile", profile_id, name, {"clientId": client_id},
        )  # fmt: skip
        return bool(taken["meta"]["changes"])

    async def holder(self, profile_id: str, team_id: str) -> dict[str, Any] | None:
        """``{locked_by, locked_at}`` of a profile of the team, or None when there is none."""
        return await (  # type: ignore[no-any-return]
            self.db.prepare(
                "SELECT locked_by, locked_at FROM profiles WHERE id = ? AND team_id = ?"
            )
            .bind(profile_id, team_id)
            .first()
        )

    async def heartbeat(self, profile_id: str, team_id: str, client_id: str) -> bool:
        """Keep the lock alive; False unless ``client_id`` holds it."""
        now = now_ms()
        done = await (
            self.db.prepare(
                "UPDATE profiles SET locked_at = ?1, last_active = ?1 "
                "WHERE id = ?2 AND team_id = ?3 AND locked_by = ?4"
            )
            .bind(now, profile_id, team_id, client_id)
            .run()
        )
        return bool(done["meta"]["changes"])

    async def release(self, profile_id: str, team_id: str, client_id: str, user_id: str) -> bool:
        """Give the lock up; False unless ``client_id`` holds it."""
        db = self.db
        done = await audit.Log(db, team_id, user_id).changed(
            db.prepare(
                "UPDATE profiles SET locked_by = NULL, locked_at = NULL "
                "WHERE id = ? AND team_id = ? AND locked_by = ?"
            ).bind(profile_id, team_id, client_id),
            "profile.release", "profile", profile_id, None, {"clientId": client_id},
        )  # fmt: skip
        return bool(done["meta"]["changes"])

    async def release_stale(self, now: int) -> int:
        """Free every lock without a heartbeat for ``LOCK_TIMEOUT_MS`` (the cron); one audit row
        per profile, in the same transaction. Returns how many were freed."""
        db, cutoff = self.db, now - LOCK_TIMEOUT_MS
        stale = "locked_by IS NOT NULL AND locked_at < ?"
        _, freed = await db.batch(
            [
                db.prepare(
                    f"INSERT INTO audit_log ({audit.COLUMNS}) SELECT team_id, NULL, "
                    "'profile.lock_expired', 'profile', id, name, "
                    "json_object('clientId', locked_by, 'lockedAt', locked_at), ? "
                    f"FROM profiles WHERE {stale}"
                ).bind(now, cutoff),
                db.prepare(
                    f"UPDATE profiles SET locked_by = NULL, locked_at = NULL WHERE {stale}"
                ).bind(cutoff),
            ]
        )
        return int(freed["meta"]["changes"])
