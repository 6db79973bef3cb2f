"""The audit log: one row per change to a team's data, written in the same D1 batch (one
transaction) as the change itself, so a change is never recorded without happening or the
reverse. ``Log.changed(statement, ...)`` keeps the row only when the statement changed a row
(SQLite's ``changes()`` in the next statement of the batch), for conditional writes such as a
lock acquisition.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from workers.profiles.ids import now_ms

COLUMNS = "team_id, user_id, action, target_type, target_id, target_name, details, created_at"
_PLACES = ", ".join("?" * 8)
ORDER = "id DESC"  # newest first


@dataclass(frozen=True)
class Log:
    """The audit log of one team, written in the name of ``user_id`` (None: the system)."""

    db: Any
    team_id: str
    user_id: str | None

    def entry(
        self,
        action: str,
        target_type: str,
        target_id: str | None = None,
        target_name: str | None = None,
        details: dict[str, Any] | None = None,
        *,
        if_changed: bool = False,
    ) -> Any:
        """A prepared INSERT of one audit row, to run in a batch after the change it records."""
        values = (
            self.team_id, self.user_id, action, target_type, target_id, target_name,
            json.dumps(details, separators=(",", ":")) if details else None, now_ms(),
        )  # fmt: skip
        if if_changed:
            sql = f"INSERT INTO audit_log ({COLUMNS}) SELECT {_PLACES} WHERE changes() > 0"
        else:
            sql = f"INSERT INTO audit_log ({COLUMNS}) VALUES ({_PLACES})"
        return self.db.prepare(sql).bind(*values)

    async def changed(
        self,
        statement: Any,
        action: str,
        target_type: str,
        target_id: str | None = None,
        target_name: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> Any:
        """Run ``statement`` and, in the same transaction, its audit row when it changed a
        row; returns the statement's result."""
        entry = self.entry(action, target_type, target_id, target_name, details, if_changed=True)
        result, _ = await self.db.batch([statement, entry])
        return result


async def page(db: Any, team_id: str, limit: int, offset: int) -> dict[str, Any]:
    """``{entries, total}`` of one team, newest first."""
    count, rows = await db.batch(
        [
            db.prepare("SELECT count(*) AS n FROM audit_log WHERE team_id = ?").bind(team_id),
            db.prepare(
                f"SELECT id, {COLUMNS} FROM audit_log WHERE team_id = ? "
                f"ORDER BY {ORDER} LIMIT ? OFFSET ?"
            ).bind(team_id, limit, offset),
        ]
    )
    entries = []
    for row in rows["results"]:
        item = dict(row)
        item["details"] = json.loads(row["details"]) if row["details"] else None
        entries.append(item)
    return {"entries": entries, "total": count["results"][0]["n"]}
