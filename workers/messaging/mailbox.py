"""One user's stored state, in their inbox object's SQL: contacts and undelivered frames.

Contacts record consent. ``requested``: this user asked the peer; ``incoming``: the peer asked
this user; ``accepted``: both agreed, and only then do messages flow (each side checks its own
row). The queue holds frames for a user with no authenticated socket, oldest first, as the
JSON text that will be sent (for messages: the sender, ids and the ciphertext exactly as the
sender's client produced it — the server never has anything else to store).
"""

from __future__ import annotations

from typing import Any

REQUESTED, INCOMING, ACCEPTED = "requested", "incoming", "accepted"

SCHEMA = """
CREATE TABLE IF NOT EXISTS contacts (
    peer TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    since INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS queue (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    frame TEXT NOT NULL
)
"""


class Mailbox:
    """Contacts (cached in memory: only this object writes them) and the queue."""

    def __init__(self, sql: Any) -> None:
        self.sql = sql
        sql.exec(SCHEMA)
        self._contacts: dict[str, str] = {
            row.peer: row.state for row in sql.exec("SELECT peer, state FROM contacts")
        }

    # -- contacts -------------------------------------------------------------------------------

    def contact(self, peer: str) -> str | None:
        return self._contacts.get(peer)

    def contacts(self) -> dict[str, str]:
        return dict(self._contacts)

    def set_contact(self, peer: str, state: str, now_ms: int) -> None:
        self.sql.exec(
            "INSERT OR REPLACE INTO contacts (peer, state, since) VALUES (?, ?, ?)",
            peer, state, now_ms,
        )  # fmt: skip
        self._contacts[peer] = state

    def pending_requests(self) -> int:
        """Requests waiting for this user's answer."""
        return sum(1 for state in self._contacts.values() if state == INCOMING)

    # -- the queue ------------------------------------------------------------------------------

    def queued(self) -> int:
        return int(self.sql.exec("SELECT count(*) AS n FROM queue").one().n)

    def enqueue(self, frame: str, now_ms: int) -> None:
        self.sql.exec("INSERT INTO queue (at, frame) VALUES (?, ?)", now_ms, frame)

    def frames(self) -> list[tuple[int, str]]:
        """Every queued frame as ``(seq, text)``, oldest first."""
        return [(seq, frame) for seq, frame in self.sql.exec(
            "SELECT seq, frame FROM queue ORDER BY seq").raw()]  # fmt: skip

    def delete_through(self, seq: int) -> None:
        self.sql.exec("DELETE FROM queue WHERE seq <= ?", seq)

    def expire(self, before_ms: int) -> int:
        """Drop frames queued before ``before_ms``; how many went."""
        return int(self.sql.exec("DELETE FROM queue WHERE at < ?", before_ms).rowsWritten)

    def oldest(self) -> int | None:
        """When the oldest queued frame arrived (ms), or None."""
        return self.sql.exec("SELECT min(at) AS at FROM queue").one().at  # type: ignore[no-any-return]
