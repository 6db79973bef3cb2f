"""The KV contract: every method, option, limit and error text, on every backend.

Mirrors Miniflare's KV tests (reference §1.4); time is a ManualClock starting at 1000 s.
"""

import base64
import json
from array import array

import pytest

from bindings import JsDict, JsException, JsTypeError
from bindings.body import ReadableStream
from bindings.kv import KVError, KVJSONError
from bindings.kv import namespace as kvmod

UNKNOWN_TYPE = (
    'Unknown response type. Possible types are "text", "arrayBuffer", "json", and "stream".'
)
BAD_VALUE = (
    "KV put() accepts only strings, ArrayBuffers, ArrayBufferViews, and ReadableStreams as values."
)


async def chunks(*parts):
    for part in parts:
        yield part


async def read(stream):
    return b"".join([chunk async for chunk in stream])


# -- key validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "op"),
    [
        (lambda kv, k: kv.get(k), "GET"),
        (lambda kv, k: kv.getWithMetadata(k), "GET"),
        (lambda kv, k: kv.put(k, "v"), "PUT"),
        (lambda kv, k: kv.delete(k), "DELETE"),
    ],
    ids=["get", "getWithMetadata", "put", "delete"],
)
async def test_key_names_are_validated(case, call, op):
    with pytest.raises(JsTypeError, match=r"^Key name cannot be empty\.$"):
        await call(case.kv, "")
    with pytest.raises(JsTypeError) as dot:
        await call(case.kv, ".")
    assert str(dot.value) == '"." is not allowed as a key name.'
    with pytest.raises(JsTypeError) as dotdot:
        await call(case.kv, "..")
    assert str(dotdot.value) == '".." is not allowed as a key name.'
    with pytest.raises(KVError) as long:
        await call(case.kv, "x" * 513)
    assert str(long.value) == (
        f"KV {op} failed: 414 UTF-8 encoded length of 513 exceeds key length limit of 512."
    )
    assert long.value.status == 414 and isinstance(long.value, JsException)
    with pytest.raises(KVError, match="UTF-8 encoded length of 514 exceeds"):
        await call(case.kv, "é" * 257)  # 257 characters, 514 bytes


async def test_longest_key_and_dotted_names_are_fine(case):
    for key in ("x" * 512, "...", ".a", "a/b", " "):
        await case.kv.put(key, key)
        assert await case.kv.get(key) == key


async def test_a_key_limit_can_be_lowered(case, monkeypatch):
    monkeypatch.setattr(kvmod, "KV_MAX_KEY_BYTES", 4)
    await case.kv.put("abcd", "ok")
    with pytest.raises(
        KVError,
        match=r"^KV PUT failed: 414 UTF-8 encoded length of 5 exceeds key length limit of 4\.$",
    ):
        await case.kv.put("abcde", "no")


# -- get ------------------------------------------------------------------------------------------


async def test_get_returns_text_by_default_and_none_when_missing(case):
    await case.kv.put("key", "välue ✓")
    assert await case.kv.get("key") == "välue ✓"
    assert await case.kv.get("missing") is None
    for kind in ("text", "json", "arrayBuffer", "stream"):
        assert await case.kv.get("missing", kind) is None


async def test_get_array_buffer_round_trips_bytes(case):
    data = bytes([0, 1, 2, 127, 128, 254, 255])
    await case.kv.put("bin", data)
    value = await case.kv.get("bin", "arrayBuffer")
    assert isinstance(value, memoryview)
    assert bytes(value) == data
    assert await case.kv.get("bin") == data.decode("utf-8", "replace")


async def test_get_stream_round_trips(case):
    await case.kv.put("s", ReadableStream(chunks(b"one ", b"two ", b"three")))
    stream = await case.kv.get("s", "stream")
    assert isinstance(stream, ReadableStream)
    assert await read(stream) == b"one two three"


async def test_get_json_parses_into_jsdicts(case):
    await case.kv.put("j", json.dumps({"a": {"b": [1, 2, {"c": None}]}, "t": True}))
    value = await case.kv.get("j", "json")
    assert value == {"a": {"b": [1, 2, {"c": None}]}, "t": True}
    assert isinstance(value, JsDict) and value.a.b[2].c is None


async def test_type_and_cache_ttl_may_be_positional_keyword_or_a_dict(case):
    await case.kv.put("j", "[1, 2]")
    forms = [
        case.kv.get("j", "json"),
        case.kv.get("j", type="json"),
        case.kv.get("j", {"type": "json"}),
        case.kv.get("j", {"type": "json", "cacheTtl": 30}),
        case.kv.get("j", type="json", cacheTtl=60),
        case.kv.get("j", "json", cacheTtl=60),
    ]
    for form in forms:
        assert await form == [1, 2]
    assert await case.kv.get("j", None) == "[1, 2]"
    assert await case.kv.get("j", {"cacheTtl": 45}) == "[1, 2]"


async def test_get_json_of_a_non_json_value_raises_a_syntax_error(case):
    await case.kv.put("bad", "not json")
    with pytest.raises(KVJSONError) as err:
        await case.kv.get("bad", "json")
    assert isinstance(err.value, json.JSONDecodeError) and isinstance(err.value, JsException)
    assert err.value.name == "SyntaxError"


async def test_unknown_type_is_a_type_error_once_the_value_exists(case):
    await case.kv.put("k", "v")
    with pytest.raises(JsTypeError) as err:
        await case.kv.get("k", "blob")
    assert str(err.value) == UNKNOWN_TYPE
    with pytest.raises(JsTypeError, match="Unknown response type"):
        await case.kv.getWithMetadata("k", {"type": ""})
    assert await case.kv.get("absent", "blob") is None  # workerd checks the type after the read


@pytest.mark.parametrize(("ttl", "shown"), [("not a number", 0), (10, 10), (29.9, 29), (-5, -5)])
async def test_cache_ttl_below_30_is_refused(case, ttl, shown):
    await case.kv.put("k", "v")
    for call in (case.kv.get("k", cacheTtl=ttl), case.kv.getWithMetadata("k", cacheTtl=ttl)):
        with pytest.raises(KVError) as err:
            await call
        assert str(err.value) == (
            f"KV GET failed: 400 Invalid cache_ttl of {shown}. Cache TTL must be at least 30."
        )


async def test_cache_ttl_of_30_or_more_is_accepted(case):
    await case.kv.put("k", "v")
    assert await case.kv.get("k", cacheTtl=30) == "v"
    assert await case.kv.get("k", cacheTtl="60") == "v"
    assert await case.kv.get("missing", cacheTtl=3600) is None


async def test_expired_values_are_gone_at_their_expiration(case):
    await case.kv.put("k", "v", expirationTtl=60)
    case.clock.advance(59.999)
    assert await case.kv.get("k") == "v"
    case.clock.advance(0.001)
    assert await case.kv.get("k") is None
    assert await case.kv.getWithMetadata("k") == {
        "value": None,
        "metadata": None,
        "cacheStatus": None,
    }


async def test_keys_may_be_numbers_or_none_as_in_js(case):
    await case.kv.put(42, "int")
    await case.kv.put(None, 1.0)
    assert await case.kv.get("42") == "int"
    assert await case.kv.get("null") == "1"
    with pytest.raises(JsTypeError):
        await case.kv.get({"a": 1})


# -- getWithMetadata ------------------------------------------------------------------------------


async def test_get_with_metadata(case):
    await case.kv.put("m", "v", metadata={"owner": "ann", "n": [1, 2]})
    await case.kv.put("plain", "w")
    result = await case.kv.getWithMetadata("m")
    assert result == {"value": "v", "metadata": {"owner": "ann", "n": [1, 2]}, "cacheStatus": None}
    assert result.metadata.owner == "ann"
    assert await case.kv.getWithMetadata("plain") == {
        "value": "w",
        "metadata": None,
        "cacheStatus": None,
    }
    assert await case.kv.getWithMetadata("missing") == {
        "value": None,
        "metadata": None,
        "cacheStatus": None,
    }
    binary = await case.kv.getWithMetadata("m", "arrayBuffer")
    assert bytes(binary.value) == b"v"


# -- bulk get -------------------------------------------------------------------------------------


async def test_bulk_get_returns_a_dict_with_none_for_missing_keys(case):
    await case.kv.put("a", "1")
    await case.kv.put("b", "2")
    result = await case.kv.get(["a", "missing", "b", "a"])
    assert result == {"a": "1", "missing": None, "b": "2"}
    assert list(result) == ["a", "missing", "b"]


async def test_bulk_get_json(case):
    await case.kv.put("j", '{"x": [1]}')
    await case.kv.put("n", "5")
    result = await case.kv.get(["j", "n"], "json")
    assert result == {"j": {"x": [1]}, "n": 5} and result["j"].x == [1]
    await case.kv.put("bad", "nope")
    with pytest.raises(KVError) as err:
        await case.kv.get(["j", "bad"], {"type": "json"})
    assert str(err.value) == (
        "KV GET_BULK failed: 400 At least one of the requested keys corresponds to a non-json value"
    )


async def test_bulk_get_limits_and_types(case):
    with pytest.raises(KVError) as many:
        await case.kv.get([f"k{i}" for i in range(101)])
    assert str(many.value) == "KV GET_BULK failed: 400 You can request a maximum of 100 keys"
    assert await case.kv.get([f"k{i}" for i in range(100)]) == {f"k{i}": None for i in range(100)}
    with pytest.raises(KVError) as none:
        await case.kv.get([])
    assert str(none.value) == "KV GET_BULK failed: 400 You must request a minimum of 1 key"
    for kind in ("arrayBuffer", "stream"):
        with pytest.raises(KVError) as bad:
            await case.kv.get(["a"], kind)
        assert (
            str(bad.value)
            == f'KV GET_BULK failed: 400 "{kind}" is not a valid type. Use "json" or "text"'
        )
    assert await case.kv.get(["a"], "") == {"a": None}


async def test_bulk_get_validates_each_key_on_the_server_side(case):
    cases = [
        ([""], "400 Key names must not be empty"),
        (["ok", "."], '400 Illegal key name ".". Please use a different name.'),
        ([".."], '400 Illegal key name "..". Please use a different name.'),
        (["x" * 513], "414 UTF-8 encoded length of 513 exceeds key length limit of 512."),
    ]
    for keys, message in cases:
        with pytest.raises(KVError) as err:
            await case.kv.get(keys)
        assert str(err.value) == f"KV GET_BULK failed: {message}"
    with pytest.raises(KVError) as ttl:
        await case.kv.get(["a"], cacheTtl=10)
    assert (
        str(ttl.value)
        == "KV GET_BULK failed: 400 Invalid cache_ttl of 10. Cache TTL must be at least 30."
    )


async def test_bulk_get_with_metadata(case):
    await case.kv.put("obj", "1", metadata={"a": 1})
    await case.kv.put("int", "2", metadata=123)
    await case.kv.put("str", "3", metadata="note")
    await case.kv.put("none", "4")
    result = await case.kv.getWithMetadata(["obj", "int", "str", "none", "missing"])
    assert result == {
        "obj": {"value": "1", "metadata": {"a": 1}},
        "int": {"value": "2", "metadata": 123},
        "str": {"value": "3", "metadata": "note"},
        "none": {"value": "4", "metadata": None},
        "missing": None,
    }
    assert result["obj"].metadata.a == 1


async def test_bulk_get_with_metadata_keeps_falsy_values(case):
    await case.kv.put("empty", "", metadata={"m": 1})
    await case.kv.put("zero", "0", metadata={"m": 2})
    await case.kv.put("false", "false", metadata={"m": 3})
    text = await case.kv.getWithMetadata(["empty", "zero", "false"])
    assert text == {
        "empty": {"value": "", "metadata": {"m": 1}},
        "zero": {"value": "0", "metadata": {"m": 2}},
        "false": {"value": "false", "metadata": {"m": 3}},
    }
    parsed = await case.kv.getWithMetadata(["zero", "false"], "json")
    assert parsed == {
        "zero": {"value": 0, "metadata": {"m": 2}},
        "false": {"value": False, "metadata": {"m": 3}},
    }


async def test_bulk_get_total_size_limit_counts_utf16_units(case, monkeypatch):
    monkeypatch.setattr(kvmod, "KV_MAX_BULK_BYTES", 1024)
    await case.kv.put("a", "x" * 1024)
    await case.kv.put("b", "y" * 1024)
    assert await case.kv.get(["a"]) == {"a": "x" * 1024}
    with pytest.raises(KVError) as err:
        await case.kv.get(["a", "b"])
    assert str(err.value) == (
        "KV GET_BULK failed: 413 Total size of request exceeds the limit of 0.0009765625MB"
    )
    monkeypatch.setattr(kvmod, "KV_MAX_BULK_BYTES", 4)
    await case.kv.put("accents", "ééé")  # 3 UTF-16 units (6 bytes): fits
    await case.kv.put("emoji", "😀😀😀")  # 6 UTF-16 units: too much
    assert await case.kv.get(["accents"]) == {"accents": "ééé"}
    with pytest.raises(KVError, match="413 Total size"):
        await case.kv.get(["emoji"])


async def test_bulk_get_total_size_limit_defaults_to_25_mb(case):
    await case.kv.put("a", "x" * (13 * 1024 * 1024))
    await case.kv.put("b", "y" * (13 * 1024 * 1024))
    with pytest.raises(KVError) as err:
        await case.kv.get(["a", "b"])
    assert (
        str(err.value) == "KV GET_BULK failed: 413 Total size of request exceeds the limit of 25MB"
    )


async def test_bulk_get_hides_expired_keys(case):
    await case.kv.put("short", "1", expirationTtl=60)
    await case.kv.put("long", "2", expirationTtl=120)
    case.clock.advance(60)
    assert await case.kv.get(["short", "long"]) == {"short": None, "long": "2"}


# -- put ------------------------------------------------------------------------------------------


async def test_put_stores_value_metadata_and_expiration(case):
    await case.kv.put("k", "v", expiration=1500, metadata={"testing": True})
    assert await case.kv.getWithMetadata("k") == {
        "value": "v",
        "metadata": {"testing": True},
        "cacheStatus": None,
    }
    listed = await case.kv.list()
    assert listed["keys"] == [{"name": "k", "expiration": 1500, "metadata": {"testing": True}}]
    await case.kv.put("t", "v", {"expirationTtl": 90})
    assert (await case.kv.list(prefix="t"))["keys"] == [{"name": "t", "expiration": 1090}]


async def test_put_empty_values(case):
    await case.kv.put("empty", "")
    await case.kv.put("nothing", b"")
    assert await case.kv.get("empty") == ""
    assert bytes(await case.kv.get("nothing", "arrayBuffer")) == b""
    assert await case.kv.get(["empty", "nothing"]) == {"empty": "", "nothing": ""}


async def test_put_overwrites_value_metadata_and_expiration(case):
    await case.kv.put("k", "old", metadata={"v": 1}, expirationTtl=60)
    await case.kv.put("k", "new", metadata={"v": 2})
    assert await case.kv.getWithMetadata("k") == {
        "value": "new",
        "metadata": {"v": 2},
        "cacheStatus": None,
    }
    await case.kv.put("k", "newer")
    assert await case.kv.getWithMetadata("k") == {
        "value": "newer",
        "metadata": None,
        "cacheStatus": None,
    }
    case.clock.advance(120)
    assert await case.kv.get("k") == "newer"
    assert (await case.kv.list())["keys"] == [{"name": "k"}]


async def test_keys_are_case_sensitive(case):
    await case.kv.put("key", "lower")
    await case.kv.put("KEY", "upper")
    assert await case.kv.get("key") == "lower"
    assert await case.kv.get("KEY") == "upper"


async def test_put_accepts_every_bytes_like_value_and_streams(case):
    values = {
        "str": ("ünï", b"\xc3\xbcn\xc3\xaf"),
        "bytes": (b"\x00\x01", b"\x00\x01"),
        "bytearray": (bytearray(b"ba"), b"ba"),
        "memoryview": (memoryview(b"mv"), b"mv"),
        "typed": (memoryview(array("H", [1, 2])), array("H", [1, 2]).tobytes()),
        "stream": (ReadableStream(chunks(b"a", bytearray(b"b"), memoryview(b"c"))), b"abc"),
        "asyncgen": (chunks(b"x", b"y"), b"xy"),
        "int": (7, b"7"),
        "float": (1.5, b"1.5"),
        "bool": (True, b"true"),
        "none": (None, b"null"),
    }
    for key, (value, _) in values.items():
        await case.kv.put(key, value)
    for key, (_, stored) in values.items():
        assert bytes(await case.kv.get(key, "arrayBuffer")) == stored, key


async def test_put_copies_mutable_buffers(case):
    buffer = bytearray(b"before")
    await case.kv.put("k", buffer)
    buffer[:] = b"after!"
    assert await case.kv.get("k") == "before"


@pytest.mark.parametrize(
    "value", [{"a": 1}, [1, 2], (1,), object()], ids=["dict", "list", "tuple", "object"]
)
async def test_put_refuses_other_values(case, value):
    with pytest.raises(JsTypeError) as err:
        await case.kv.put("k", value)
    assert str(err.value) == BAD_VALUE
    with pytest.raises(JsTypeError, match="KV put\\(\\) accepts only"):
        await case.kv.put("k", chunks("text chunks are not bytes"))
    assert await case.kv.get("k") is None


@pytest.mark.parametrize(("ttl", "shown"), [("nan", 0), (0, 0), (-1, -1), (None, None)])
async def test_expiration_ttl_must_be_positive(case, ttl, shown):
    if ttl is None:  # None means "not given"
        await case.kv.put("k", "v", expirationTtl=ttl)
        return
    with pytest.raises(KVError) as err:
        await case.kv.put("k", "v", expirationTtl=ttl)
    assert str(err.value) == (
        f"KV PUT failed: 400 Invalid expiration_ttl of {shown}. "
        "Please specify integer greater than 0."
    )


async def test_expiration_ttl_must_be_at_least_60(case):
    with pytest.raises(KVError) as err:
        await case.kv.put("k", "v", expirationTtl=30)
    assert str(err.value) == (
        "KV PUT failed: 400 Invalid expiration_ttl of 30. Expiration TTL must be at least 60."
    )
    await case.kv.put("k", "v", expirationTtl=60.9)  # truncated to 60
    assert (await case.kv.list())["keys"] == [{"name": "k", "expiration": 1060}]


async def test_expiration_must_be_in_the_future(case):
    for raw, shown in (("nan", 0), (1000, 1000), (999.5, 999)):
        with pytest.raises(KVError) as err:
            await case.kv.put("k", "v", expiration=raw)
        assert str(err.value) == (
            f"KV PUT failed: 400 Invalid expiration of {shown}. Please specify integer greater "
            "than the current number of seconds since the UNIX epoch."
        )
    with pytest.raises(KVError) as soon:
        await case.kv.put("k", "v", expiration=1030)
    assert str(soon.value) == (
        "KV PUT failed: 400 Invalid expiration of 1030. "
        "Expiration times must be at least 60 seconds in the future."
    )
    await case.kv.put("k", "v", expiration="1060")
    assert (await case.kv.list())["keys"] == [{"name": "k", "expiration": 1060}]


async def test_expiration_ttl_wins_over_expiration(case):
    await case.kv.put("k", "v", expiration=5, expirationTtl=120)  # expiration is not validated
    assert (await case.kv.list())["keys"] == [{"name": "k", "expiration": 1120}]


async def test_the_clock_is_floored_to_seconds(case):
    case.clock.set(1000.9)
    await case.kv.put("k", "v", expirationTtl=60)
    assert (await case.kv.list())["keys"] == [{"name": "k", "expiration": 1060}]


async def test_value_size_limit_counts_the_whole_stream(case, monkeypatch):
    monkeypatch.setattr(kvmod, "KV_MAX_VALUE_BYTES", 1024)
    await case.kv.put("fits", ReadableStream(chunks(b"x" * 1000, b"y" * 24)))
    assert len(await case.kv.get("fits")) == 1024
    message = "KV PUT failed: 413 Value length of {} exceeds limit of 1024."
    with pytest.raises(KVError) as stream:
        await case.kv.put("big", ReadableStream(chunks(b"x" * 1000, b"y" * 25)))
    assert str(stream.value) == message.format(1025)
    with pytest.raises(KVError) as long_stream:
        await case.kv.put("big", chunks(b"x" * 1000, b"y" * 1000, b"z" * 1000))
    assert str(long_stream.value) == message.format(3000)
    with pytest.raises(KVError) as data:
        await case.kv.put("big", b"x" * 1025)
    assert str(data.value) == message.format(1025)
    with pytest.raises(KVError) as text:
        await case.kv.put("big", "é" * 513)
    assert str(text.value) == message.format(1026)
    with pytest.raises(KVError) as known:
        await case.kv.put("big", ReadableStream(chunks(), length=5000))
    assert str(known.value) == message.format(5000)
    assert await case.kv.get("big") is None


async def test_value_size_limit_defaults_to_25_mib(case):
    with pytest.raises(KVError) as err:
        await case.kv.put("big", b"x" * (25 * 1024 * 1024 + 1))
    assert (
        str(err.value) == "KV PUT failed: 413 Value length of 26214401 exceeds limit of 26214400."
    )


async def test_metadata_size_is_its_json_length_in_utf8(case):
    fits = {"k": "x" * (1024 - len('{"k":""}'))}
    await case.kv.put("k", "v", metadata=fits)
    assert (await case.kv.getWithMetadata("k")).metadata == fits
    with pytest.raises(KVError) as err:
        await case.kv.put("k", "v", metadata={"k": "x" * (1025 - len('{"k":""}'))})
    assert str(err.value) == "KV PUT failed: 413 Metadata length of 1025 exceeds limit of 1024."
    with pytest.raises(KVError, match="Metadata length of 1026 exceeds"):
        await case.kv.put("k", "v", metadata={"k": "é" * 509})
    with pytest.raises(JsTypeError):
        await case.kv.put("k", "v", metadata={"when": object()})


async def test_put_validates_in_workerds_order(case, monkeypatch):
    monkeypatch.setattr(kvmod, "KV_MAX_VALUE_BYTES", 4)
    big_meta = {"m": "x" * 2000}
    with pytest.raises(JsTypeError, match="Key name cannot be empty"):
        await case.kv.put("", {"bad": "value"}, expirationTtl=1)
    with pytest.raises(JsTypeError, match="accepts only"):
        await case.kv.put("k", {"bad": "value"}, expirationTtl=1)
    with pytest.raises(KVError, match="expiration_ttl of 1"):
        await case.kv.put("k", "too long", expirationTtl=1, metadata=big_meta)
    with pytest.raises(KVError, match="Metadata length"):
        await case.kv.put("k", "too long", metadata=big_meta)
    with pytest.raises(KVError, match="Value length of 8"):
        await case.kv.put("k", "too long", metadata={"ok": 1})


# -- delete ---------------------------------------------------------------------------------------


async def test_delete(case):
    await case.kv.put("k", "v", metadata={"a": 1})
    assert await case.kv.delete("k") is None
    assert await case.kv.get("k") is None
    assert await case.kv.getWithMetadata("k") == {
        "value": None,
        "metadata": None,
        "cacheStatus": None,
    }
    assert (await case.kv.list())["keys"] == []
    await case.kv.delete("never-there")


# -- list -----------------------------------------------------------------------------------------


async def put_all(kv, *keys):
    for key in keys:
        await kv.put(key, "v")


async def test_list_sorts_by_utf8_bytes(case):
    # U+E000 sorts before U+1F600 in UTF-8 bytes, after it in UTF-16 units.
    keys = ["😀", "\ue000", "é", "~", "z", "b", "a", "B", "A", "key10", "key2", "key1"]
    await put_all(case.kv, *keys)
    result = await case.kv.list()
    assert [k["name"] for k in result["keys"]] == sorted(keys, key=lambda k: k.encode())
    assert result == {"keys": result["keys"], "list_complete": True, "cacheStatus": None}
    assert isinstance(result, JsDict) and result.list_complete is True


async def test_list_punctuation_order(case):
    await put_all(case.kv, ", ", "!")
    assert [k["name"] for k in (await case.kv.list())["keys"]] == ["!", ", "]


async def test_list_prefix_is_an_exact_case_sensitive_byte_prefix(case):
    await put_all(
        case.kv, "section1key1", "section1key2", "section2key1", "Section1key3", "section1"
    )
    names = [k["name"] for k in (await case.kv.list(prefix="section1"))["keys"]]
    assert names == ["section1", "section1key1", "section1key2"]
    assert (await case.kv.list(prefix="SECTION"))["keys"] == []


async def test_list_prefix_wildcards_are_literal(case):
    await put_all(case.kv, "a\\_%b", "a\\xyz", "a_b", "a%b", "abc")
    names = [k["name"] for k in (await case.kv.list(prefix="a\\_%"))["keys"]]
    assert names == ["a\\_%b"]
    assert [k["name"] for k in (await case.kv.list(prefix="a_"))["keys"]] == ["a_b"]


async def test_list_prefix_at_the_end_of_unicode(case):
    top = "\U0010ffff"
    await put_all(case.kv, "a" + top, "a" + top + "x", "b")
    names = [k["name"] for k in (await case.kv.list(prefix="a" + top))["keys"]]
    assert names == ["a" + top, "a" + top + "x"]
    assert [k["name"] for k in (await case.kv.list(prefix="a\ud7ff"))["keys"]] == []


async def test_list_entries_carry_expiration_and_metadata_only_when_set(case):
    await case.kv.put("both", "v", expiration=2000, metadata={"m": 1})
    await case.kv.put("exp", "v", expirationTtl=100)
    await case.kv.put("meta", "v", metadata=[1, "two"])
    await case.kv.put("plain", "v")
    keys = (await case.kv.list())["keys"]
    assert keys == [
        {"name": "both", "expiration": 2000, "metadata": {"m": 1}},
        {"name": "exp", "expiration": 1100},
        {"name": "meta", "metadata": [1, "two"]},
        {"name": "plain"},
    ]
    assert keys[0].metadata.m == 1


async def test_list_empty_and_no_match(case):
    assert await case.kv.list() == {"keys": [], "list_complete": True, "cacheStatus": None}
    await case.kv.put("a", "v")
    assert await case.kv.list(prefix="b") == {
        "keys": [],
        "list_complete": True,
        "cacheStatus": None,
    }
    assert await case.kv.list(None) == await case.kv.list({})


async def test_list_paginates_with_cursors_meaning_strictly_after(case):
    await put_all(case.kv, "key1", "key2", "key3", "key4", "key5")
    page = await case.kv.list(limit=2)
    assert [k["name"] for k in page["keys"]] == ["key1", "key2"]
    assert page["list_complete"] is False
    assert page["cursor"] == base64.b64encode(b"key2").decode()
    page = await case.kv.list({"limit": 2, "cursor": page["cursor"]})
    assert [k["name"] for k in page["keys"]] == ["key3", "key4"]
    assert page["list_complete"] is False
    page = await case.kv.list(limit=2, cursor=page["cursor"])
    assert page == {"keys": [{"name": "key5"}], "list_complete": True, "cacheStatus": None}
    assert "cursor" not in page


async def test_list_exact_last_page_has_no_cursor(case):
    await put_all(case.kv, "a", "b")
    page = await case.kv.list(limit=2)
    assert page == {
        "keys": [{"name": "a"}, {"name": "b"}],
        "list_complete": True,
        "cacheStatus": None,
    }


async def test_list_paginates_with_a_prefix_and_varying_limits(case):
    await put_all(case.kv, "x", "p", "p1", "p2", "p3", "q")
    page = await case.kv.list(prefix="p", limit=1)
    assert [k["name"] for k in page["keys"]] == ["p"]  # the cursor is now the prefix itself
    page = await case.kv.list(prefix="p", limit=2, cursor=page["cursor"])
    assert [k["name"] for k in page["keys"]] == ["p1", "p2"]
    page = await case.kv.list(prefix="p", limit=5, cursor=page["cursor"])
    assert page == {"keys": [{"name": "p3"}], "list_complete": True, "cacheStatus": None}


async def test_list_sees_keys_inserted_after_the_cursor_only(case):
    await put_all(case.kv, "key1", "key3", "key5")
    page = await case.kv.list(limit=2)
    await put_all(case.kv, "key2", "key4")
    page = await case.kv.list(limit=2, cursor=page["cursor"])
    assert [k["name"] for k in page["keys"]] == ["key4", "key5"]
    assert page["list_complete"] is True


async def test_list_cursor_is_lenient_base64(case):
    await put_all(case.kv, "a", "ab", "b")
    unpadded = base64.b64encode(b"ab").decode().rstrip("=")
    assert [k["name"] for k in (await case.kv.list(cursor=unpadded))["keys"]] == ["b"]
    assert [k["name"] for k in (await case.kv.list(cursor=""))["keys"]] == ["a", "ab", "b"]


async def test_list_prefix_length_limit(case):
    await case.kv.put("x" * 512, "v")
    assert [k["name"] for k in (await case.kv.list(prefix="x" * 512))["keys"]] == ["x" * 512]
    with pytest.raises(KVError) as err:
        await case.kv.list(prefix="x" * 513)
    assert (
        str(err.value)
        == "KV GET failed: 414 UTF-8 encoded length of 513 exceeds key length limit of 512."
    )


async def test_list_limit(case, monkeypatch):
    with pytest.raises(KVError) as err:
        await case.kv.list(limit=1001)
    assert str(err.value) == (
        "KV GET failed: 400 Invalid key_count_limit of 1001. "
        "Please specify an integer less than 1000."
    )
    assert (await case.kv.list(limit=1000))["list_complete"] is True
    monkeypatch.setattr(kvmod, "KV_MAX_LIST_KEYS", 3)
    await put_all(case.kv, "a", "b", "c", "d")
    for limit in (None, 0, -5, "nope"):  # workerd drops a limit <= 0: the default applies
        page = await case.kv.list(limit=limit)
        assert [k["name"] for k in page["keys"]] == ["a", "b", "c"] and page["cursor"], limit


async def test_list_hides_expired_keys(case):
    await case.kv.put("key1", "v", expirationTtl=60)
    await case.kv.put("key2", "v", expirationTtl=120)
    await case.kv.put("key3", "v", expirationTtl=180)
    case.clock.advance(130)
    assert await case.kv.list() == {
        "keys": [{"name": "key3", "expiration": 1180}],
        "list_complete": True,
        "cacheStatus": None,
    }


async def test_list_pages_stay_full_around_expired_keys(case):
    await put_all(case.kv, "a", "z")
    for i in range(5):
        await case.kv.put(f"m{i}", "v", expirationTtl=60)
    case.clock.advance(61)
    page = await case.kv.list(limit=2)
    assert page == {
        "keys": [{"name": "a"}, {"name": "z"}],
        "list_complete": True,
        "cacheStatus": None,
    }


async def test_at_the_expiry_instant_list_still_shows_the_key_but_get_does_not(case):
    await case.kv.put("k", "v", expirationTtl=60)
    case.clock.advance(60)
    assert (await case.kv.list())["keys"] == [{"name": "k", "expiration": 1060}]
    assert await case.kv.get("k") is None
    case.clock.advance(0.001)
    assert (await case.kv.list())["keys"] == []


# -- namespaces -----------------------------------------------------------------------------------


async def test_namespaces_are_isolated_and_shared_by_id(
    hearth, tmp_path, kv_worker, redis_prefix, backend_name
):
    from tests.kv.conftest import kv_config

    config = kv_config(
        backend_name,
        redis_prefix,
        [
            {"binding": "ONE", "id": "one"},
            {"binding": "TWO", "id": "two"},
            {"binding": "ALSO_ONE", "id": "one"},
        ],
    )
    config["workers"].append(
        {
            "name": "other",
            "main": "kv_worker:app",
            "kv_namespaces": [{"binding": "KV", "id": "one"}],
        }
    )
    h = await hearth(config)
    one, two, also, other = (
        h.env("kvtest").ONE,
        h.env("kvtest").TWO,
        h.env("kvtest").ALSO_ONE,
        h.env("other").KV,
    )
    await one.put("k", "from one")
    await two.put("k", "from two")
    assert await two.get("k") == "from two"
    assert await also.get("k") == "from one"
    assert await other.get("k") == "from one"
    await other.delete("k")
    assert await one.get("k") is None
    assert [k["name"] for k in (await two.list())["keys"]] == ["k"]
