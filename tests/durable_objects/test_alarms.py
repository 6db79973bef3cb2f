"""Alarms: the API and its errors, firing, retries with backoff, and alarms after a restart."""

import asyncio
import datetime as dt
import time

import pytest

from bindings import JsTypeError
from bindings.durable_objects import alarms
from bindings.testing import runDurableObjectAlarm, runInDurableObject
from tests.durable_objects.conftest import worker_config

SOURCE = """
from workers import DurableObject, Response, WorkerEntrypoint

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response("ok")

class Clock(DurableObject):
    async def alarm(self, info):
        runs = await self.ctx.storage.get("runs") or []
        runs.append({"retryCount": info.retryCount, "isRetry": info.isRetry,
                     "scheduledTime": info.scheduledTime,
                     "during": await self.ctx.storage.getAlarm()})
        await self.ctx.storage.put("runs", runs)
        failures = await self.ctx.storage.get("fail") or 0
        if failures:
            await self.ctx.storage.put("fail", failures - 1)
            if await self.ctx.storage.get("reschedule"):
                await self.ctx.storage.delete("reschedule")
                await self.ctx.storage.setAlarm(0.001 + 1)  # in the past: as soon as possible
            raise RuntimeError("alarm failed")

    async def arm(self, at_ms, fail=0, reschedule=False):
        await self.ctx.storage.put({"fail": fail, "reschedule": reschedule})
        await self.ctx.storage.setAlarm(at_ms)
        return await self.ctx.storage.getAlarm()

    async def runs(self):
        return await self.ctx.storage.get("runs") or []

    async def current(self):
        return await self.ctx.storage.getAlarm()

class NoHandler(DurableObject):
    async def arm(self):
        await self.ctx.storage.setAlarm(10**13)
"""


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setattr(alarms, "ALARM_RETRY_BASE", 0.01)


@pytest.fixture
def config(tmp_path):
    return worker_config(
        tmp_path, SOURCE, bindings={"CLOCK": "Clock", "BARE": "NoHandler"}, sqlite=("Clock",)
    )


@pytest.fixture
async def h(hearth, config, tmp_path):
    return await hearth(config, state_dir=tmp_path / "state")


def now_ms():
    return int(time.time() * 1000)


async def until(predicate, timeout=10.0):
    """Wait (without asserting on time) until ``predicate()`` is truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def test_alarm_api_and_errors(h):
    stub = h.env().CLOCK.getByName("api")
    future = now_ms() + 3_600_000
    assert await stub.arm(future) == future
    assert await stub.current() == future

    async def scenario(instance, ctx):
        storage = ctx.storage
        when = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
        await storage.setAlarm(when)
        assert await storage.getAlarm() == int(when.timestamp() * 1000)
        await storage.setAlarm(1)  # in the past: stored as now
        assert abs(await storage.getAlarm() - now_ms()) < 60_000
        await storage.deleteAlarm()
        await storage.deleteAlarm()  # no alarm: a no-op
        assert await storage.getAlarm() is None
        for bad in (0, -5):
            with pytest.raises(
                JsTypeError, match=r"^setAlarm\(\) cannot be called with an alarm time <= 0$"
            ):
                await storage.setAlarm(bad)

    await runInDurableObject(stub, scenario)
    with pytest.raises(
        JsTypeError, match=r"must have an alarm\(\) handler in order to call setAlarm"
    ):
        await h.env().BARE.getByName("x").arm()


async def test_alarm_fires_with_its_info(h):
    stub = h.env().CLOCK.getByName("fires")
    at = now_ms() + 1000  # far enough ahead that a loaded machine still sets it in the future
    await stub.arm(at)
    runs = await until(stub.runs)
    assert runs == [{"retryCount": 0, "isRetry": False, "scheduledTime": at, "during": None}]
    assert await stub.current() is None


async def test_failing_alarm_retries_then_succeeds(h):
    stub = h.env().CLOCK.getByName("retries")
    await stub.arm(now_ms(), 2)
    runs = await until(lambda: _at_least(stub, 3))
    assert [(r["retryCount"], r["isRetry"]) for r in runs] == [(0, False), (1, True), (2, True)]
    await asyncio.sleep(0.1)
    assert len(await stub.runs()) == 3
    assert await stub.current() is None


async def test_alarm_is_abandoned_after_six_retries(h):
    stub = h.env().CLOCK.getByName("abandoned")
    await stub.arm(now_ms(), 100)
    runs = await until(lambda: _at_least(stub, 1 + alarms.ALARM_MAX_RETRIES))
    assert [r["retryCount"] for r in runs] == list(range(alarms.ALARM_MAX_RETRIES + 1))
    assert await until(lambda: _gone(stub))
    await asyncio.sleep(0.2)
    assert len(await stub.runs()) == 1 + alarms.ALARM_MAX_RETRIES


async def test_an_alarm_set_during_a_failing_run_replaces_the_retry(h):
    stub = h.env().CLOCK.getByName("replaced")
    await stub.arm(now_ms(), 1, True)
    runs = await until(lambda: _at_least(stub, 2))
    assert [r["retryCount"] for r in runs] == [0, 0]  # the new alarm ran, not retry 1


async def test_retry_delays_double_with_jitter():
    for n in range(1, 12):
        base = alarms.ALARM_RETRY_BASE * 2 ** min(n - 1, alarms.ALARM_MAX_BACKOFF_SHIFT)
        assert base <= alarms.retry_delay(n) <= base * 1.25


async def test_alarms_due_while_the_server_was_down_fire_after_start(hearth, config, tmp_path):
    first = await hearth(config, state_dir=tmp_path / "state")
    stub = first.env().CLOCK.getByName("restart")
    at = now_ms() + 300
    await stub.arm(at)
    await first.aclose()  # down before the alarm is due
    await asyncio.sleep(0.4)
    second = await hearth(config, state_dir=tmp_path / "state")
    stub = second.env().CLOCK.getByName("restart")
    runs = await until(stub.runs)
    assert runs[0]["scheduledTime"] == at


async def test_run_durable_object_alarm_runs_it_now(h):
    stub = h.env().CLOCK.getByName("now")
    assert await runDurableObjectAlarm(stub) is False  # no alarm set
    await stub.arm(now_ms() + 3_600_000)
    assert await runDurableObjectAlarm(stub) is True
    assert len(await stub.runs()) == 1
    assert await stub.current() is None
    await stub.arm(now_ms() + 3_600_000, 1)
    with pytest.raises(RuntimeError, match=r"alarm failed"):
        await runDurableObjectAlarm(stub)
    assert await stub.current() is not None  # still set, to be retried


async def _at_least(stub, n):
    runs = await stub.runs()
    return runs if len(runs) >= n else None


async def _gone(stub):
    return await stub.current() is None
