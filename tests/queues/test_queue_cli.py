"""``python -m bindings queues list | peek | dlq`` over the stored state of each backend."""

from __future__ import annotations

import asyncio
import json

from bindings import Runtime
from bindings.cli import main
from bindings.config import load
from bindings.queues import QueuesPlugin
from bindings.queues.backend import Outcome, Stored

HANDLER = """
from workers import WorkerEntrypoint
class Default(WorkerEntrypoint):
    async def queue(self, batch, env, ctx):
        pass
"""


def write_config(tmp_path, backend):
    (tmp_path / "handler.py").write_text(HANDLER)
    doc = {
        "hearth": {"queues": backend},
        "workers": [
            {
                "name": "app",
                "main": "handler.py",
                "queues": {
                    "producers": [{"binding": "JOBS", "queue": "jobs"}],
                    "consumers": [{"queue": "jobs", "dead_letter_queue": "jobs-dlq"}],
                },
            }
        ],
    }
    path = tmp_path / "hearth.json"
    path.write_text(json.dumps(doc))
    return path


async def prepare(path, state):
    """Three messages in ``jobs`` (one delayed); one fails for good and goes to the DLQ."""
    runtime = Runtime(load(path), state_dir=state, mode="check")
    await runtime.open_plugins()
    try:
        plugin = runtime.plugins[QueuesPlugin]
        assert isinstance(plugin, QueuesPlugin)
        store = plugin.backend("jobs")
        now = int(runtime.clock() * 1000)
        await store.enqueue(
            "jobs",
            [
                (Stored("a" * 32, now, "json", b'{"job":1}'), now),
                (Stored("b" * 32, now, "text", b"later"), now + 3_600_000),
                (Stored("c" * 32, now, "json", b'{"job":3}'), now),
            ],
        )
        claimed = await store.claim("jobs", now, 10, now + 60_000)
        dead = [c for c in claimed if c.message.id == "c" * 32]
        rest = [(c, now) for c in claimed if c.message.id != "c" * 32]
        outcome = Outcome(retried=rest, dead=dead, dead_letter_queue="jobs-dlq")
        assert await store.settle("jobs", outcome, now) == 2
    finally:
        await runtime.stop()


def cli(capsys, *args):
    status = main(list(args))
    out = capsys.readouterr().out
    return status, out


def test_list_peek_and_replay_dead_letters(tmp_path, capsys, backend):
    path = write_config(tmp_path, backend)
    state = tmp_path / "state"
    asyncio.run(prepare(path, state))
    common = ["--config", str(path), "--persist-to", str(state)]

    status, out = cli(capsys, "queues", "list", "--json", *common)
    assert status == 0
    rows = {r["queue"]: r for r in json.loads(out)}
    assert rows["jobs"]["messages"] == 2 and rows["jobs"]["delayed"] == 1
    assert rows["jobs"]["consumer"] == "app" and rows["jobs"]["dead_letter_queue"] == "jobs-dlq"
    assert rows["jobs-dlq"]["messages"] == 1

    status, out = cli(capsys, "queues", "peek", "jobs", "--json", *common)
    peeked = json.loads(out)
    assert [(m["id"][0], m["state"]) for m in peeked] == [("a", "ready"), ("b", "delayed")]
    assert peeked[0]["body"] == "{'job': 1}" and peeked[1]["body"] == "later"

    status, out = cli(capsys, "queues", "dlq", "jobs", *common)
    assert status == 0 and "dead-letter queue 'jobs-dlq' (of 'jobs')" in out and "c" * 32 in out

    status, out = cli(capsys, "queues", "dlq", "jobs-dlq", "--replay", *common)
    assert status == 0 and f"replayed {'c' * 32} -> jobs" in out and "1 message(s)" in out
    status, out = cli(capsys, "queues", "list", "--json", *common)
    rows = {r["queue"]: r for r in json.loads(out)}
    assert rows["jobs"]["messages"] == 3 and rows["jobs-dlq"]["messages"] == 0

    status, out = cli(capsys, "queues", "list", *common)
    assert out.splitlines()[0].split()[:3] == ["queue", "backend", "messages"]


def test_dlq_of_a_queue_without_one(tmp_path, capsys, backend):
    path = write_config(tmp_path, backend)
    status = main(["queues", "dlq", "elsewhere", "--config", str(path),
                   "--persist-to", str(tmp_path / "state")])  # fmt: skip
    assert status == 1
    assert "has no dead-letter queue" in capsys.readouterr().err
