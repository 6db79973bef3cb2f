"""Message bodies: the v8 (structured clone) serialiser and the content-type codec."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from bindings import DataCloneError, JsDict, JsTypeError
from bindings.queues import codec, serial


@pytest.mark.parametrize(
    "value",
    [
        None, True, False, 0, -1, 2**100, -(2**70), 1.5, math.inf, "", "héllo \U0001f600",
        b"", b"\x00\xff", [], {}, [1, [2, [3]]], {"a": {"b": [None]}}, {1: "int key"},
        {1, "two"}, frozenset({3}), dt.datetime(2026, 1, 2, 3, 4, 5, 6),
        dt.datetime(2026, 1, 2, tzinfo=dt.UTC), dt.date(2026, 5, 1), dt.time(12, 30),
    ],
)  # fmt: skip
def test_round_trips_every_clonable_kind(value):
    assert serial.loads(serial.dumps(value)) == value


def test_keeps_shared_parts_and_cycles_and_gives_jsdicts():
    shared = [1, 2]
    value: dict = {"a": shared, "b": shared}
    value["me"] = value
    out = serial.loads(serial.dumps(value))
    assert out["a"] is out["b"] and out["me"] is out
    assert isinstance(out, JsDict) and out.a == [1, 2]
    assert math.isnan(serial.loads(serial.dumps(math.nan)))
    assert serial.loads(serial.dumps(memoryview(b"mv"))) == b"mv"


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        ((1, 2), JsTypeError, "Tuples cannot be cloned"),
        ([bytearray(b"x")], JsTypeError, "bytearray cannot be cloned"),
        ({"f": print}, DataCloneError, "builtin_function_or_method object could not be cloned"),
        ({(1,): 1}, JsTypeError, "Tuples cannot be cloned"),
    ],
)
def test_refuses_what_structured_clone_refuses(value, error, message):
    with pytest.raises(error, match=message):
        serial.dumps(value)


def test_rejects_foreign_or_damaged_bytes():
    with pytest.raises(serial.SerialError):
        serial.loads(b"\x80\x04pickle")
    good = serial.dumps({"a": "long enough"})
    with pytest.raises(serial.SerialError):
        serial.loads(good[:-3])
    with pytest.raises(serial.SerialError):
        serial.loads(good + b"N")


def test_codec_by_content_type():
    assert codec.content_type("JSON") == "json"
    assert codec.decode(codec.encode({"é": [1]}, "json"), "json") == {"é": [1]}
    assert codec.encode({"é": 1}, "json") == '{"é":1}'.encode()
    assert codec.decode(codec.encode("t", "text"), "text") == "t"
    assert bytes(codec.decode(codec.encode(memoryview(b"b"), "bytes"), "bytes")) == b"b"
    with pytest.raises(JsTypeError, match="cannot be serialised as JSON"):
        codec.encode(math.nan, "json")
    with pytest.raises(JsTypeError, match="bytearray"):
        codec.encode(bytearray(b"x"), "bytes")
    with pytest.raises(JsTypeError, match="received: object"):
        codec.encode(None, "text")
