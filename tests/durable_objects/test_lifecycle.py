"""Lifecycle: lazy construction, idle eviction, one owner per object file, shared classes."""

import asyncio
import time

import pytest

from bindings.durable_objects import DurableObjectError
from bindings.durable_objects.sqlite import ObjectDatabase
from bindings.testing import runInDurableObject
from tests.durable_objects.conftest import worker_config

SOURCE = """
import asyncio
import itertools
from workers import DurableObject, Response, WorkerEntrypoint

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response("ok")

class Thing(DurableObject):
    serial = itertools.count(1)

    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        self.instance = next(Thing.serial)

    async def instance_number(self):
        return self.instance

    async def remember(self, value):
        await self.ctx.storage.put("v", value)

    async def recall(self, key="v"):
        return await self.ctx.storage.get(key)

    async def worker_name(self):
        return self.env.NAME

    async def write_later(self, value):
        async def later():
            await asyncio.sleep(0.6)  # three idle periods after the call returned
            await self.ctx.storage.put({"v": value, "writer": self.instance})
        self.ctx.waitUntil(later())
        return self.instance
"""


async def eventually_new_instance(stub, first, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        if stub._host.objects.get(stub.id.toString()) is None:
            return await stub.instance_number()
    raise AssertionError("the object was not evicted")


async def test_idle_objects_are_evicted_and_rebuilt_with_their_storage(do_app):
    h = await do_app(SOURCE, bindings={"THING": "Thing"},
                     hearth={"durable_objects": {"idle_timeout": 0.2}})  # fmt: skip
    stub = h.env().THING.getByName("idle")
    first = await stub.instance_number()
    await stub.remember({"kept": True})
    assert await eventually_new_instance(stub, first) != first
    assert await stub.recall() == {"kept": True}


async def test_objects_in_use_are_not_evicted(do_app):
    h = await do_app(SOURCE, bindings={"THING": "Thing"},
                     hearth={"durable_objects": {"idle_timeout": 0.2}})  # fmt: skip
    stub = h.env().THING.getByName("busy")

    async def long_event(instance, ctx):
        await asyncio.sleep(0.6)  # three idle periods, inside one event
        return instance.instance

    first = await stub.instance_number()
    assert await runInDurableObject(stub, long_event) == first


async def test_wait_until_work_keeps_the_object_alive(do_app):
    h = await do_app(SOURCE, bindings={"THING": "Thing"},
                     hearth={"durable_objects": {"idle_timeout": 0.2}})  # fmt: skip
    stub = h.env().THING.getByName("later")
    first = await stub.write_later("written after the response")
    await h.runtime.tasks.drain(10)
    assert await stub.recall() == "written after the response"
    assert await stub.recall("writer") == first  # the same instance: not evicted meanwhile


async def test_the_default_idle_timeout_keeps_objects(do_app):
    h = await do_app(SOURCE, bindings={"THING": "Thing"})
    stub = h.env().THING.getByName("default")
    first = await stub.instance_number()
    await asyncio.sleep(0.3)
    assert await stub.instance_number() == first


async def test_an_object_file_has_one_owner(do_app, tmp_path):
    h = await do_app(SOURCE, bindings={"THING": "Thing"})
    stub = h.env().THING.getByName("owned")
    await stub.remember(1)
    path = tmp_path / "state" / "do" / "app-Thing" / f"{stub.id.toString()}.sqlite"
    with pytest.raises(DurableObjectError, match=r"is open in another process"):
        ObjectDatabase(path)


async def test_classes_are_shared_across_workers_with_script_name(hearth, tmp_path):
    config = worker_config(tmp_path, SOURCE, bindings={"THING": "Thing"}, name="owner")
    config["vars"] = {"NAME": "owner"}
    doc = {
        "workers": [
            {k: v for k, v in config.items() if k != "hearth"},
            {
                "name": "other", "main": config["main"], "vars": {"NAME": "other"},
                "durable_objects": {"bindings": [
                    {"name": "SHARED", "class_name": "Thing", "script_name": "owner"}
                ]},
            },
        ]
    }  # fmt: skip
    h = await hearth(doc, state_dir=tmp_path / "state")
    mine = h.env("owner").THING.getByName("x")
    theirs = h.env("other").SHARED.getByName("x")
    assert mine.id.equals(theirs.id)  # the same namespace: ids agree
    await mine.remember("from owner")
    assert await theirs.recall() == "from owner"
    assert await theirs.instance_number() == await mine.instance_number()
    assert await theirs.worker_name() == "owner"  # env of the worker defining the class


@pytest.mark.parametrize(("setting", "pragma"), [(None, 1), ("FULL", 2)])
async def test_synchronous_setting(do_app, setting, pragma):
    hearth = {"durable_objects": {"synchronous": setting}} if setting else None
    h = await do_app(SOURCE, bindings={"THING": "Thing"}, hearth=hearth)

    def mode(instance, ctx):
        db = ctx.storage._owner.database()
        return db.conn.execute("PRAGMA synchronous").fetchone()[0], db.conn.execute(
            "PRAGMA journal_mode"
        ).fetchone()[0]

    assert await runInDurableObject(h.env().THING.getByName("s"), mode) == (pragma, "wal")
