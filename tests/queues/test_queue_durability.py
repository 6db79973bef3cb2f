"""Real server processes: kill -9 with messages in flight, and two processes sharing a queue.

The worker records every message it handles in a SQLite ledger shared by the processes
(before its batch is acked), so the tests can tell what was handled, by whom and in which
attempt, and compare with what the store still held when a process was killed.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from bindings.testing import ServerProcess

pytestmark = pytest.mark.e2e

WORKER = """
import asyncio
import os
import sqlite3
from urllib.parse import parse_qs, urlsplit

from workers import Response, WorkerEntrypoint

LEDGER = os.environ["HEARTH_TEST_LEDGER"]
HANDLE_SECONDS = float(os.environ.get("HEARTH_TEST_HANDLE_SECONDS", "0.05"))


def record(rows):
    db = sqlite3.connect(LEDGER, timeout=30, isolation_level=None)
    db.execute("CREATE TABLE IF NOT EXISTS handled (n INTEGER, id TEXT, attempt INTEGER, pid)")
    db.executemany("INSERT INTO handled VALUES (?, ?, ?, ?)", rows)
    db.close()


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        q = {k: int(v[0]) for k, v in parse_qs(urlsplit(request.url).query).items()}
        first, count = q.get("from", 0), q["count"]
        for start in range(first, first + count, 100):
            numbers = range(start, min(start + 100, first + count))
            await self.env.JOBS.sendBatch([{"body": {"n": n}} for n in numbers],
                                          delaySeconds=q.get("delay", 0))
        return Response("sent")

    async def queue(self, batch, env, ctx):
        record([(m.body["n"], m.id, m.attempts, os.getpid()) for m in batch.messages])
        await asyncio.sleep(HANDLE_SECONDS)
"""


def setup(tmp_path: Path, hearth: str) -> tuple[Path, dict[str, str]]:
    (tmp_path / "ledger_worker.py").write_text(WORKER)
    config = tmp_path / "wrangler_compat.toml"
    config.write_text(
        f"""
[hearth.queues]
poll_interval = 0.05
{hearth}

[[workers]]
name = "jobs"
main = "ledger_worker.py"
compatibility_date = "2026-11-01"

[[workers.queues.producers]]
binding = "JOBS"
queue = "jobs"

[[workers.queues.consumers]]
queue = "jobs"
max_batch_size = 10
max_batch_timeout = 0
max_concurrency = 2
"""
    )
    env = {"HEARTH_TEST_LEDGER": str(tmp_path / "ledger.sqlite3")}
    return config, env


def ledger(tmp_path: Path) -> list[tuple[int, str, int, int]]:
    path = tmp_path / "ledger.sqlite3"
    if not path.exists():
        return []
    db = sqlite3.connect(path, timeout=30)
    try:
        return db.execute("SELECT n, id, attempt, pid FROM handled ORDER BY rowid").fetchall()
    except sqlite3.OperationalError:  # the table is not there yet
        return []
    finally:
        db.close()


def wait_for(predicate, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def check_delivery(rows, before, sent: set[int], acked_at_kill: set[str]) -> None:
    """Nothing lost; nothing acked when the process died handled again; one handling per
    (message, attempt)."""
    assert {n for n, *_ in rows} == sent
    per_attempt: dict[tuple[str, int], int] = {}
    for _, msg_id, attempt, _ in rows:
        per_attempt[msg_id, attempt] = per_attempt.get((msg_id, attempt), 0) + 1
    assert set(per_attempt.values()) == {1}
    after_kill = rows[len(before) :]
    assert rows[: len(before)] == before
    assert [r for r in after_kill if r[1] in acked_at_kill] == []


def test_kill_9_with_messages_in_flight_loses_nothing_and_repeats_nothing_acked(tmp_path):
    config, env = setup(tmp_path, "")
    env["HEARTH_TEST_HANDLE_SECONDS"] = "0.2"
    state = tmp_path / "state"
    with ServerProcess(config, state, command="serve", env=env) as a:
        assert httpx.post(f"{a.url}/send?count=120", timeout=30).text == "sent"
        assert httpx.post(f"{a.url}/send?from=1000&count=10&delay=2", timeout=30).text == "sent"
        wait_for(lambda: len(ledger(tmp_path)) >= 40, what="the first batches")
        a.kill()
    db = sqlite3.connect(state / "queues" / "queues.sqlite3")
    remaining = {i for (i,) in db.execute("SELECT id FROM messages WHERE queue = 'jobs'")}
    db.close()
    before = ledger(tmp_path)
    acked = {r[1] for r in before} - remaining
    in_flight = {r[1] for r in before} & remaining
    assert in_flight, "the kill should land while a batch is being handled"

    with ServerProcess(config, state, command="serve", env=env):
        sent = set(range(120)) | set(range(1000, 1010))
        wait_for(lambda: {r[0] for r in ledger(tmp_path)} == sent, what="every message")
    rows = ledger(tmp_path)
    check_delivery(rows, before, sent, acked)
    redelivered = [r for r in rows[len(before) :] if r[1] in in_flight]
    assert redelivered and all(attempt == 2 for _, _, attempt, _ in redelivered)


def test_two_processes_share_a_redis_queue_and_take_over_a_dead_one(tmp_path, redis_prefix):
    import redis

    config, env = setup(
        tmp_path, f'backend = "redis"\nredis_prefix = "{redis_prefix}"\nvisibility_timeout = 1.5'
    )
    env["HEARTH_TEST_HANDLE_SECONDS"] = "0.1"
    client = redis.Redis()
    with (
        ServerProcess(config, tmp_path / "a", command="serve", env=env) as a,
        ServerProcess(config, tmp_path / "b", command="serve", env=env) as b,
    ):
        pids = {a.proc.pid, b.proc.pid}  # type: ignore[union-attr]
        assert httpx.post(f"{a.url}/send?count=200", timeout=30).text == "sent"
        wait_for(lambda: {r[3] for r in ledger(tmp_path)} == pids and len(ledger(tmp_path)) >= 40,
                 what="both processes consuming")  # fmt: skip
        killed = a.proc.pid  # type: ignore[union-attr]

        def a_holds_a_batch() -> bool:
            summary = client.xpending(f"{redis_prefix}queue:{{jobs}}:s", "hearth")
            return any(f":{killed}:" in c["name"].decode() and c["pending"] > 0
                       for c in summary["consumers"])  # fmt: skip

        wait_for(a_holds_a_batch, what="process a holding leased messages")
        a.kill()
        remaining = {i.decode() for i in client.hkeys(f"{redis_prefix}queue:{{jobs}}:m")}
        before = ledger(tmp_path)
        acked = {r[1] for r in before} - remaining
        wait_for(lambda: {r[0] for r in ledger(tmp_path)} == set(range(200)), what="all")
        wait_for(lambda: client.zcard(f"{redis_prefix}queue:{{jobs}}:t") == 0, what="acks")
    client.close()
    rows = ledger(tmp_path)
    check_delivery(rows, before, set(range(200)), acked)
    # What the dead process held (claimed, maybe not yet handled) came back as a new attempt.
    taken_over = [r for r in rows[len(before) :] if r[2] > 1]
    assert taken_over and all(r[3] != killed for r in taken_over)
    assert {r[3] for r in rows} == pids
