"""Which process owns an object: rendezvous hashing over the process indices, and the guards
that keep an object in its owner (construction elsewhere, a caller that counts differently)."""

import json
from collections import Counter

import pytest

from bindings.durable_objects import DurableObjectError
from bindings.durable_objects.endpoints import Endpoints
from bindings.durable_objects.ids import IdFactory
from bindings.durable_objects.ownership import Ownership, owner_of
from bindings.durable_objects.plugin import DurableObjectsPlugin
from bindings.durable_objects.remote import Remote
from bindings.durable_objects.wire import OBJECT_HEADER, RPC_PATH, encode
from bindings.testing import runInDurableObject

IDS = [IdFactory("app-Thing").idFromName(f"object-{i}").toString() for i in range(3000)]

SOURCE = """
from workers import DurableObject, Response, WorkerEntrypoint


class Thing(DurableObject):
    async def hello(self):
        return "hello"


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response("ok")
"""


def test_the_owner_is_a_pure_function_of_the_id_and_the_count():
    for hex_id in IDS[:50]:
        owners = {owner_of(hex_id, 3) for _ in range(3)}
        assert len(owners) == 1 and owners <= {0, 1, 2}
        assert owner_of(hex_id, 1) == 0
        assert Ownership(1, 3).owner(hex_id) == owner_of(hex_id, 3)
        assert Ownership(1, 3).owns(hex_id) == (owner_of(hex_id, 3) == 1)


def test_objects_spread_evenly_over_the_processes():
    counts = Counter(owner_of(hex_id, 3) for hex_id in IDS)
    assert sorted(counts) == [0, 1, 2]
    assert all(800 <= n <= 1200 for n in counts.values()), counts  # 1000 each, give or take


def test_a_new_process_takes_only_its_own_share():
    moved = [h for h in IDS if owner_of(h, 3) != owner_of(h, 4)]
    assert all(owner_of(h, 4) == 3 for h in moved)  # nothing moves between old processes
    assert 0.2 < len(moved) / len(IDS) < 0.3  # about a quarter


def test_a_process_index_must_be_in_range():
    with pytest.raises(ValueError, match=r"not in 0\.\.2"):
        Ownership(3, 3)


def owned_by(ownership, index, factory):
    return next(f"n{i}" for i in range(1000)
                if ownership.owner(factory.idFromName(f"n{i}").toString()) == index)  # fmt: skip


def plugin_of(h):
    return h.runtime.plugins[DurableObjectsPlugin]


async def test_an_object_is_never_constructed_outside_its_owner(do_app):
    h = await do_app(SOURCE, bindings={"THING": "Thing"})
    (host,) = plugin_of(h).hosts.values()
    ownership = Ownership(0, 2)
    host.remote = Remote(None, ownership)  # as process 0 of 2 (nothing is forwarded here)
    stub = h.env().THING.getByName(owned_by(ownership, 1, host.ids))
    with pytest.raises(DurableObjectError, match=r"is owned by server process 1, not by this"):
        await runInDurableObject(stub, lambda instance, ctx: None)
    mine = h.env().THING.getByName(owned_by(ownership, 0, host.ids))
    assert await mine.hello() == "hello"


async def call(endpoints, headers):
    scope = {"type": "http", "method": "POST", "path": RPC_PATH, "headers": headers}
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    await endpoints.rpc(scope, receive, send)
    status = sent[0]["status"]
    return status, json.loads(sent[1]["body"])


async def test_the_owner_refuses_calls_that_are_not_its_own(do_app):
    h = await do_app(SOURCE, bindings={"THING": "Thing"})
    (host,) = plugin_of(h).hosts.values()
    endpoints = Endpoints(Ownership(0, 2))
    endpoints.hosts[host.ids.unique_key] = host

    def named(count, key, name):
        hex_id = host.ids.idFromName(name).toString()
        pairs = encode(OBJECT_HEADER, [count, key, hex_id, name])
        return [(k.encode(), v.encode()) for k, v in pairs]

    theirs = owned_by(endpoints.ownership, 1, host.ids)
    status, error = await call(endpoints, named(2, host.ids.unique_key, theirs))
    assert status == 421
    assert error["type"] == "DurableObjectError"
    assert "belongs to server process 1, not 0" in error["message"]
    status, error = await call(endpoints, named(3, host.ids.unique_key, theirs))
    assert status == 421
    assert "the caller counts 3, process 0 counts 2" in error["message"]
    status, error = await call(endpoints, named(2, "app-Other", theirs))
    assert status == 404
    endpoints.stopping = True
    status, error = await call(endpoints, named(2, host.ids.unique_key, theirs))
    assert status == 503
