"""The Cache API contract (bindings-conformance §6.3), run on every backend."""

import hashlib
from email.utils import formatdate

import pytest

from bindings import JsException, JsTypeError
from bindings.body import ReadableStream
from bindings.cache import cache as cache_mod
from bindings.request import Request
from bindings.response import Response

KEY = "http://localhost/cache-hit"
HOUR = {"Cache-Control": "max-age=3600"}


def http_date(ts: float) -> str:
    return formatdate(ts, usegmt=True)


async def chunks(*parts: bytes):
    for part in parts:
        yield part


# -- match ----------------------------------------------------------------------------------


async def test_match_returns_cached_responses(storage):
    cache = storage.default
    await cache.put(KEY, Response("body", headers={**HOUR, "X-Key": "value"}))
    res = await cache.match(KEY)
    assert res.status == 200
    assert res.headers.get("Cache-Control") == "max-age=3600"
    assert res.headers.get("CF-Cache-Status") == "HIT"
    assert res.headers.get("X-Key") == "value"
    assert res.headers.get("Content-Length") == "4"
    assert await res.text() == "body"

    await cache.put(KEY, Response(bytes([1, 2, 3]), headers=HOUR))
    assert await (await cache.match(KEY)).bytes() == b"\x01\x02\x03"

    await cache.put(KEY, Response(ReadableStream(chunks(b"str", b"eam")), headers=HOUR))
    assert await (await cache.match(KEY)).text() == "stream"

    await cache.put(KEY, Response(None, headers=HOUR))
    assert await (await cache.match(KEY)).text() == ""


async def test_each_match_is_a_fresh_response(storage):
    await storage.default.put(KEY, Response("body", headers=HOUR))
    first, second = await storage.default.match(KEY), await storage.default.match(KEY)
    assert await first.text() == await second.text() == "body"
    first.headers.set("x-changed", "1")
    assert "x-changed" not in (await storage.default.match(KEY)).headers


async def test_match_misses(storage):
    assert await storage.default.match("http://localhost/cache-miss") is None


async def test_request_and_url_keys_are_the_same(storage):
    await storage.default.put(Request("http://Example.COM:80"), Response("x", headers=HOUR))
    assert await (await storage.default.match("http://example.com/")).text() == "x"
    assert await storage.default.match("http://example.com/other") is None


async def test_non_get_requests_miss_unless_ignore_method(storage):
    cache = storage.default
    await cache.put(KEY, Response("body", headers=HOUR))
    post = Request(KEY, method="POST")
    assert await cache.match(post) is None
    assert await (await cache.match(post, ignoreMethod=True)).text() == "body"
    assert await (await cache.match(post, {"ignoreMethod": True})).text() == "body"
    assert await cache.delete(post) is False
    assert await cache.delete(post, {"ignoreMethod": True}) is True


async def test_match_reports_age(storage, clock):
    await storage.default.put(KEY, Response("body", headers={**HOUR, "Age": "5"}))
    clock.advance(10)
    assert (await storage.default.match(KEY)).headers.get("age") == "15"


# -- conditional matches ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("if_none_match", "status"),
    [
        ('"thing"', 304),
        ('   W/"thing"      ', 304),
        ('"not the thing"', 200),
        ('"not the thing",    "thing"    , W/"still not the thing"', 304),
        ("*", 304),
        ("    *   ", 304),
    ],
)
async def test_match_respects_if_none_match(storage, if_none_match, status):
    await storage.default.put(KEY, Response("body", headers={"ETag": '"thing"', **HOUR}))
    res = await storage.default.match(Request(KEY, headers={"If-None-Match": if_none_match}))
    assert res.status == status
    assert res.headers.get("etag") == '"thing"'
    assert await res.text() == ("" if status == 304 else "body")
    if status == 304:
        assert "content-length" not in res.headers


@pytest.mark.parametrize(
    ("since", "status"),
    [
        ("Tue, 13 Sep 2022 11:00:00 GMT", 200),
        ("Tue, 13 Sep 2022 12:00:00 GMT", 304),
        ("Tue, 13 Sep 2022 13:00:00 GMT", 304),
        ("13 Sep 2022 13:00:00 GMT", 200),  # not an IMF-fixdate: ignored
    ],
)
async def test_match_respects_if_modified_since(storage, since, status):
    headers = {"Last-Modified": "Tue, 13 Sep 2022 12:00:00 GMT", **HOUR}
    await storage.default.put(KEY, Response("body", headers=headers))
    res = await storage.default.match(Request(KEY, headers={"If-Modified-Since": since}))
    assert res.status == status


# -- ranges ------------------------------------------------------------------------------------


async def test_match_respects_range(storage):
    cache = storage.default
    headers = {"Content-Length": "10", "Content-Type": "text/plain", **HOUR}
    await cache.put(KEY, Response("0123456789", headers=headers))

    res = await cache.match(Request(KEY, headers={"Range": "bytes=2-4"}))
    assert res.status == 206
    assert res.headers.get("Content-Length") == "3"
    assert res.headers.get("Content-Range") == "bytes 2-4/10"
    assert res.headers.get("Cache-Control") == "max-age=3600"
    assert res.headers.get("CF-Cache-Status") == "HIT"
    assert await res.text() == "234"

    res = await cache.match(Request(KEY, headers={"Range": "bytes=1-3,5-6"}))
    assert res.status == 206
    assert res.headers.get("CF-Cache-Status") == "HIT"
    brand, boundary = res.headers.get("Content-Type").split("=")
    assert brand == "multipart/byteranges; boundary"
    body = await res.text()
    assert body == "\r\n".join(
        [
            f"--{boundary}",
            "Content-Type: text/plain",
            "Content-Range: bytes 1-3/10",
            "",
            "123",
            f"--{boundary}",
            "Content-Type: text/plain",
            "Content-Range: bytes 5-6/10",
            "",
            "56",
            f"--{boundary}--",
        ]
    )
    assert res.headers.get("Content-Length") == str(len(body))

    res = await cache.match(Request(KEY, headers={"Range": "bytes=15-"}))
    assert res.status == 416
    assert res.headers.get("Content-Range") == "bytes */10"
    assert res.headers.get("CF-Cache-Status") == "HIT"

    res = await cache.match(Request(KEY, headers={"Range": "bytes=-20"}))  # suffix >= size
    assert res.status == 200 and await res.text() == "0123456789"


# -- put ---------------------------------------------------------------------------------------


async def test_put_overwrites(storage):
    await storage.default.put(KEY, Response("one", headers=HOUR))
    await storage.default.put(KEY, Response("two", headers=HOUR))
    assert await (await storage.default.match(KEY)).text() == "two"


async def test_put_reads_the_body(storage):
    response = Response("body", headers=HOUR)
    await storage.default.put(KEY, response)
    assert response.body_used
    with pytest.raises(TypeError, match="already been used"):
        await storage.default.put(KEY, response)


@pytest.mark.parametrize(
    ("request_", "response", "message"),
    [
        (Request(KEY, method="POST"), Response("x"), "Cannot cache response to non-GET request."),
        (
            KEY,
            Response("x", status=206),
            "Cannot cache response to a range request (206 Partial Content).",
        ),
        (KEY, Response("x", headers={"Vary": "*"}), "Cannot cache response with 'Vary: *' header."),
        (
            KEY,
            Response(None, 101, web_socket=object()),
            "Cannot cache WebSocket upgrade response.",
        ),
        (
            "/relative",
            Response("x"),
            "Invalid URL. Cache API keys must be fully-qualified, valid URLs.",
        ),
        ("not a url", Response("x"), "Invalid URL. Cache API keys must be fully-qualified"),
    ],
)
async def test_put_validation(storage, request_, response, message):
    with pytest.raises(JsTypeError) as info:
        await storage.default.put(request_, response)
    assert str(info.value).startswith(message)


async def test_put_rejects_an_error_response(storage):
    class ErrorResponse(Response):
        @property
        def type(self):
            return "error"

    with pytest.raises(JsTypeError, match=r"^Cache is unable to store an error response$"):
        await storage.default.put(KEY, ErrorResponse("x"))


async def test_put_ignores_304(storage, caplog):
    await storage.default.put(KEY, Response(None, 304, headers=HOUR))
    assert await storage.default.match(KEY) is None
    assert "Ignoring attempt to Cache.put() a 304" in caplog.text


async def test_match_and_delete_validate_urls(storage):
    with pytest.raises(JsTypeError, match="Cache API keys must be fully-qualified"):
        await storage.default.match("/relative")
    with pytest.raises(JsTypeError, match="Cache API keys must be fully-qualified"):
        await storage.default.delete("nope")


# -- expiry ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "ttl"),
    [
        ({"Expires": 2}, 2),
        ({"Cache-Control": "max-age=1"}, 1),
        ({"Cache-Control": "s-maxage=1, max-age=10"}, 1),
    ],
    ids=["Expires", "max-age", "s-maxage"],
)
async def test_expires_after(storage, clock, headers, ttl):
    if "Expires" in headers:
        headers = {"Expires": http_date(clock.now + headers["Expires"])}
    await storage.default.put(KEY, Response("body", headers=headers))
    assert (await storage.default.match(KEY)).status == 200
    clock.advance(ttl / 2)
    assert (await storage.default.match(KEY)).status == 200
    clock.advance(ttl / 2)
    assert await storage.default.match(KEY) is None


@pytest.mark.parametrize(
    ("headers", "cached"),
    [
        ({"Cache-Control": "private"}, False),
        ({"Cache-Control": "no-store"}, False),
        ({"Cache-Control": "no-cache"}, False),
        ({"Set-Cookie": "key=value"}, False),
        ({"Cache-Control": "private=set-cookie", "Set-Cookie": "key=value"}, True),
        ({"Cache-Control": "public"}, True),
    ],
)
async def test_put_honours_cache_control(storage, clock, headers, cached):
    key = f"http://localhost/cache-is-cached-{hashlib.sha1(repr(headers).encode()).hexdigest()}"
    expires = http_date(clock.now + 2)
    await storage.default.put(key, Response("body", headers={**headers, "Expires": expires}))
    res = await storage.default.match(key)
    assert (res is not None and res.status == 200) is cached
    if res is not None:
        assert "set-cookie" not in res.headers
        assert "private" not in (res.headers.get("cache-control") or "")


async def test_an_unstorable_put_leaves_the_older_entry(storage):
    await storage.default.put(KEY, Response("old", headers=HOUR))
    await storage.default.put(KEY, Response("new", headers={"Cache-Control": "no-store"}))
    assert await (await storage.default.match(KEY)).text() == "old"
    await storage.default.put(KEY, Response("new", headers={"Cache-Control": "no-cache"}))
    assert await storage.default.match(KEY) is None  # stored already stale: a miss


# -- delete, keys, names -----------------------------------------------------------------------


async def test_delete_returns_if_deleted(storage, clock):
    await storage.default.put(KEY, Response("body", headers=HOUR))
    assert await storage.default.delete(KEY) is True
    assert await storage.default.delete(KEY) is False
    await storage.default.put(KEY, Response("body", headers={"Cache-Control": "max-age=1"}))
    clock.advance(1)
    assert await storage.default.delete(KEY) is False  # only a live entry counts


async def test_operations_respect_cf_cache_key(storage):
    cache = storage.default
    url = "http://localhost/cache-cf-key-unused"
    key1, key2 = Request(url, cf={"cacheKey": "1"}), Request(url, cf={"cacheKey": "2"})
    await cache.put(key1, Response("body1", headers=HOUR))
    await cache.put(key2, Response("body2", headers=HOUR))
    assert await (await cache.match(key1)).text() == "body1"
    assert await (await cache.match(key2)).text() == "body2"
    assert await cache.match(url) is None
    assert await cache.delete(key1) is True
    assert await cache.delete(key2) is True


async def test_default_and_named_caches_are_disjoint(storage):
    key = "http://localhost/cache-disjoint"
    caches = [storage.default, await storage.open("1"), await storage.open("2")]
    caches.append(await storage.open(""))
    caches.append(await storage.open("default"))
    for i, cache in enumerate(caches):
        await cache.put(key, Response(f"body{i}", headers=HOUR))
    for i, cache in enumerate(caches):
        assert await (await cache.match(key)).text() == f"body{i}"
    for cache in caches:
        assert await cache.delete(key) is True


async def test_cache_name_limit(storage):
    await storage.open("x" * 1023)
    with pytest.raises(JsTypeError, match=r"^Cache name is too long\.$"):
        await storage.open("x" * 1024)
    with pytest.raises(JsTypeError, match="too long"):
        await storage.open("é" * 512)  # the limit counts UTF-8 bytes


async def test_cache_name_limit_is_a_constant(storage, monkeypatch):
    monkeypatch.setattr(cache_mod, "CACHE_NAME_MAX_BYTES", 4)
    await storage.open("abc")
    with pytest.raises(JsTypeError):
        await storage.open("abcd")


@pytest.mark.parametrize("method", ["add", "addAll", "matchAll", "keys"])
async def test_unimplemented_cache_methods_throw(storage, method):
    with pytest.raises(JsException, match=f"'{method}' on 'Cache': the method is not implemented"):
        await getattr(storage.default, method)(KEY)


@pytest.mark.parametrize("method", ["match", "has", "delete", "keys"])
async def test_unimplemented_storage_methods_throw(storage, method):
    with pytest.raises(JsException, match=f"'{method}' on 'CacheStorage'"):
        await getattr(storage, method)(KEY)


# -- disabled, purge, sharing --------------------------------------------------------------------


async def test_operations_are_noops_when_disabled(make_storage):
    storage = make_storage(enabled=False)
    await storage.default.put(KEY, Response("body", headers=HOUR))
    assert await storage.default.match(KEY) is None
    assert await storage.default.delete(KEY) is False


async def test_purge(storage):
    named = await storage.open("named")
    for i in range(3):
        await storage.default.put(f"http://localhost/{i}", Response("x", headers=HOUR))
    await named.put(KEY, Response("x", headers=HOUR))
    assert await storage.purge("named") == 1
    assert await storage.default.match("http://localhost/0") is not None
    assert await storage.purge() == 3
    assert await storage.default.match("http://localhost/0") is None
    assert await storage.purge() == 0


async def test_another_storage_sees_entries_only_over_redis(make_storage):
    first, second = make_storage(), make_storage()
    await first.default.put(KEY, Response("shared", headers=HOUR))
    res = await second.default.match(KEY)
    if make_storage.backend == "redis":  # another process, or a restart
        assert await res.text() == "shared"
    else:  # memory is per process and does not survive a restart
        assert res is None
