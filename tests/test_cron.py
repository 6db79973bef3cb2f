"""Cron Triggers: parsing, runs, retries, the dev trigger endpoints, and one run per tick."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import logging
import sqlite3
import time

import httpx
import pytest

from bindings import ConfigError, Host, Runtime
from bindings import cron as cron_mod
from bindings.cron import CronPlugin, cron_schedule, next_tick
from bindings.testing import ServerProcess, load_config, port_open, require_service
from tests.queues.conftest import redis_prefix  # noqa: F401 - the fixture, shared

WORKER = """
from workers import Response, WorkerEntrypoint

RUNS = []
FAIL = []  # pop one truthy value per run: raise; "no-retry": call noRetry() first


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response("worker saw " + request.url)

    async def scheduled(self, controller, env, ctx):
        RUNS.append((controller.cron, controller.scheduledTime, env.WHO))
        ctx.waitUntil(self.later())
        if FAIL:
            mode = FAIL.pop(0)
            if mode == "no-retry":
                controller.noRetry()
            if mode:
                raise RuntimeError("scheduled failed")

    async def later(self):
        RUNS.append(("waitUntil",))
"""


def worker_table(name="cron", crons=("0 */6 * * *",), main="cron_worker.py"):
    return {"name": name, "main": main, "vars": {"WHO": name}, "triggers": {"crons": list(crons)}}


@pytest.fixture
async def cron(hearth, tmp_path):
    (tmp_path / "cron_worker.py").write_text(WORKER)

    async def start(*workers):
        h = await hearth({"workers": list(workers) or [worker_table()]})
        return h, h.worker(workers[0]["name"] if workers else "cron").main.module

    return start


def weekday(expression: str) -> str:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp()  # a Thursday
    return dt.datetime.fromtimestamp(next_tick(cron_schedule(expression), start), dt.UTC).strftime(
        "%a %d %H:%M:%S"
    )


def test_expressions_are_cloudflares():
    assert weekday("0 0 * * 1") == "Sun 04 00:00:00"  # day-of-week 1 is Sunday on Cloudflare
    assert weekday("0 0 * * 2-6") == "Fri 02 00:00:00"  # Monday..Friday
    assert weekday("0 9 * * MON") == "Mon 05 09:00:00"
    assert weekday("0 10 * * 2#2") == "Mon 12 10:00:00"  # the second Monday
    assert weekday("0 0 L * ?") == "Sat 31 00:00:00"
    assert weekday("0 */6 * * *") == "Thu 01 06:00:00"
    assert weekday("*/15 * * * * *") == "Thu 01 00:00:15"  # Hearth's seconds field, for tests
    for bad, problem in [
        ("61 * * * *", "Bad minute"),
        ("* * * *", "five fields"),
        ("0 0 15W * *", "nearest weekday"),
        ("0 0 * * 0", r"1-7 \(1 = Sunday\)"),
        ("0 0 * * 8", "1-7"),
    ]:
        with pytest.raises(ValueError, match=problem):
            cron_schedule(bad)


@pytest.mark.parametrize(
    ("triggers", "key", "problem"),
    [
        ({"crons": "* * * * *"}, "triggers.crons", "must be an array"),
        ({"crons": ["* * * * *", "nope"]}, "triggers.crons[1]", "invalid cron expression 'nope'"),
        ({"cron": []}, "triggers.cron", "unknown key"),
    ],
)
def test_bad_triggers_name_the_key(tmp_path, triggers, key, problem):
    with pytest.raises(ConfigError) as info:
        load_config({"name": "w", "main": "w.py", "triggers": triggers}, tmp_path)
    assert info.value.key == key and problem in info.value.problem


def test_crons_need_a_scheduled_handler(tmp_path):
    (tmp_path / "plain.py").write_text("async def on_fetch(request):\n    return None\n")
    cfg = load_config({"name": "w", "main": "plain.py", "triggers": {"crons": ["0 0 * * *"]}},
                      tmp_path)  # fmt: skip
    with pytest.raises(ConfigError, match=r"scheduled\(self, controller, env, ctx\)"):
        Runtime(cfg, state_dir=tmp_path / "s").load()


async def test_ticks_run_scheduled_with_its_controller(cron):
    _, module = await cron(worker_table(crons=["* * * * * *"]))
    deadline = time.monotonic() + 10
    while len([r for r in module.RUNS if len(r) == 3]) < 2:
        assert time.monotonic() < deadline, "no second tick"
        await asyncio.sleep(0.05)
    runs = [r for r in module.RUNS if len(r) == 3]
    assert [(c, who) for c, _, who in runs[:2]] == [("* * * * * *", "cron")] * 2
    assert runs[0][1] % 1000 == 0 and runs[1][1] - runs[0][1] == 1000
    assert ("waitUntil",) in module.RUNS  # ctx.waitUntil work is awaited with the run


async def test_failed_runs_retry_unless_no_retry(cron, monkeypatch, caplog):
    monkeypatch.setattr(cron_mod, "CRON_RETRY_DELAY", 0.01)
    caplog.set_level(logging.ERROR, "hearth.cron")
    h, module = await cron()
    plugin = h.runtime.plugins[CronPlugin]
    assert isinstance(plugin, CronPlugin)
    worker = h.worker("cron")
    module.FAIL[:] = [True, False]
    assert await plugin.run(worker, "0 */6 * * *", 5_000) == ("ok", False)
    assert [r[1] for r in module.RUNS if len(r) == 3] == [5_000, 5_000]
    module.FAIL[:] = ["no-retry", True]
    assert await plugin.run(worker, "0 */6 * * *", 6_000) == ("exception", True)
    module.FAIL[:] = [True, True, True, True]
    assert await plugin.run(worker, "0 */6 * * *", 7_000) == ("exception", False)
    assert len([r for r in module.RUNS if len(r) == 3 and r[1] == 7_000]) == 3
    assert module.FAIL == [True]  # three attempts in all
    assert "RuntimeError: scheduled failed" in caplog.text


async def test_dev_trigger_endpoints(cron):
    h, module = await cron()
    r = await h.SELF.get("/__scheduled", params={"cron": "0 */6 * * *"})
    assert (r.status_code, r.text) == (200, "ok")
    r = await h.SELF.get("/cdn-cgi/handler/scheduled?cron=*/5+*+*+*+*&time=1234&format=json")
    assert (r.status_code, r.json()) == (200, {"outcome": "ok", "noRetry": False})
    assert [r[:2] for r in module.RUNS if len(r) == 3][-1] == ("*/5 * * * *", 1234)
    module.FAIL[:] = ["no-retry"]
    r = await h.SELF.get("/cdn-cgi/handler/scheduled?format=json")
    assert (r.status_code, r.json()) == (500, {"outcome": "exception", "noRetry": True})
    module.FAIL[:] = [True]
    r = await h.SELF.get("/__scheduled")
    assert (r.status_code, r.text) == (500, "exception")  # no retry for an on-demand run
    assert (await h.SELF.get("/__scheduled?time=soon")).status_code == 400


async def test_dev_trigger_picks_workers_by_cron_or_name(cron):
    h, _ = await cron(worker_table("a", ["0 1 * * *"]), worker_table("b", ["0 2 * * *"]))

    def who_ran():
        modules = {id(w.main.module): w.main.module for w in h.runtime.workers.values()}
        return sorted(r[2] for m in modules.values() for r in m.RUNS if len(r) == 3)

    assert (await h.SELF.get("/__scheduled", params={"cron": "0 2 * * *"})).text == "ok"
    assert who_ran() == ["b"]
    r = await h.SELF.get("/__scheduled", params={"cron": "0 3 * * *"})
    assert r.status_code == 400 and "add ?worker=NAME" in r.json()["error"]
    assert (await h.SELF.get("/__scheduled?worker=a")).text == "ok"
    assert who_ran() == ["a", "b"]
    assert (await h.SELF.get("/__scheduled?worker=nobody")).status_code == 404


async def test_trigger_endpoints_do_not_exist_under_serve(tmp_path):
    (tmp_path / "cron_worker.py").write_text(WORKER)
    runtime = Runtime(load_config({"workers": [worker_table()]}, tmp_path),
                      state_dir=tmp_path / "state", mode="serve")  # fmt: skip
    host = Host(runtime)
    await host.start()
    try:
        transport = httpx.ASGITransport(app=host)
        async with httpx.AsyncClient(transport=transport, base_url="http://h") as client:
            for path in ("/__scheduled", "/cdn-cgi/handler/scheduled"):
                r = await client.get(path, params={"cron": "0 */6 * * *"})
                assert r.text == f"worker saw http://h{path}?cron=0+%2A%2F6+%2A+%2A+%2A"
        assert runtime.worker("cron").main.module.RUNS == []
    finally:
        await host.stop()


CRON_LEDGER_WORKER = """
import os
import sqlite3

from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response("cron worker")

    async def scheduled(self, controller, env, ctx):
        db = sqlite3.connect(os.environ["HEARTH_TEST_LEDGER"], timeout=30, isolation_level=None)
        db.execute("CREATE TABLE IF NOT EXISTS runs (cron TEXT, tick INTEGER, pid INTEGER)")
        db.execute("INSERT INTO runs VALUES (?, ?, ?)",
                   (controller.cron, controller.scheduledTime, os.getpid()))
        db.close()
"""


def runs(path):
    if not path.exists():
        return []
    db = sqlite3.connect(path, timeout=30)
    try:
        return db.execute("SELECT cron, tick, pid FROM runs ORDER BY tick").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        db.close()


@pytest.mark.e2e
@pytest.mark.parametrize("store", ["sqlite", "redis"])
def test_each_tick_runs_once_across_two_processes(tmp_path, store, request):
    hearth = ""
    if store == "redis":
        require_service("redis", port_open("127.0.0.1", 6379))
        prefix = request.getfixturevalue("redis_prefix")
        hearth = f'[hearth.cron]\nbackend = "redis"\nredis_prefix = "{prefix}"\n'
    (tmp_path / "ticker.py").write_text(CRON_LEDGER_WORKER)
    config = tmp_path / "wrangler_compat.toml"
    config.write_text(
        hearth + '[[workers]]\nname = "ticker"\nmain = "ticker.py"\n'
        '[workers.triggers]\ncrons = ["* * * * * *"]\n'
    )
    ledger = tmp_path / "runs.sqlite3"
    env = {"HEARTH_TEST_LEDGER": str(ledger)}
    # Redis coordinates processes that share nothing else; SQLite ones share the state folder.
    states = [tmp_path / "a", tmp_path / "b"] if store == "redis" else [tmp_path / "s"] * 2
    with (
        ServerProcess(config, states[0], command="serve", env=env) as a,
        ServerProcess(config, states[1], command="serve", env=env) as b,
    ):
        both = time.time() * 1000
        deadline = time.monotonic() + 20
        while len([r for r in runs(ledger) if r[1] > both]) < 3:
            assert time.monotonic() < deadline, "ticks did not run"
            time.sleep(0.1)
        assert a.proc and b.proc and a.proc.poll() is None and b.proc.poll() is None
    ticks = [tick for _, tick, _ in runs(ledger)]
    assert len(ticks) == len(set(ticks)), "a tick ran twice"
    assert all(later - earlier == 1000 for earlier, later in itertools.pairwise(ticks))
