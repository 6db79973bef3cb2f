"""Stubs: fetch and RPC into the live object, copies, errors crossing, one instance per id."""

import pytest

from bindings import DataCloneError, JsException, JsTypeError
from bindings.request import Request
from tests.durable_objects.conftest import worker_config

SOURCE = """
import datetime as dt
from workers import DurableObject, Response, WorkerEntrypoint

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        stub = self.env.THING.getByName("from-worker")
        return await stub.fetch(request)

class Thing(DurableObject):
    constructed = 0

    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        Thing.constructed += 1
        self.calls = 0

    async def fetch(self, request):
        return Response.json({
            "method": str(request.method),
            "url": request.url,
            "header": request.headers.get("x-test"),
            "body": await request.text(),
            "name": self.ctx.id.name,
            "var": self.env.WHO,
        }, status=201)

    async def count(self):
        self.calls += 1
        return self.calls

    async def echo(self, value):
        return value

    async def mutate(self, data):
        data["changed"] = True
        return data

    def sync_method(self, a, b):
        return a * b

    async def fail(self):
        raise ValueError("bad value")

    async def custom(self):
        class Oops(Exception):
            pass
        raise Oops("custom failure")

    async def uncloneable(self):
        return {"f": print}

    async def when(self):
        return dt.datetime(2030, 1, 2, tzinfo=dt.timezone.utc)

    def _private(self):
        return 1
"""


@pytest.fixture
async def h(hearth, tmp_path):
    config = worker_config(tmp_path, SOURCE, bindings={"THING": "Thing"})
    config["vars"] = {"WHO": "defining worker"}
    return await hearth(config, state_dir=tmp_path / "state")


async def test_fetch_with_url_options_and_request(h):
    stub = h.env().THING.getByName("t")
    r = await stub.fetch("https://do/path?q=1", method="POST", headers={"x-test": "yes"}, body="hi")
    assert r.status == 201
    assert await r.json() == {
        "method": "POST", "url": "https://do/path?q=1", "header": "yes", "body": "hi",
        "name": "t", "var": "defining worker",
    }  # fmt: skip
    r = await stub.fetch(Request("https://do/other", headers={"x-test": "req"}))
    assert (await r.json())["header"] == "req"


async def test_worker_forwards_its_request_to_the_object(h):
    r = await h.SELF.put("/anything", content="payload", headers={"x-test": "fwd"})
    assert r.status_code == 201
    body = r.json()
    assert (body["method"], body["body"], body["header"], body["name"]) == (
        "PUT", "payload", "fwd", "from-worker"
    )  # fmt: skip


async def test_one_live_instance_per_id(h):
    ns = h.env().THING
    module = h.worker().main.module
    before = module.Thing.constructed
    a, b = ns.getByName("same"), ns.get(ns.idFromName("same"))
    assert [await a.count(), await b.count(), await a.count()] == [1, 2, 3]
    assert await ns.getByName("different").count() == 1
    assert module.Thing.constructed == before + 2


async def test_rpc_copies_arguments_and_results(h):
    stub = h.env().THING.getByName("copy")
    data = {"a": [1, {"b": b"\x00"}]}
    result = await stub.mutate(data)
    assert result == {"a": [1, {"b": b"\x00"}], "changed": True}
    assert data == {"a": [1, {"b": b"\x00"}]}
    assert result.changed is True  # dicts come back with attribute access
    assert await stub.sync_method(6, 7) == 42
    when = await stub.when()
    assert when.year == 2030


async def test_rpc_structured_clone_errors(h):
    stub = h.env().THING.getByName("clone")
    with pytest.raises(DataCloneError):
        await stub.echo({"f": lambda: 1})
    with pytest.raises(JsTypeError, match=r"Tuples"):
        await stub.echo((1, 2))
    with pytest.raises(DataCloneError):
        await stub.uncloneable()


async def test_exceptions_cross_with_type_and_message(h):
    stub = h.env().THING.getByName("errors")
    with pytest.raises(ValueError, match=r"^bad value$"):
        await stub.fail()
    with pytest.raises(JsException, match=r"custom failure") as info:
        await stub.custom()
    assert type(info.value).__name__ == "Oops"
    with pytest.raises(JsTypeError, match='does not implement the method "nothing"'):
        await stub.nothing()
    with pytest.raises(AttributeError):
        stub._private  # noqa: B018 - private names are not RPC
