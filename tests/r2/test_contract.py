"""R2's contract, run against every backend (fs and s3): methods, options, limits, error texts.

Ported from Miniflare's r2/index.spec.ts (reference §2.4) plus what Python adds (value types,
item access, error classes). Limits that are huge for real R2 are lowered through the named
constants in ``bindings.r2.bucket``, as Miniflare's test mode does.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from bindings import JsException, JsRangeError, JsTypeError
from bindings.body import Blob, ReadableStream
from bindings.headers import Headers
from bindings.r2 import (
    R2BadDigest,
    R2Error,
    R2InvalidObjectName,
    R2InvalidRange,
    R2MetadataTooLarge,
    R2Object,
    R2ObjectBody,
)
from bindings.r2 import bucket as bucket_mod

PART = 50  # the lowered minimum part size, as Miniflare's test mode
EXPIRY = datetime(2023, 2, 24, tzinfo=UTC)
HTTP_METADATA = {
    "contentType": "text/plain",
    "contentLanguage": "en-GB",
    "contentDisposition": 'attachment; filename="value.txt"',
    "contentEncoding": "gzip",
    "cacheControl": "max-age=3600",
    "cacheExpiry": EXPIRY,
}
VALUE_MD5 = "2063c1608d6e0baf80249c42e2be5804"  # md5("value")


def md5(value: str | bytes) -> str:
    return hashlib.md5(value.encode() if isinstance(value, str) else value).hexdigest()


def digest(value: str, algorithm: str) -> str:
    return hashlib.new(algorithm, value.encode()).hexdigest()


def recent(when: datetime) -> bool:
    return abs(when.timestamp() - time.time()) < 10


async def chunks(*parts: bytes):
    for part in parts:
        yield part


async def read_text(r2, key: str, **options) -> str | None:
    obj = await r2.get(key, **options)
    return None if obj is None else await obj.text()


@pytest.fixture
def small_parts(monkeypatch):
    monkeypatch.setattr(bucket_mod, "R2_MIN_PART_BYTES", PART)


# -- head / get ---------------------------------------------------------------------------
async def test_head_and_get_return_none_for_missing_keys(r2):
    assert await r2.head("key") is None
    assert await r2.get("key") is None


async def test_head_returns_full_metadata(r2):
    put = await r2.put("key", "value", httpMetadata=HTTP_METADATA, customMetadata={"key": "value"})
    for obj in (await r2.head("key"), await r2.get("key")):
        assert obj.key == obj["key"] == "key"
        assert len(obj.version) == 32 and int(obj.version, 16) >= 0
        assert obj.version == put.version
        assert obj.size == 5
        assert obj.etag == VALUE_MD5
        assert obj.httpEtag == f'"{VALUE_MD5}"'
        assert obj.checksums.toJSON() == {"md5": VALUE_MD5}
        assert bytes(obj.checksums.md5) == bytes.fromhex(VALUE_MD5)
        assert obj.checksums.sha256 is None
        assert obj.httpMetadata == HTTP_METADATA
        assert obj.customMetadata == {"key": "value"}
        assert obj.range == {"offset": 0, "length": 5}
        assert obj.storageClass == "Standard"
        assert recent(obj.uploaded)
        assert obj["httpMetadata"]["contentType"] == obj.httpMetadata.contentType == "text/plain"

        headers = Headers({"X-Key": "value"})
        assert obj.writeHttpMetadata(headers) is None
        assert headers.get("Content-Type") == "text/plain"
        assert headers.get("Content-Language") == "en-GB"
        assert headers.get("Content-Disposition") == 'attachment; filename="value.txt"'
        assert headers.get("Content-Encoding") == "gzip"
        assert headers.get("Cache-Control") == "max-age=3600"
        assert headers.get("Expires") == "Fri, 24 Feb 2023 00:00:00 GMT"
        assert headers.get("X-Key") == "value"


@pytest.mark.parametrize(
    ("op", "call"),
    [
        ("head", lambda r2, key: r2.head(key)),
        ("get", lambda r2, key: r2.get(key)),
        ("put", lambda r2, key: r2.put(key, "v")),
        ("delete", lambda r2, key: r2.delete(key)),
        ("delete", lambda r2, key: r2.delete(["valid key", key])),
        ("createMultipartUpload", lambda r2, key: r2.createMultipartUpload(key)),
        ("uploadPart", lambda r2, key: r2.resumeMultipartUpload(key, "bad").uploadPart(1, "v")),
        ("abortMultipartUpload", lambda r2, key: r2.resumeMultipartUpload(key, "bad").abort()),
        ("completeMultipartUpload",
         lambda r2, key: r2.resumeMultipartUpload(key, "bad").complete([])),
    ],
)  # fmt: skip
async def test_every_operation_validates_the_key(r2, op, call):
    with pytest.raises(R2InvalidObjectName) as info:
        await call(r2, "x" * 1025)
    assert str(info.value) == f"{op}: The specified object name is not valid. (10020)"
    assert (info.value.code, info.value.status, info.value.action) == (10020, 400, op)
    with pytest.raises(R2InvalidObjectName):
        await call(r2, "é" * 513)  # 1026 UTF-8 bytes


async def test_get_reads_the_body_every_way(r2):
    await r2.put("key", '{"a": [1, 2]}', httpMetadata={"contentType": "application/json"})
    obj = await r2.get("key")
    assert isinstance(obj, R2ObjectBody) and "body" in obj
    assert obj.bodyUsed is False
    assert await obj.json() == {"a": [1, 2]}
    assert obj.bodyUsed is True
    with pytest.raises(JsTypeError, match="Body has already been used"):
        await obj.text()
    assert await (await r2.get("key")).text() == '{"a": [1, 2]}'
    assert await (await r2.get("key")).bytes() == b'{"a": [1, 2]}'
    assert bytes(await (await r2.get("key")).arrayBuffer()) == b'{"a": [1, 2]}'
    blob = await (await r2.get("key")).blob()
    assert (blob.type, await blob.text()) == ("application/json", '{"a": [1, 2]}')
    body = (await r2.get("key")).body
    assert isinstance(body, ReadableStream) and body.length == 13
    assert b"".join([chunk async for chunk in body]) == b'{"a": [1, 2]}'


async def test_get_range_object_form(r2):
    await r2.put("key", "value")
    for spec, expected, offset, length in [
        ({"offset": 3}, "ue", 3, 2),
        ({"length": 3}, "val", 0, 3),
        ({"length": 42}, "value", 0, 5),
        ({"offset": 1, "length": 3}, "alu", 1, 3),
        ({"suffix": 3}, "lue", 2, 3),
        ({"suffix": 42}, "value", 0, 5),
    ]:
        obj = await r2.get("key", range=spec)
        assert obj.range == {"offset": offset, "length": length}
        assert await obj.text() == expected
    for spec in ({"offset": 42}, {"length": 0}, {"suffix": 0}):
        with pytest.raises(R2InvalidRange) as info:
            await r2.get("key", range=spec)
        assert str(info.value) == "get: The requested range is not satisfiable (10039)"
        assert info.value.status == 416
    with pytest.raises(JsRangeError, match=r"Starting offset \(-1\)"):
        await r2.get("key", range={"offset": -1})
    with pytest.raises(JsTypeError, match=r"Suffix is incompatible with offset\."):
        await r2.get("key", {"range": {"offset": 1, "suffix": 1}})
    await r2.put("empty", "")
    with pytest.raises(R2InvalidRange):
        await r2.get("empty", range={"offset": 0})


async def test_get_range_headers_form(r2):
    value = "abcdefghijklmnopqrstuvwxyz"
    await r2.put("key", value)
    for header, expected, offset in [
        (None, value, 0),
        ("bytes=3-6", "defg", 3),
        ("bytes=10-", value[10:], 10),
        ("bytes=-5", "vwxyz", 21),
        ("bytes=5-6,10-11", value, 0),  # several ranges: the whole object
        ("bytes=40-", value, 0),  # unsatisfiable: the whole object, no error
        ("lines=1-2", value, 0),
    ]:
        headers = Headers({"Range": header} if header else {})
        obj = await r2.get("key", range=headers)
        assert obj.range == {"offset": offset, "length": len(expected)}
        assert await obj.text() == expected


async def test_get_returns_the_body_only_if_onlyif_passes(r2):
    past = datetime.now(UTC) - timedelta(seconds=60)
    await r2.put("key", "value")
    future = datetime.now(UTC) + timedelta(seconds=60)
    bad = md5("👻")

    async def outcome(cond):
        obj = await r2.get("key", onlyIf=cond)
        assert obj is not None
        if "body" in obj:
            await obj.body.cancel()
            return "body"
        assert type(obj) is R2Object and obj.range == {"offset": 0, "length": 5}
        return "metadata"

    assert await outcome({"etagMatches": VALUE_MD5}) == "body"
    assert await outcome({"etagMatches": bad}) == "metadata"
    assert await outcome({"etagDoesNotMatch": VALUE_MD5}) == "metadata"
    assert await outcome({"etagDoesNotMatch": bad}) == "body"
    assert await outcome({"uploadedBefore": future}) == "body"
    assert await outcome({"uploadedBefore": past}) == "metadata"
    assert await outcome({"uploadedAfter": future}) == "metadata"
    assert await outcome({"uploadedAfter": past}) == "body"
    assert await outcome(Headers({"If-None-Match": f'"{VALUE_MD5}"'})) == "metadata"
    assert await outcome(Headers({"If-Match": f'"{VALUE_MD5}"'})) == "body"
    assert await r2.get("missing", onlyIf={"etagMatches": VALUE_MD5}) is None


# -- put ----------------------------------------------------------------------------------
async def test_put_returns_metadata_without_a_range(r2):
    obj = await r2.put("key", "value", httpMetadata=HTTP_METADATA, customMetadata={"key": "value"})
    assert type(obj) is R2Object
    assert (obj.key, obj.size, obj.etag, obj.httpEtag) == ("key", 5, VALUE_MD5, f'"{VALUE_MD5}"')
    assert obj.checksums.toJSON() == {"md5": VALUE_MD5}
    assert obj.httpMetadata == HTTP_METADATA
    assert obj.customMetadata == {"key": "value"}
    assert obj.range is None
    assert recent(obj.uploaded)
    assert obj.to_py()["key"] == "key"


async def test_put_takes_every_kind_of_value(r2):
    async def stream():
        yield b"str"
        yield bytearray(b"eam")

    values = {
        "str": ("héllo", "héllo".encode()),
        "bytes": (b"\x00\xff", b"\x00\xff"),
        "bytearray": (bytearray(b"ba"), b"ba"),
        "memoryview": (memoryview(b"mv"), b"mv"),
        "blob": (Blob(["b", b"lob"]), b"blob"),
        "none": (None, b""),
        "empty": ("", b""),
        "generator": (stream(), b"stream"),
        "stream": (ReadableStream(chunks(b"a", b"", b"b"), 2), b"ab"),
    }
    for key, (value, stored) in values.items():
        obj = await r2.put(key, value)
        assert (obj.size, obj.etag) == (len(stored), md5(stored))
        assert await (await r2.get(key)).bytes() == stored
    with pytest.raises(JsTypeError, match="parameter 2 is not of type"):
        await r2.put("key", 42)
    with pytest.raises(JsTypeError, match="byte stream, but received a str"):
        await r2.put("key", chunks("text"))
    with pytest.raises(JsTypeError, match="unknown option 'http_metadata'"):
        await r2.put("key", "v", http_metadata={})


async def test_put_overwrites(r2):
    first = await r2.put("key", "value1")
    second = await r2.put("key", "value2")
    assert first.version != second.version
    assert await read_text(r2, "key") == "value2"


async def test_put_copies_bodies_of_gets(r2):
    await r2.put("key", "0123456789")
    for spec, expected in [
        (None, "0123456789"),
        ({"offset": 1, "length": 4}, "1234"),
        ({"length": 3}, "012"),
        ({"suffix": 5}, "56789"),
        (Headers({"Range": "bytes=0-5"}), "012345"),
    ]:
        obj = await r2.get("key", range=spec)
        await r2.put("copy", obj.body)
        assert await read_text(r2, "copy") == expected


async def test_put_verifies_checksums(r2):
    def mismatch(label, provided, actual):
        return (
            f"put: The {label} checksum you specified did not match what we received.\n"
            f"You provided a {label} checksum with value: {provided}\n"
            f"Actual {label} was: {actual} (10037)"
        )

    for name, label in [("md5", "MD5"), ("sha1", "SHA-1"), ("sha256", "SHA-256"),
                        ("sha384", "SHA-384"), ("sha512", "SHA-512")]:  # fmt: skip
        good = digest("value", name)
        obj = await r2.put("key", "value", {name: good.upper()})  # stored in lowercase
        assert obj.checksums.toJSON() == {"md5": VALUE_MD5, name: good}
        bad = good.replace("0", "1") if "0" in good else "1" + good[1:]
        with pytest.raises(R2BadDigest) as info:
            await r2.put("key", "other", **{name: bad})
        assert str(info.value) == mismatch(label, bad, digest("other", name))
        assert await read_text(r2, "key") == "value"  # nothing stored
        assert (await r2.head("key")).checksums.toJSON() == {"md5": VALUE_MD5, name: good}
        assert (await r2.get("key")).checksums.toJSON() == {"md5": VALUE_MD5, name: good}
        raw = bytes.fromhex(good)
        assert (await r2.put("key", "value", **{name: raw})).checksums.toJSON()[name] == good
    with pytest.raises(R2BadDigest):  # a stream is verified before it is stored
        await r2.put("key", chunks(b"val", b"ue"), sha1="0" * 40)
    assert await read_text(r2, "key") == "value"


@pytest.mark.parametrize(
    ("options", "text"),
    [
        ({"md5": "ab"}, "MD5 is 32 hex characters, not 2"),
        ({"sha1": b"12"}, "SHA-1 is 20 bytes, not 2"),
        ({"sha256": "z" * 64}, "Provided SHA-256 wasn't a valid hex string"),
        ({"sha384": "0" * 95}, "SHA-384 is 96 hex characters, not 95"),
        ({"sha512": b"0" * 63}, "SHA-512 is 64 bytes, not 63"),
        ({"md5": "0" * 32, "sha1": "0" * 40}, "You cannot specify multiple hashing algorithms."),
    ],
)
async def test_put_validates_checksum_options(r2, options, text):
    with pytest.raises(JsTypeError) as info:
        await r2.put("key", "value", **options)
    assert str(info.value) == text


async def test_put_stores_only_if_onlyif_passes(r2):
    past = datetime.now(UTC) - timedelta(seconds=60)
    future = datetime.now(UTC) + timedelta(seconds=300)
    etag, bad = md5("1"), md5("👻")
    await r2.put("key", "1")

    async def stored(cond) -> bool:
        result = await r2.put("key", "2", onlyIf=cond)
        value = await read_text(r2, "key")
        if result is None:
            assert value == "1"
            return False
        assert value == "2"
        await r2.put("key", "1")
        return True

    assert await stored({"etagMatches": etag})
    assert not await stored({"etagMatches": bad})
    assert not await stored({"etagDoesNotMatch": etag})
    assert await stored({"etagDoesNotMatch": bad})
    assert await stored({"uploadedBefore": future})
    assert not await stored({"uploadedBefore": past})
    assert not await stored({"uploadedAfter": future})
    assert await stored({"uploadedAfter": past})
    assert await stored(Headers({"If-Match": f'"{etag}"'}))
    assert await r2.put("no-key", "2", onlyIf={"etagMatches": etag}) is None
    assert await r2.head("no-key") is None
    assert await r2.put("no-key", "2", onlyIf={"etagDoesNotMatch": etag}) is not None


async def test_put_limits_custom_metadata_size(r2):
    text = "put: Your metadata headers exceed the maximum allowed metadata size. (10012)"
    await r2.put("key", "value", customMetadata={"key": "x" * 2045})
    with pytest.raises(R2MetadataTooLarge) as info:
        await r2.put("key", "value", customMetadata={"key": "x" * 2046})
    assert str(info.value) == text
    await r2.put("key", "value", customMetadata={"hi": "x" * 2046})
    await r2.put("key", "value", customMetadata={"key": "🙂" * 511})  # 3 + 4*511 = 2047
    await r2.put("key", "value", customMetadata={"key1": "🙂" * 511})  # 2048
    for custom in ({"key12": "🙂" * 511}, {"key": "🙂" * 512}):
        with pytest.raises(R2MetadataTooLarge):
            await r2.put("key", "value", customMetadata=custom)
    obj = await r2.put("key", "v", customMetadata={"Mixed-Case": "ünïcode ✓", "e": ""})
    assert (await r2.head("key")).customMetadata == obj.customMetadata
    assert obj.customMetadata == {"Mixed-Case": "ünïcode ✓", "e": ""}


async def test_put_limits_the_value_size(r2, monkeypatch):
    monkeypatch.setattr(bucket_mod, "R2_MAX_VALUE_BYTES", 10)
    text = "put: Your proposed upload exceeds the maximum allowed object size. (100100)"
    await r2.put("key", "0123456789")
    for value in ("01234567890", chunks(b"012345", b"67890"), ReadableStream(chunks(), 11)):
        with pytest.raises(R2Error) as info:
            await r2.put("key", value)
        assert str(info.value) == text
    assert await read_text(r2, "key") == "0123456789"


async def test_a_failing_stream_stores_nothing(r2):
    await r2.put("key", "old")

    async def broken():
        yield b"new"
        raise OSError("client went away")

    with pytest.raises(OSError, match="client went away"):
        await r2.put("key", broken())
    assert await read_text(r2, "key") == "old"


# -- delete -------------------------------------------------------------------------------
async def test_delete(r2):
    await r2.delete("key")  # missing keys are ignored
    await r2.put("key", "value")
    assert await r2.delete("key") is None
    assert await r2.head("key") is None
    for key in ("key1", "key2", "key3"):
        await r2.put(key, "v")
    await r2.delete(["key1", "key200", "key3"])
    assert [o.key for o in (await r2.list())["objects"]] == ["key2"]


# -- list ---------------------------------------------------------------------------------
async def pages(r2, keys, **options):
    for i, key in enumerate(keys):
        await r2.put(key, f"value{i}")
    out, cursor = [], options.pop("cursor", None)
    while True:
        page = await r2.list(**options, cursor=cursor)
        out.append([o.key for o in page["objects"]])
        if not page["truncated"]:
            assert "cursor" not in page
            return out
        cursor = page["cursor"]


async def test_list_sorts_by_utf8_bytes(r2):
    assert await pages(r2, ["key3", "key1", "key2", ", ", "!", "é", "z"]) == [
        ["!", ", ", "key1", "key2", "key3", "z", "é"]
    ]


@pytest.mark.parametrize(
    ("keys", "options", "expected"),
    [
        (["section1key1", "section1key2", "section2key1"], {"prefix": "section1"},
         [["section1key1", "section1key2"]]),
        ([], {}, [[]]),
        (["key1", "key2", "key3"], {"prefix": "none"}, [[]]),
        (["key1", "key2", "key3"], {"cursor": "bad"}, [[]]),
        (["key1", "key2", "key3"], {"limit": 2}, [["key1", "key2"], ["key3"]]),
        (["section1key1", "section1key2", "section1key3", "section2key1"],
         {"prefix": "section1", "limit": 2}, [["section1key1", "section1key2"], ["section1key3"]]),
        (["key1", "key2", "key3", "key4"], {"startAfter": "key2"}, [["key3", "key4"]]),
        (["key1", "key2", "key3", "key4"], {"startAfter": "key1", "limit": 2},
         [["key2", "key3"], ["key4"]]),
        (["key1", "key2", "key3", "key4"], {"startAfter": "key", "limit": 2},
         [["key1", "key2"], ["key3", "key4"]]),
    ],
)  # fmt: skip
async def test_list_pages(r2, keys, options, expected):
    assert await pages(r2, keys, **options) == expected


async def test_list_accepts_a_long_prefix(r2):
    key = "x" * 1024
    await r2.put(key, "value")
    assert [o.key for o in (await r2.list(prefix=key))["objects"]] == [key]


async def test_list_objects_carry_metadata_only_when_included(r2, monkeypatch):
    await r2.put("key1", "value1", httpMetadata={"contentEncoding": "gzip"},
                 customMetadata={"foo": "bar"})  # fmt: skip
    await r2.put("key2", "value2", httpMetadata={"contentType": "dinosaur"},
                 customMetadata={"bar": "fiz"})  # fmt: skip
    page = await r2.list()
    first = page["objects"][0]
    assert (first.key, first.size, first.etag) == ("key1", 6, md5("value1"))
    assert len(first.version) == 32 and recent(first.uploaded)
    assert first.checksums.toJSON() == {"md5": md5("value1")}
    assert first.range is None
    assert [(o.httpMetadata, o.customMetadata) for o in page["objects"]] == [({}, {}), ({}, {})]
    page = await r2.list(include=["httpMetadata"])
    assert [(o.httpMetadata, o.customMetadata) for o in page["objects"]] == [
        ({"contentEncoding": "gzip"}, {}), ({"contentType": "dinosaur"}, {})
    ]  # fmt: skip
    page = await r2.list(include=["customMetadata"])
    assert [(o.httpMetadata, o.customMetadata) for o in page["objects"]] == [
        ({}, {"foo": "bar"}), ({}, {"bar": "fiz"})
    ]  # fmt: skip
    page = await r2.list({"include": ["httpMetadata", "customMetadata"]})
    assert page.objects[1].customMetadata == {"bar": "fiz"}
    assert page.objects[1].httpMetadata == {"contentType": "dinosaur"}
    with pytest.raises(JsRangeError, match=r"^Unsupported include value everything$"):
        await r2.list(include=["everything"])
    monkeypatch.setattr(bucket_mod, "R2_MAX_LIST_KEYS_WITH_INCLUDE", 1)
    page = await r2.list(include=["httpMetadata"])  # fewer objects when metadata is included
    assert ([o.key for o in page.objects], page.truncated) == (["key1"], True)


async def test_list_with_variable_limits_and_keys_inserted_while_paginating(r2):
    for key in ("key1", "key3", "key5"):
        await r2.put(key, key)
    page = await r2.list(limit=1)
    assert [o.key for o in page.objects] == ["key1"] and page.truncated
    page = await r2.list(limit=1, cursor=page.cursor)
    assert [o.key for o in page.objects] == ["key3"]
    await r2.put("key2", "v")  # before the cursor: not seen
    await r2.put("key4", "v")  # after it: seen
    page = await r2.list(limit=2, cursor=page.cursor)
    assert [o.key for o in page.objects] == ["key4", "key5"] and not page.truncated


async def test_list_validates_the_limit(r2):
    for limit in (0, 1001):
        with pytest.raises(R2Error) as info:
            await r2.list(limit=limit)
        assert str(info.value) == "list: MaxKeys params must be positive integer <= 1000. (10022)"


async def test_list_delimiter(r2):
    keys = ["dir0/file0", "dir0/file1", "dir0/sub0/file2", "dir0/sub0/file3", "dir0/sub1/file4",
            "dir0/sub1/file5", "dir1/file6", "dir1/file7", "file8", "file9"]  # fmt: skip
    for key in keys:
        await r2.put(key, key)

    async def listing(**options):
        page = await r2.list(**options)
        return [o.key for o in page.objects], page.delimitedPrefixes, page.truncated

    assert await listing() == (keys, [], False)
    assert await listing(delimiter="") == (keys, [], False)
    assert await listing(delimiter="file8") == ([k for k in keys if k != "file8"], ["file8"],
                                                False)  # fmt: skip
    assert await listing(prefix="dir1/", delimiter="file6") == (["dir1/file7"], ["dir1/file6"],
                                                                False)  # fmt: skip
    assert await listing(delimiter="/") == (["file8", "file9"], ["dir0/", "dir1/"], False)
    assert await listing(prefix="dir0/", delimiter="/") == (
        ["dir0/file0", "dir0/file1"], ["dir0/sub0/", "dir0/sub1/"], False
    )  # fmt: skip
    assert await listing(prefix="dir0", delimiter="/") == ([], ["dir0/"], False)
    page = await r2.list(prefix="dir0/", delimiter="/", limit=2)
    assert ([o.key for o in page.objects], page.delimitedPrefixes) == (
        ["dir0/file0", "dir0/file1"], []
    )  # fmt: skip
    assert page.truncated
    page = await r2.list(prefix="dir0/", delimiter="/", limit=2, cursor=page.cursor)
    assert (page.objects, page.delimitedPrefixes, page.truncated) == (
        [], ["dir0/sub0/", "dir0/sub1/"], False
    )  # fmt: skip
    page = await r2.list(delimiter="/", limit=1)  # a group counts once, and is skipped whole
    assert page.delimitedPrefixes == ["dir0/"]
    page = await r2.list(delimiter="/", limit=1, cursor=page.cursor)
    assert page.delimitedPrefixes == ["dir1/"]
    page = await r2.list(delimiter="/", limit=5, cursor=page.cursor)
    assert ([o.key for o in page.objects], page.truncated) == (["file8", "file9"], False)


# -- odd keys and bucket names ------------------------------------------------------------
async def test_the_empty_key_is_a_key(make_bucket):
    r2 = await make_bucket("bucket", s3_prefix="p/")  # S3 itself has no empty key
    await r2.put("", "empty")
    assert (await r2.head("")).key == ""
    assert await read_text(r2, "") == "empty"
    assert [o.key for o in (await r2.list())["objects"]] == [""]
    await r2.delete("")
    assert await r2.head("") is None


async def test_strange_bucket_names(make_bucket):
    r2 = await make_bucket("my/ Bucket")
    await r2.put("key", "value")
    assert await read_text(r2, "key") == "value"


async def test_errors_are_catchable_by_type(r2):
    with pytest.raises(R2Error) as info:
        await r2.put("x" * 2000, "v")
    assert isinstance(info.value, JsException) and info.value.name == "Error"
    assert info.value.message == "put: The specified object name is not valid. (10020)"


# -- multipart ----------------------------------------------------------------------------
async def test_create_multipart_upload(r2):
    first = await r2.createMultipartUpload(
        "key", customMetadata={"key": "value"}, httpMetadata={"contentType": "text/plain"}
    )
    second = await r2.createMultipartUpload("key")
    assert first.key == first["key"] == "key" == second.key
    assert first.uploadId and second.uploadId and first.uploadId != second.uploadId
    assert first["uploadId"] == first.uploadId
    with pytest.raises(R2MetadataTooLarge, match=r"^createMultipartUpload: "):
        await r2.createMultipartUpload("key", customMetadata={"k": "x" * 3000})


async def test_upload_part(r2):
    upload = await r2.createMultipartUpload("key")
    part1 = await upload.uploadPart(1, "value1")
    part2 = await upload.uploadPart(2, chunks(b"value", b" two"))
    assert part1 == {"partNumber": 1, "etag": part1.etag} and part1.etag
    assert part2.partNumber == 2 and part2.etag not in ("", part1.etag)
    assert (await upload.uploadPart(1, "value one")).etag != part1.etag
    assert (await upload.uploadPart(100, "value1")).partNumber == 100
    for number in (0, 10_001, 1.5):
        with pytest.raises(JsTypeError) as info:
            await upload.uploadPart(number, "v")
        assert str(info.value) == (
            f"Part number must be between 1 and 10000 (inclusive). Actual value was: {number}"
        )
    text = "uploadPart: The specified multipart upload does not exist. (10024)"
    for key, upload_id in (("key", "bad"), ("badkey", upload.uploadId)):
        with pytest.raises(R2Error) as exc:
            await r2.resumeMultipartUpload(key, upload_id).uploadPart(1, "value")
        assert str(exc.value) == text


async def test_abort_multipart_upload(r2):
    first = await r2.createMultipartUpload("key")
    second = await r2.createMultipartUpload("key")
    for n in (1, 2, 3):
        await first.uploadPart(n, f"value{n}")
    assert await first.abort() is None
    with pytest.raises(R2Error, match=r"^uploadPart: .* does not exist\. \(10024\)$"):
        await first.uploadPart(4, "value4")
    with pytest.raises(R2Error, match=r"\(10024\)$"):
        await first.complete([])
    await first.abort()  # again: a no-op
    part = await second.uploadPart(1, "value1")
    await second.complete([part])
    await second.abort()  # after completion: a no-op that keeps the object
    assert await read_text(r2, "key") == "value1"
    third = await r2.createMultipartUpload("key")
    internal = "abortMultipartUpload: We encountered an internal error. Please try again. (10001)"
    for key, upload_id in (("key", "bad"), ("bad", third.uploadId)):
        with pytest.raises(R2Error) as info:
            await r2.resumeMultipartUpload(key, upload_id).abort()
        assert str(info.value) == internal


async def test_complete_multipart_upload(r2, small_parts):
    upload = await r2.createMultipartUpload(
        "key", customMetadata={"key": "value"}, httpMetadata={"contentType": "text/plain"}
    )
    parts = [await upload.uploadPart(1, "1" * PART), await upload.uploadPart(2, "2" * PART),
             await upload.uploadPart(3, "3")]  # fmt: skip
    obj = await upload.complete(parts)
    assert (obj.key, obj.size) == ("key", 2 * PART + 1)
    assert obj.etag == "3b676245e58d988dc75f80c0c27a9645-3"
    assert obj.httpEtag == '"3b676245e58d988dc75f80c0c27a9645-3"'
    assert obj.version and obj.range is None
    assert obj.checksums.toJSON() == {}
    assert obj.customMetadata == {"key": "value"}
    assert obj.httpMetadata == {"contentType": "text/plain"}
    assert await read_text(r2, "key") == "1" * PART + "2" * PART + "3"

    # One part may be small; otherwise all but the last must reach the minimum (argument order).
    upload = await r2.createMultipartUpload("key")
    parts = [await upload.uploadPart(n, str(n)) for n in (1, 2, 3)]
    too_small = ("completeMultipartUpload: Your proposed upload is smaller than the minimum "
                 "allowed object size. (10011)")  # fmt: skip
    for chosen in (parts, parts[:2]):
        with pytest.raises(R2Error) as info:
            await upload.complete(chosen)
        assert str(info.value) == too_small
    obj = await upload.complete(parts[:1])
    assert (obj.size, obj.etag) == (1, "46d1741e8075da4ac72c71d8130fcb71-1")
    assert await read_text(r2, "key") == "1"


async def test_complete_rejects_replaced_duplicate_and_foreign_parts(r2, small_parts):
    not_found = ("completeMultipartUpload: One or more of the specified parts could not be "
                 "found. (10025)")  # fmt: skip
    upload = await r2.createMultipartUpload("key")
    old = await upload.uploadPart(1, "value")
    new = await upload.uploadPart(1, "other")  # replaces part 1: the old etag is gone
    with pytest.raises(R2Error) as info:
        await upload.complete([old])
    assert str(info.value) == not_found
    assert (await upload.complete([new])).size == 5

    upload = await r2.createMultipartUpload("key")
    dupes = [await upload.uploadPart(1, c * PART) for c in "123"]
    with pytest.raises(R2Error) as info:
        await upload.complete(dupes)
    assert str(info.value) == (
        "completeMultipartUpload: We encountered an internal error. Please try again. (10001)"
    )

    other = await r2.createMultipartUpload("key")
    mine = await r2.createMultipartUpload("key")
    part = await other.uploadPart(1, "value")
    with pytest.raises(R2Error, match=r"\(10025\)$"):
        await mine.complete([part])

    upload = await r2.createMultipartUpload("key")
    part1 = await upload.uploadPart(1, "1" * PART)
    part2 = await upload.uploadPart(2, "2")
    for wrong in ({"partNumber": 3, "etag": part2.etag}, {"partNumber": 2, "etag": "bad"},
                  {"partNumber": 4, "etag": "very bad"}):  # fmt: skip
        with pytest.raises(R2Error, match=r"\(10025\)$"):
            await upload.complete([part1, wrong])


async def test_complete_orders_parts_and_checks_sizes_in_part_order(r2, small_parts):
    upload = await r2.createMultipartUpload("key")
    p1, p2, p3 = [await upload.uploadPart(n, str(n) * PART) for n in (1, 2, 3)]
    obj = await upload.complete([p2, p3, p1])
    assert (obj.size, obj.etag) == (3 * PART, "f1115cc5564e7e0b25bbd87d95c72c86-3")
    assert await read_text(r2, "key") == "1" * PART + "2" * PART + "3" * PART

    bad_upload = "completeMultipartUpload: There was a problem with the multipart upload. (10048)"
    upload = await r2.createMultipartUpload("key")
    p1 = await upload.uploadPart(1, "1")
    p2, p3 = [await upload.uploadPart(n, str(n) * PART) for n in (2, 3)]
    with pytest.raises(R2Error) as info:  # p1 is last in argument order, first in part order
        await upload.complete([p2, p3, p1])
    assert str(info.value) == bad_upload

    upload = await r2.createMultipartUpload("key")
    p1, p2 = [await upload.uploadPart(n, str(n) * PART) for n in (1, 2)]
    p3 = await upload.uploadPart(3, "3")
    with pytest.raises(R2Error, match=r"\(10011\)$"):  # p3 is not last in argument order
        await upload.complete([p2, p3, p1])

    upload = await r2.createMultipartUpload("key")
    parts = [await upload.uploadPart(n, c * PART) for n, c in ((2, "2"), (5, "5"), (9, "9"))]
    obj = await upload.complete(parts)  # gaps in part numbers are fine
    assert (obj.size, obj.etag) == (3 * PART, "471d773597286301a10c61cd8c84e659-3")
    assert await read_text(r2, "key") == "2" * PART + "5" * PART + "9" * PART

    upload = await r2.createMultipartUpload("key")
    p1 = await upload.uploadPart(1, "1" * PART)
    p2 = await upload.uploadPart(2, "2" * (PART + 1))
    p3 = await upload.uploadPart(3, "3" * PART)
    with pytest.raises(R2Error, match=r"\(10048\)$"):  # non-final parts of unequal size
        await upload.complete([p1, p2, p3])
    p2 = await upload.uploadPart(2, "2" * PART)
    p3 = await upload.uploadPart(3, "3" * (PART + 1))
    with pytest.raises(R2Error, match=r"\(10048\)$"):  # the last part larger than the others
        await upload.complete([p1, p2, p3])
    p3 = await upload.uploadPart(3, "3" * (PART - 1))
    assert (await upload.complete([p1, p2, p3])).size == 3 * PART - 1


async def test_complete_with_no_parts_and_finished_or_unknown_uploads(r2):
    upload = await r2.createMultipartUpload("key", customMetadata={"a": "b"})
    obj = await upload.complete([])
    assert (obj.size, obj.etag) == (0, "d41d8cd98f00b204e9800998ecf8427e-0")
    assert (await r2.head("key")).etag == "d41d8cd98f00b204e9800998ecf8427e-0"
    assert (await r2.head("key")).customMetadata == {"a": "b"}
    assert await read_text(r2, "key") == ""

    gone = "completeMultipartUpload: The specified multipart upload does not exist. (10024)"
    done = await r2.createMultipartUpload("key")
    part = await done.uploadPart(1, "value")
    await done.complete([part])
    aborted = await r2.createMultipartUpload("key")
    aborted_part = await aborted.uploadPart(1, "value")
    await aborted.abort()
    for upload, parts in ((done, [part]), (aborted, [aborted_part])):
        with pytest.raises(R2Error) as info:
            await upload.complete(parts)
        assert str(info.value) == gone

    live = await r2.createMultipartUpload("key")
    internal = ("completeMultipartUpload: We encountered an internal error. Please try "
                "again. (10001)")  # fmt: skip
    for key, upload_id in (("key", "bad"), ("badkey", live.uploadId)):
        with pytest.raises(R2Error) as info:
            await r2.resumeMultipartUpload(key, upload_id).complete([])
        assert str(info.value) == internal


async def test_multipart_objects_are_invisible_until_complete(r2, small_parts):
    upload = await r2.createMultipartUpload(
        "key", customMetadata={"key": "value"}, httpMetadata={"contentType": "text/plain"}
    )
    parts = [await upload.uploadPart(n, c * PART) for n, c in ((1, "a"), (2, "b"), (3, "c"))]
    assert await r2.head("key") is None
    assert await r2.get("key") is None
    assert (await r2.list(include=["httpMetadata", "customMetadata"]))["objects"] == []
    await r2.put("key", "value")  # put and delete leave the upload alone
    await r2.delete("key")
    completed = await upload.complete(parts)
    listed = (await r2.list(include=["httpMetadata", "customMetadata"])).objects[0]
    for obj in (await r2.head("key"), await r2.get("key"), listed):
        assert (obj.key, obj.version, obj.size) == ("key", completed.version, 3 * PART)
        assert obj.etag == "d63a28fd44cfddc0215c8da47e582eb7-3"
        assert obj.checksums.toJSON() == {}
        assert obj.customMetadata == {"key": "value"}
        assert obj.httpMetadata == {"contentType": "text/plain"}
        if isinstance(obj, R2ObjectBody):
            assert await obj.text() == "a" * PART + "b" * PART + "c" * PART


async def test_ranged_reads_of_multipart_objects(r2, small_parts):
    upload = await r2.createMultipartUpload("key")
    parts = [await upload.uploadPart(n, c * PART) for n, c in ((1, "a"), (2, "b"), (3, "c"))]
    await upload.complete(parts)
    half, quarter = PART // 2, PART // 4
    assert await read_text(r2, "key", range={"offset": half, "length": quarter}) == "a" * quarter
    assert await read_text(r2, "key", range={"offset": half, "length": half + PART + quarter}) == (
        "a" * half + "b" * PART + "c" * quarter
    )
    assert (
        await read_text(r2, "key", range={"suffix": quarter + PART}) == "b" * quarter + "c" * PART
    )


async def test_reads_in_flight_survive_delete_and_overwrite(r2, small_parts):
    upload = await r2.createMultipartUpload("key")
    parts = [await upload.uploadPart(n, str(n) * PART) for n in (1, 2, 3)]
    await upload.complete(parts)
    whole = await r2.get("key")
    ranged = await r2.get("key", range={"offset": PART})
    await r2.delete("key")
    assert await whole.text() == "1" * PART + "2" * PART + "3" * PART
    assert await ranged.text() == "2" * PART + "3" * PART
    await r2.put("single", "before")
    reading = await r2.get("single")
    await r2.put("single", "after")
    assert await reading.text() == "before"


async def test_a_multipart_upload_with_a_real_5_mib_first_part(r2):
    first = bytes(range(256)) * (5 * 1024 * 4)  # 5 MiB, the real minimum
    assert len(first) == bucket_mod.R2_MIN_PART_BYTES
    upload = await r2.createMultipartUpload("big", httpMetadata={"contentType": "video/mp4"})
    part1 = await upload.uploadPart(1, first)
    part2 = await upload.uploadPart(2, chunks(b"tail", b"!"))
    obj = await upload.complete([part1, part2])
    expected = hashlib.md5(hashlib.md5(first).digest() + hashlib.md5(b"tail!").digest())
    assert (obj.size, obj.etag) == (len(first) + 5, f"{expected.hexdigest()}-2")
    body = await r2.get("big")
    data = bytearray()
    async for chunk in body.body:
        data += chunk
    assert hashlib.sha256(data).digest() == hashlib.sha256(first + b"tail!").digest()
    tail = await r2.get("big", range={"offset": len(first) - 2, "length": 4})
    assert await tail.bytes() == first[-2:] + b"ta"


async def test_large_values_stream_in_chunks(r2):
    value = bytes(range(256)) * 12_000  # ~3 MiB: streamed both ways
    await r2.put("big", chunks(value[:1_000_000], value[1_000_000:]))
    obj = await r2.get("big")
    received = [chunk async for chunk in obj.body]
    assert len(received) > 1 and b"".join(received) == value
    assert json.loads(json.dumps(obj.range)) == {"offset": 0, "length": len(value)}
