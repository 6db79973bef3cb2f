"""Namespaces and ids: workerd's derivation, validation errors, stubs' id and name."""

import hashlib
import hmac
import re

import pytest

from bindings.durable_objects import DurableObjectError
from bindings.errors import JsRangeError, JsTypeError

SOURCE = """
from workers import DurableObject, Response, WorkerEntrypoint

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response("ok")

class Counter(DurableObject):
    async def whoami(self):
        return {"id": self.ctx.id.toString(), "name": self.ctx.id.name}

class Other(DurableObject):
    pass
"""


@pytest.fixture
async def h(do_app):
    return await do_app(SOURCE, bindings={"COUNTER": "Counter", "OTHER": "Other"})


def reference_id(unique_key: str, name: str) -> str:
    """The reference's algorithm, written out independently of bindings/."""
    key = hashlib.sha256(unique_key.encode()).digest()
    a = hmac.new(key, name.encode(), hashlib.sha256).digest()[:16]
    b = hmac.new(key, a, hashlib.sha256).digest()[:16]
    return (a + b).hex()


async def test_id_from_name_follows_the_reference_algorithm(h):
    ns = h.env().COUNTER
    made = ns.idFromName("room-1")
    assert made.toString() == reference_id("app-Counter", "room-1")
    assert re.fullmatch(r"[0-9a-f]{64}", made.toString())
    assert made.name == "room-1"
    assert made.equals(ns.idFromName("room-1"))
    assert not made.equals(ns.idFromName("room-2"))
    assert h.env().OTHER.idFromName("room-1").toString() != made.toString()


async def test_ids_are_stable_across_restarts(hearth, tmp_path):
    from tests.durable_objects.conftest import worker_config

    config = worker_config(tmp_path, SOURCE, bindings={"COUNTER": "Counter"})
    first = await hearth(config, state_dir=tmp_path / "state")
    unique = first.env().COUNTER.newUniqueId().toString()
    named = first.env().COUNTER.idFromName("x").toString()
    await first.aclose()
    second = await hearth(config, state_dir=tmp_path / "state")
    assert second.env().COUNTER.idFromName("x").toString() == named
    assert second.env().COUNTER.idFromString(unique).toString() == unique


async def test_new_unique_ids_differ_and_round_trip(h):
    ns = h.env().COUNTER
    a, b = ns.newUniqueId(), ns.newUniqueId()
    assert a.toString() != b.toString()
    assert a.name is None
    parsed = ns.idFromString(a.toString())
    assert parsed.equals(a) and parsed.name is None
    assert ns.idFromString(a.toString().upper()).toString() == a.toString()


async def test_id_from_string_errors(h):
    ns = h.env().COUNTER
    for bad in ["abc", "z" * 64, "ab " * 21 + "a", ns.newUniqueId().toString() + "00"]:
        with pytest.raises(
            JsTypeError, match=r"^Invalid Durable Object ID: must be 64 hex digits$"
        ):
            ns.idFromString(bad)
    foreign = h.env().OTHER.newUniqueId().toString()
    with pytest.raises(JsTypeError, match=r"^Durable Object ID is not valid for this namespace.$"):
        ns.idFromString(foreign)
    tampered = ns.newUniqueId().toString()
    tampered = tampered[:-1] + ("0" if tampered[-1] != "0" else "1")
    with pytest.raises(JsTypeError, match=r"not valid for this namespace"):
        ns.idFromString(tampered)


async def test_jurisdictions_and_get_options(h):
    ns = h.env().COUNTER
    message = "^Jurisdiction restrictions are not implemented in workerd.$"
    with pytest.raises(DurableObjectError, match=message):
        ns.newUniqueId(jurisdiction="eu")
    with pytest.raises(DurableObjectError, match=message):
        ns.newUniqueId({"jurisdiction": "eu"})
    with pytest.raises(DurableObjectError, match=message):
        ns.jurisdiction("eu")
    assert ns.jurisdiction(None) is ns
    with pytest.raises(JsRangeError, match=r"^unknown routingMode: nearest$"):
        ns.get(ns.idFromName("a"), routingMode="nearest")
    ns.get(ns.idFromName("a"), {"routingMode": "primary-only", "locationHint": "weur"})
    with pytest.raises(JsTypeError, match=r"not valid for this namespace"):
        ns.get(h.env().OTHER.idFromName("a"))
    with pytest.raises(JsTypeError, match=r"not of type 'DurableObjectId'"):
        ns.get("a")


async def test_stubs_carry_id_and_name(h):
    ns = h.env().COUNTER
    by_name = ns.getByName("alice")
    assert by_name.name == "alice"
    assert by_name.id.equals(ns.idFromName("alice"))
    assert await by_name.whoami() == {"id": by_name.id.toString(), "name": "alice"}
    unnamed = ns.get(ns.idFromString(by_name.id.toString()))
    assert unnamed.name is None
    # the same live object answers both stubs; it was first reached by name
    assert (await unnamed.whoami())["id"] == by_name.id.toString()
