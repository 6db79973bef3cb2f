"""The per-class index beside the objects' files: names of ``idFromName`` ids, and alarms.

``<state>/do/<worker>-<Class>/_index.sqlite`` lets ``do list`` show names without opening every
object, and lets the alarm scheduler find every object with an alarm at start-up (alarms that
came due while the server was down fire then). Alarm rows are hints: each object's own database
holds its real alarm, which is read again before an alarm runs. The index is written before
the object commits and only ever moves an alarm earlier, so a crash can leave an early or
stale hint (rechecked, then corrected) but never lose an alarm.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

INDEX_FILE = "_index.sqlite"


class ClassIndex:
    """Names and alarm hints of one Durable Object class (opened on first use)."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / INDEX_FILE
        self._conn: sqlite3.Connection | None = None
        self._named: set[str] = set()

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=5.0)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("CREATE TABLE IF NOT EXISTS names (id TEXT PRIMARY KEY, name TEXT)")
            conn.execute("CREATE TABLE IF NOT EXISTS alarms (id TEXT PRIMARY KEY, at INTEGER)")
            self._conn = conn
        return self._conn

    def remember_name(self, hex_id: str, name: str) -> None:
        if hex_id in self._named:
            return
        self._db().execute("INSERT OR IGNORE INTO names VALUES (?, ?)", (hex_id, name))
        self._named.add(hex_id)

    def name_of(self, hex_id: str) -> str | None:
        row = self._db().execute("SELECT name FROM names WHERE id = ?", (hex_id,)).fetchone()
        return None if row is None else str(row[0])

    def alarm_hint(self, hex_id: str, at_ms: int, *, exact: bool = False) -> None:
        """Record that ``hex_id`` has an alarm at ``at_ms`` (kept if earlier, unless exact)."""
        update = "excluded.at" if exact else "min(at, excluded.at)"
        self._db().execute(
            f"INSERT INTO alarms VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET at = {update}",  # noqa: S608
            (hex_id, at_ms),
        )

    def alarm_done(self, hex_id: str) -> None:
        self._db().execute("DELETE FROM alarms WHERE id = ?", (hex_id,))

    def alarms(self) -> list[tuple[str, int]]:
        if self._conn is None and not self.path.exists():
            return []
        return [(str(i), int(t)) for i, t in self._db().execute("SELECT id, at FROM alarms")]

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def read_names(directory: Path) -> dict[str, str]:
    """Every recorded name of a class, for commands (read-only)."""
    path = directory / INDEX_FILE
    if not path.exists():
        return {}
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {str(i): str(n) for i, n in conn.execute("SELECT id, name FROM names")}
    finally:
        conn.close()
