"""The D1 log of every applied operation (``document_operations``), written off the hot path.

The room appends rows as it applies operations; a single ``waitUntil`` task at a time writes
whatever has accumulated as one ``batch()`` (one transaction), in version order, so a burst of
typing costs a few D1 round trips instead of one per keystroke and never delays a broadcast.
The log is a record, not the source of truth (the object's own storage is): a failed write is
logged and dropped. The user id is written only while the user exists (the column is a
foreign key to ``"user"``, set to NULL when the user is removed).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from workers.auth.dates import now_ms
from workers.collaboration.document import Applied
from workers.collaboration.ot import Insert

log = logging.getLogger("hearth.collaboration")

BATCH_ROWS = 200  # statements per D1 batch (D1 allows 1,000)

INSERT = """
INSERT INTO document_operations
    (room, version, session_id, user_id, operation_type, operation_data, created_at)
SELECT ?, ?, ?, (SELECT id FROM "user" WHERE id = ?), ?, ?, ?
"""

Row = tuple[str, int, str, str | None, str, str, int]


class Journal:
    """Rows waiting to be written, and the one task writing them."""

    def __init__(self, ctx: Any, db: Any) -> None:
        self.ctx = ctx
        self.db = db  # None: the worker has no D1 binding, nothing is logged
        self.rows: list[Row] = []
        self.writing = False

    def append(self, room: str, user_id: str | None, applied: list[Applied]) -> None:
        """Queue ``applied`` for the log; starts the writer if it is idle."""
        if self.db is None or not applied:
            return
        at = now_ms()
        for entry in applied:
            op = entry.op
            kind = "insert" if isinstance(op, Insert) else "delete"
            data = json.dumps(op.to_json(), ensure_ascii=False)
            self.rows.append((room, entry.version, entry.session, user_id, kind, data, at))
        if not self.writing:
            self.writing = True
            self.ctx.waitUntil(self._write())

    async def _write(self) -> None:
        try:
            while self.rows:
                rows, self.rows = self.rows, []
                for start in range(0, len(rows), BATCH_ROWS):
                    chunk = rows[start : start + BATCH_ROWS]
                    statement = self.db.prepare(INSERT)
                    try:
                        await self.db.batch([statement.bind(*row) for row in chunk])
                    except Exception:
                        log.exception("document_operations: %d rows not logged", len(chunk))
        finally:
            self.writing = False
