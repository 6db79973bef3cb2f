"""object_response over HTTP: headers, Range (206/416), conditional requests (304/412), HEAD."""

from __future__ import annotations

import email.utils
import hashlib
import subprocess
import sys
from datetime import timedelta

import httpx
import pytest

from bindings.testing import server
from tests.conftest import ROOT

WORKER = """
from starlette.applications import Starlette
from starlette.routing import Route

from bindings.r2 import object_response


async def media(request):
    bucket = request.scope["env"].MEDIA
    return await object_response(
        request, bucket, request.path_params["key"], headers={"x-served-by": "hearth"}
    )


app = Starlette(routes=[Route("/media/{key:path}", media, methods=["GET", "HEAD", "POST"])])
"""
ALPHABET = "abcdefghijklmnopqrstuvwxyz"


@pytest.fixture
async def h(hearth, tmp_path, bucket_entry):
    (tmp_path / "media_worker.py").write_text(WORKER)
    h = await hearth(
        {
            "workers": [
                {
                    "name": "media",
                    "main": "media_worker:app",
                    "r2_buckets": [bucket_entry("media", binding="MEDIA")],
                }
            ]
        }
    )
    bucket = h.env().MEDIA
    await bucket.put(
        "a.txt",
        ALPHABET,
        httpMetadata={"contentType": "text/plain", "cacheControl": "max-age=60"},
    )
    await bucket.put("blob", b"\x00\x01")
    await bucket.put("empty", b"")
    return h


async def test_get_sends_the_object_with_its_headers(h):
    obj = await h.env().MEDIA.head("a.txt")
    r = await h.SELF.get("/media/a.txt")
    assert (r.status_code, r.text) == (200, ALPHABET)
    assert r.headers["content-type"] == "text/plain"
    assert r.headers["cache-control"] == "max-age=60"
    assert r.headers["etag"] == obj.httpEtag
    assert r.headers["last-modified"] == email.utils.format_datetime(obj.uploaded, usegmt=True)
    assert r.headers["accept-ranges"] == "bytes"
    assert r.headers["content-length"] == "26"
    assert r.headers["x-served-by"] == "hearth"
    r = await h.SELF.get("/media/blob")
    assert (r.content, r.headers["content-type"]) == (b"\x00\x01", "application/octet-stream")


async def test_missing_objects_and_other_methods(h):
    r = await h.SELF.get("/media/nope")
    assert (r.status_code, r.json()) == (404, {"error": "Not Found"})
    r = await h.SELF.post("/media/a.txt")
    assert (r.status_code, r.headers["allow"]) == (405, "GET, HEAD")


@pytest.mark.parametrize(
    ("header", "status", "body", "content_range"),
    [
        ("bytes=0-4", 206, "abcde", "bytes 0-4/26"),
        ("bytes=10-", 206, ALPHABET[10:], "bytes 10-25/26"),
        ("bytes=-5", 206, "vwxyz", "bytes 21-25/26"),
        ("bytes=20-99", 206, ALPHABET[20:], "bytes 20-25/26"),
        ("bytes=0-1,3-4", 200, ALPHABET, None),  # several ranges: the whole object
        ("bytes=abc", 200, ALPHABET, None),  # malformed: ignored
        ("bytes=5-2", 200, ALPHABET, None),
        ("bytes=-30", 200, ALPHABET, None),  # a suffix longer than the object
    ],
)
async def test_ranges(h, header, status, body, content_range):
    r = await h.SELF.get("/media/a.txt", headers={"Range": header})
    assert (r.status_code, r.text) == (status, body)
    assert r.headers.get("content-range") == content_range
    assert r.headers["content-length"] == str(len(body))


@pytest.mark.parametrize(
    ("key", "header"),
    [("a.txt", "bytes=26-"), ("a.txt", "bytes=-0"), ("empty", "bytes=0-"), ("empty", "bytes=-1")],
)
async def test_unsatisfiable_ranges_are_416(h, key, header):
    r = await h.SELF.get(f"/media/{key}", headers={"Range": header})
    size = 26 if key == "a.txt" else 0
    assert (r.status_code, r.headers["content-range"]) == (416, f"bytes */{size}")


async def test_if_range(h):
    etag = (await h.env().MEDIA.head("a.txt")).httpEtag
    r = await h.SELF.get("/media/a.txt", headers={"Range": "bytes=0-1", "If-Range": etag})
    assert (r.status_code, r.text) == (206, "ab")
    r = await h.SELF.get("/media/a.txt", headers={"Range": "bytes=0-1", "If-Range": '"other"'})
    assert (r.status_code, r.text) == (200, ALPHABET)


async def test_conditional_requests(h):
    obj = await h.env().MEDIA.head("a.txt")
    modified = email.utils.format_datetime(obj.uploaded, usegmt=True)
    earlier = email.utils.format_datetime(obj.uploaded - timedelta(days=1), usegmt=True)
    later = email.utils.format_datetime(obj.uploaded + timedelta(days=1), usegmt=True)

    async def status(**headers):
        r = await h.SELF.get("/media/a.txt", headers=headers)
        if r.status_code == 304:
            assert r.content == b"" and r.headers["etag"] == obj.httpEtag
        return r.status_code

    assert await status(**{"If-None-Match": obj.httpEtag}) == 304
    assert await status(**{"If-None-Match": f"W/{obj.httpEtag}"}) == 304  # weak comparison
    assert await status(**{"If-None-Match": '"other", *'}) == 304
    assert await status(**{"If-None-Match": '"other"'}) == 200
    assert await status(**{"If-Modified-Since": modified}) == 304
    assert await status(**{"If-Modified-Since": earlier}) == 200
    assert await status(**{"If-Match": '"other"'}) == 412
    assert await status(**{"If-Match": obj.httpEtag}) == 200
    assert await status(**{"If-Unmodified-Since": earlier}) == 412
    assert await status(**{"If-Unmodified-Since": later}) == 200
    # R2 compares "unmodified since" strictly (its gateway's rule): the same second fails.
    assert await status(**{"If-Unmodified-Since": modified}) == 412
    # A failed precondition wins over a cache validator.
    assert await status(**{"If-Match": '"other"', "If-None-Match": obj.httpEtag}) == 412
    assert await status(**{"If-Match": "garbage"}) == 400


async def test_head(h):
    etag = (await h.env().MEDIA.head("a.txt")).httpEtag
    r = await h.SELF.head("/media/a.txt")
    assert (r.status_code, r.content) == (200, b"")
    assert (r.headers["content-length"], r.headers["etag"]) == ("26", etag)
    r = await h.SELF.head("/media/a.txt", headers={"Range": "bytes=2-3"})
    assert (r.status_code, r.headers["content-range"], r.headers["content-length"]) == (
        206, "bytes 2-3/26", "2"
    )  # fmt: skip
    r = await h.SELF.head("/media/a.txt", headers={"If-None-Match": etag})
    assert r.status_code == 304
    assert (await h.SELF.head("/media/nope")).status_code == 404


@pytest.mark.e2e
def test_a_real_server_streams_a_large_object(tmp_path):
    (tmp_path / "media_worker.py").write_text(WORKER)
    config = tmp_path / "wrangler_compat.toml"
    config.write_text(
        '[[workers]]\nname = "media"\nmain = "media_worker:app"\nroutes = ["/media/*"]\n'
        '[[workers.r2_buckets]]\nbinding = "MEDIA"\nbucket_name = "media"\n'
    )
    value = bytes(range(256)) * 20_000  # ~5 MiB: streamed from disk in chunks
    (tmp_path / "big.bin").write_bytes(value)
    state = tmp_path / "state"
    put = subprocess.run(
        [sys.executable, "-m", "bindings", "r2", "object", "put", "media/big.bin",
         "--file", str(tmp_path / "big.bin"), "--config", str(config), "--persist-to", str(state)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert put.returncode == 0, put.stderr
    with server(config, state) as s:
        r = httpx.get(f"{s.url}/media/big.bin", timeout=30)
        assert r.status_code == 200
        assert r.headers["content-length"] == str(len(value))
        assert r.headers["content-type"] == "application/octet-stream"
        assert hashlib.sha256(r.content).digest() == hashlib.sha256(value).digest()
        r = httpx.get(f"{s.url}/media/big.bin", headers={"Range": "bytes=-3"})
        assert (r.status_code, r.content) == (206, value[-3:])
