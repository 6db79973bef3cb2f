"""The default queue backend: one SQLite file (WAL) under ``state_dir/queues``, shared by processes.

Every queue lives in one ``messages`` table. A row is ready when ``available_at`` has passed:
that column is the visible time of a waiting message and the lease deadline of a claimed one,
so one index answers "what is ready" and an expired lease needs no sweeping. Claims run in
``BEGIN IMMEDIATE`` transactions, so processes sharing the folder (``serve --workers N``)
never lease the same row twice. A process that dies mid-batch leaves rows leased to its
``owner`` (pid and start time); any process notices the owner is gone and makes them ready at
once, so a restart after ``kill -9`` redelivers in-flight messages without waiting out the
lease. Commits are durable against a killed process (WAL, ``synchronous=NORMAL``); set
``synchronous = "full"`` to survive power loss too.

Calls run on the event loop thread: each is one short transaction, cheaper than a thread hop.
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import sqlite3
from collections.abc import Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from bindings.queues.backend import (
    BackendError,
    Claimed,
    Metrics,
    Outcome,
    Peeked,
    Poll,
    Stats,
    Stored,
)

T = TypeVar("T")
P = ParamSpec("P")


def _translated(
    method: Callable[P, Coroutine[Any, Any, T]],
) -> Callable[P, Coroutine[Any, Any, T]]:
    """sqlite3 errors become BackendError, once, at the edge of every public method."""

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(*args, **kwargs)
        except sqlite3.Error as exc:
            raise BackendError(f"sqlite: {exc}") from exc

    return wrapper


SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    id TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    body BLOB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    available_at INTEGER NOT NULL,
    owner TEXT,
    origin TEXT
);
CREATE INDEX IF NOT EXISTS messages_ready ON messages (queue, available_at, seq);
CREATE INDEX IF NOT EXISTS messages_oldest ON messages (queue, timestamp);
CREATE INDEX IF NOT EXISTS messages_owner ON messages (owner) WHERE owner IS NOT NULL;
CREATE TABLE IF NOT EXISTS backlog (
    queue TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    bytes INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS backlog_insert AFTER INSERT ON messages BEGIN
    INSERT INTO backlog (queue, count, bytes) VALUES (NEW.queue, 1, length(NEW.body))
    ON CONFLICT (queue) DO UPDATE SET count = count + 1, bytes = bytes + length(NEW.body);
END;
CREATE TRIGGER IF NOT EXISTS backlog_delete AFTER DELETE ON messages BEGIN
    UPDATE backlog SET count = count - 1, bytes = bytes - length(OLD.body)
    WHERE queue = OLD.queue;
END;
CREATE TRIGGER IF NOT EXISTS backlog_move AFTER UPDATE OF queue ON messages
WHEN OLD.queue <> NEW.queue BEGIN
    UPDATE backlog SET count = count - 1, bytes = bytes - length(OLD.body)
    WHERE queue = OLD.queue;
    INSERT INTO backlog (queue, count, bytes) VALUES (NEW.queue, 1, length(NEW.body))
    ON CONFLICT (queue) DO UPDATE SET count = count + 1, bytes = bytes + length(NEW.body);
END;
"""

REAP_INTERVAL_MS = 2_000  # how often to look for leases held by processes that died


class SqliteQueues:
    """Every queue of a runtime in ``<folder>/queues.sqlite3``."""

    kind = "sqlite"

    def __init__(self, folder: Path, *, synchronous: str = "normal") -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "queues.sqlite3"
        self.owner = process_identity()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout = 10000")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute(f"PRAGMA synchronous = {'FULL' if synchronous == 'full' else 'NORMAL'}")
        self._db.executescript(SCHEMA)
        self._reaped_at = -REAP_INTERVAL_MS

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _metrics(self, queue: str) -> Metrics:
        count, size, oldest = self._db.execute(
            "SELECT COALESCE((SELECT count FROM backlog WHERE queue = ?1), 0),"
            " COALESCE((SELECT bytes FROM backlog WHERE queue = ?1), 0),"
            " (SELECT MIN(timestamp) FROM messages WHERE queue = ?1)",
            (queue,),
        ).fetchone()
        return Metrics(count, size, oldest)

    @_translated
    async def enqueue(self, queue: str, messages: Sequence[tuple[Stored, int]]) -> Metrics:
        rows = [
            (queue, m.id, m.timestamp, m.content_type, m.body, m.attempts, at, m.origin)
            for m, at in messages
        ]
        insert = (
            "INSERT INTO messages (queue, id, timestamp, content_type, body, attempts,"
            " available_at, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        )
        before = self._metrics(queue)  # a snapshot, as approximate as Cloudflare's
        if len(rows) == 1:
            self._db.execute(insert, rows[0])  # one statement: atomic on its own
        else:
            with self._write() as db:
                db.executemany(insert, rows)
        return before

    @_translated
    async def metrics(self, queue: str) -> Metrics:
        return self._metrics(queue)

    @_translated
    async def poll(self, queue: str, now: int, limit: int) -> Poll:
        if now - self._reaped_at >= REAP_INTERVAL_MS:
            self._reap(now)
        ready = self._db.execute(
            "SELECT COUNT(*) FROM (SELECT 1 FROM messages"
            " WHERE queue = ? AND available_at <= ? LIMIT ?)",
            (queue, now, limit),
        ).fetchone()[0]
        next_at = self._db.execute(
            "SELECT MIN(available_at) FROM messages WHERE queue = ? AND available_at > ?",
            (queue, now),
        ).fetchone()[0]
        return Poll(ready, next_at)

    def _reap(self, now: int) -> None:
        """Make the leases of processes that died ready again (they count as failed attempts)."""
        self._reaped_at = now
        owners = [
            o
            for (o,) in self._db.execute(
                "SELECT DISTINCT owner FROM messages WHERE owner IS NOT NULL"
            )
        ]
        dead = [o for o in owners if o != self.owner and not owner_alive(o)]
        if dead:
            with self._write() as db:
                db.executemany(
                    "UPDATE messages SET owner = NULL, available_at = MIN(available_at, ?)"
                    " WHERE owner = ?",
                    [(now, o) for o in dead],
                )

    @_translated
    async def claim(self, queue: str, now: int, limit: int, lease_until: int) -> list[Claimed]:
        with self._write() as db:
            rows = db.execute(
                "SELECT seq, id, timestamp, content_type, body, attempts, origin FROM messages"
                " WHERE queue = ? AND available_at <= ?"
                " ORDER BY available_at, seq LIMIT ?",
                (queue, now, limit),
            ).fetchall()
            db.executemany(
                "UPDATE messages SET owner = ?, available_at = ?, attempts = attempts + 1"
                " WHERE seq = ?",
                [(self.owner, lease_until, row[0]) for row in rows],
            )
        claimed = []
        for row in rows:
            message = _stored(row)
            message.attempts += 1
            claimed.append(Claimed(message, str(row[0])))
        return claimed

    @_translated
    async def renew(self, queue: str, claimed: Sequence[Claimed], lease_until: int) -> None:
        with self._write() as db:
            db.executemany(
                "UPDATE messages SET available_at = ? WHERE seq = ? AND owner = ? AND attempts = ?",
                [(lease_until, int(c.handle), self.owner, c.message.attempts) for c in claimed],
            )

    @_translated
    async def settle(self, queue: str, outcome: Outcome, now: int) -> int:
        # Every statement is guarded by the lease (owner and attempts as claimed), so a
        # message another consumer took over meanwhile is left alone.
        applied = 0
        with self._write() as db:
            gone = [*outcome.acked]
            if outcome.dead_letter_queue is None:
                gone += outcome.dead
            for c in gone:
                applied += db.execute(
                    "DELETE FROM messages WHERE seq = ? AND owner = ? AND attempts = ?",
                    self._held(c),
                ).rowcount
            for c, visible_at in outcome.retried:
                applied += db.execute(
                    "UPDATE messages SET owner = NULL, available_at = ?"
                    " WHERE seq = ? AND owner = ? AND attempts = ?",
                    (visible_at, *self._held(c)),
                ).rowcount
            if outcome.dead_letter_queue is not None:
                for c in outcome.dead:
                    # A new row, so the dead letter queues behind what the DLQ already holds.
                    moved = db.execute(
                        "INSERT INTO messages (queue, id, timestamp, content_type, body,"
                        " attempts, available_at, origin) SELECT ?, id, timestamp, content_type,"
                        " body, 0, ?, queue FROM messages"
                        " WHERE seq = ? AND owner = ? AND attempts = ?",
                        (outcome.dead_letter_queue, now, *self._held(c)),
                    ).rowcount
                    if moved:
                        db.execute("DELETE FROM messages WHERE seq = ?", (int(c.handle),))
                    applied += moved
        return applied

    def _held(self, c: Claimed) -> tuple[int, str, int]:
        return int(c.handle), self.owner, c.message.attempts

    @_translated
    async def stats(self, queue: str, now: int) -> Stats:
        ready, delayed, in_flight = self._db.execute(
            "SELECT COALESCE(SUM(available_at <= ?), 0),"
            " COALESCE(SUM(available_at > ? AND owner IS NULL), 0),"
            " COALESCE(SUM(available_at > ? AND owner IS NOT NULL), 0)"
            " FROM messages WHERE queue = ?",
            (now, now, now, queue),
        ).fetchone()
        return Stats(self._metrics(queue), ready, delayed, in_flight)

    @_translated
    async def peek(self, queue: str, limit: int, now: int) -> list[Peeked]:
        rows = self._db.execute(
            "SELECT seq, id, timestamp, content_type, body, attempts, origin, available_at, owner"
            " FROM messages WHERE queue = ?"
            " ORDER BY available_at, seq LIMIT ?",
            (queue, limit),
        ).fetchall()
        return [Peeked(_stored(r), _state(r[7], r[8], now), r[7]) for r in rows]

    @_translated
    async def replay(
        self, queue: str, ids: Sequence[str] | None, fallback: str | None, now: int
    ) -> list[tuple[str, str]]:
        moved: list[tuple[str, str]] = []
        with self._write() as db:
            rows = db.execute(
                "SELECT seq, id, origin FROM messages WHERE queue = ?"
                " AND NOT (owner IS NOT NULL AND available_at > ?) ORDER BY seq",
                (queue, now),
            ).fetchall()
            for seq, msg_id, origin in rows:
                target = origin or fallback
                if target is None or (ids is not None and msg_id not in ids):
                    continue
                db.execute(
                    "UPDATE messages SET queue = ?, origin = NULL, attempts = 0, owner = NULL,"
                    " available_at = ? WHERE seq = ?",
                    (target, now, seq),
                )
                moved.append((msg_id, target))
        return moved

    @_translated
    async def queues(self) -> list[str]:
        return [q for (q,) in self._db.execute("SELECT queue FROM backlog ORDER BY queue")]

    async def close(self) -> None:
        self._db.close()


def _stored(row: tuple[Any, ...]) -> Stored:
    _, msg_id, timestamp, content_type, body, attempts, origin = row[:7]
    return Stored(msg_id, timestamp, content_type, bytes(body), attempts, origin)


def _state(available_at: int, owner: str | None, now: int) -> str:
    if available_at <= now:
        return "ready"
    return "in flight" if owner is not None else "delayed"


def _start_time(pid: int) -> str | None:
    """A process's start time in clock ticks since boot (Linux), which a reused pid lacks."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[19]


def process_identity() -> str:
    """``pid:start`` naming this process uniquely on this host, even across pid reuse."""
    pid = os.getpid()
    return f"{pid}:{_start_time(pid) or secrets.token_hex(6)}"


def owner_alive(owner: str) -> bool:
    """Whether the process named by ``process_identity()`` still runs on this host."""
    pid_text, _, start = owner.partition(":")
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    current = _start_time(pid)
    if current is not None:
        return current == start
    if Path("/proc/self/stat").exists():
        return False  # Linux, and no such pid
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
