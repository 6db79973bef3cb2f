"""A room's document in its Durable Object's SQL storage: a snapshot and the recent operations.

Every applied operation is a row of ``operations`` (written in the same implicit transaction
as the event that applied it, so it is durable before the sender's ack leaves). The text is
written whole into ``room`` only every ``SNAPSHOT_EVERY`` operations, not on each keystroke:
loading replays the rows after the snapshot. Rows older than both the snapshot and the
document's in-memory tail are deleted, so storage holds at most the tail plus
``SNAPSHOT_EVERY`` operations.
"""

from __future__ import annotations

import json
from typing import Any

from workers.collaboration import ot
from workers.collaboration.document import Applied, Document

SNAPSHOT_EVERY = 100

SCHEMA = """
CREATE TABLE IF NOT EXISTS room (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    name TEXT NOT NULL,
    content TEXT NOT NULL,
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS operations (
    version INTEGER PRIMARY KEY,
    session TEXT NOT NULL,
    op TEXT NOT NULL
)
"""


class RoomStorage:
    """The room's name, snapshot and operation rows (``ctx.storage.sql``, synchronous)."""

    def __init__(self, sql: Any) -> None:
        self.sql = sql
        sql.exec(SCHEMA)
        self.name: str | None = None
        self.snapshot_version = 0

    def load(self) -> Document:
        """The document as last committed."""
        row = next(iter(self.sql.exec("SELECT name, content, version FROM room")), None)
        content = ""
        if row is not None:
            self.name, content, self.snapshot_version = row.name, row.content, row.version
        rows = self.sql.exec("SELECT version, session, op FROM operations ORDER BY version")
        entries = (Applied(r.version, r.session, ot.from_json(json.loads(r.op))) for r in rows)
        return Document.restore(content, self.snapshot_version, entries)

    def name_room(self, name: str, document: Document) -> None:
        """Remember the room's name (the first request to reach the object carries it)."""
        if self.name is None:
            self.name = name
            self._snapshot(document)

    def record(self, document: Document, applied: list[Applied]) -> None:
        """Store operations just applied to ``document``."""
        for entry in applied:
            self.sql.exec(
                "INSERT INTO operations (version, session, op) VALUES (?, ?, ?)",
                entry.version, entry.session, json.dumps(entry.op.to_json(), ensure_ascii=False),
            )  # fmt: skip
        behind = document.version - self.snapshot_version
        if behind >= SNAPSHOT_EVERY or document.floor > self.snapshot_version:
            self._snapshot(document)

    def _snapshot(self, document: Document) -> None:
        self.sql.exec(
            "INSERT OR REPLACE INTO room (id, name, content, version) VALUES (1, ?, ?, ?)",
            self.name or "", document.content, document.version,
        )  # fmt: skip
        self.snapshot_version = document.version
        self.sql.exec("DELETE FROM operations WHERE version <= ?", document.floor)
