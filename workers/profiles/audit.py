"""The audit log: one row per change to a team's data, written in the same D1 batch (one
transaction) as the change itself, so a change is never recorded without happening or the
reverse. ``entry(..., if_changed=True)`` is kept only when the statement before it in the batch
changed a row (SQLite's ``changes()``), for conditional writes such as a lock acquisition.
"""

from __future__ import annotations

import json
from typing import Any

from workers.profiles.ids import now_ms

COLUMNS = "team_id, user_id, action, target_type, target_id, target_name, details, created_at"
ORDER = "id DESC"  # newest first


def entry(
    db: Any,
    team_id: str,
    user_id: str | None,
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
        team_id, user_id, action, target_type, target_id, target_name,
        json.dumps(details, separators=(",", ":")) if details else None, now_ms(),
    )  # fmt: skip
    if if_changed:
        sql = f"INSERT INTO audit_log ({COLUMNS}) SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE changes() > 0"
    else:
        sql = f"INSERT INTO audit_log ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    return db.prepare(sql).bind(*values)


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
