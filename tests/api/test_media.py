"""POST /media/upload and GET /media/{key}: who may upload, what is accepted, limits checked
while the body streams, and serving with ETag, Range and 304."""

from __future__ import annotations

import pytest

from tests.api.shop import PNG, start_shop

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4


@pytest.fixture
async def small(hearth, tmp_path):
    """A shop whose images may be at most 2,000 bytes."""
    return await start_shop(hearth, tmp_path, api_vars={"MEDIA_MAX_BYTES": 2000})


async def upload(shop, user, data=JPEG, name="photo.jpg", kind="image/jpeg"):
    return await shop.post("/media/upload", user, files={"file": (name, data, kind)})


async def test_upload_and_serve(shop, alice):
    response = await upload(shop, alice)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["key"].startswith("uploads/") and body["key"].endswith(".jpg")
    assert body["url"] == f"/media/{body['key']}"
    assert body["size"] == len(JPEG) and body["contentType"] == "image/jpeg"
    stored = await shop.api.STORAGE.head(body["key"])
    assert stored.customMetadata == {"uploadedBy": alice.id, "originalName": "photo.jpg"}

    served = await shop.get(body["url"])
    assert served.status_code == 200 and served.content == JPEG
    assert served.headers["content-type"] == "image/jpeg"
    assert served.headers["etag"] == body["etag"]
    assert served.headers["accept-ranges"] == "bytes"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "last-modified" in served.headers

    ranged = await shop.get(body["url"], headers={"range": "bytes=4-11"})
    assert ranged.status_code == 206 and ranged.content == JPEG[4:12]
    assert ranged.headers["content-range"] == f"bytes 4-11/{len(JPEG)}"
    suffix = await shop.get(body["url"], headers={"range": "bytes=-3"})
    assert suffix.status_code == 206 and suffix.content == JPEG[-3:]
    beyond = await shop.get(body["url"], headers={"range": f"bytes={len(JPEG)}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(JPEG)}"

    fresh = await shop.get(body["url"], headers={"if-none-match": body["etag"]})
    assert fresh.status_code == 304 and fresh.content == b""
    since = await shop.get(
        body["url"], headers={"if-modified-since": served.headers["last-modified"]}
    )
    assert since.status_code == 304
    changed = await shop.get(body["url"], headers={"if-none-match": '"other"'})
    assert changed.status_code == 200

    head = await shop.request("HEAD", body["url"])
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(JPEG))


async def test_every_upload_gets_its_own_key(shop, alice, bob):
    first = (await upload(shop, alice)).json()
    second = (await upload(shop, bob)).json()
    assert first["key"] != second["key"]


async def test_unknown_media_is_404(shop):
    for path in ["/media/uploads/nothing.png", "/media/" + "k" * 1100]:
        response = await shop.get(path)
        assert (response.status_code, response.json()) == (404, {"error": "Not Found"})


async def test_anonymous_upload_is_refused(shop):
    response = await upload(shop, None)
    assert (response.status_code, response.json()) == (401, {"error": "Authentication required"})
    assert (await shop.api.STORAGE.list())["objects"] == []


async def test_only_images_of_the_allowed_types(shop, alice):
    cases = [
        (b"<html><script>alert(1)</script></html>", "x.png", "image/png"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script/></svg>", "x.svg", "image/svg+xml"),
        (PNG, "x.jpg", "image/jpeg"),  # the bytes are a PNG
        (JPEG, "x.exe", "application/octet-stream"),
        (b"MZ\x90\x00", "x.exe", "application/x-msdownload"),
    ]
    for data, name, kind in cases:
        response = await upload(shop, alice, data, name, kind)
        assert response.status_code == 415, (name, kind)
        assert response.json()["error"].startswith("file must be an image of type image/png")
    assert (await shop.api.STORAGE.list())["objects"] == []


async def test_malformed_uploads(shop, alice):
    empty = await upload(shop, alice, b"")
    assert (empty.status_code, empty.json()) == (400, {"error": "file is empty"})
    no_file = await shop.post("/media/upload", alice, data={"file": "text, not a file"})
    assert no_file.status_code == 415  # a form without files is urlencoded
    text_field = await shop.post(
        "/media/upload",
        alice,
        data={"file": "text"},
        files={"other": ("a.jpg", JPEG, "image/jpeg")},
    )
    assert (text_field.status_code, text_field.json()) == (400, {"error": "file must be a file"})
    raw = await shop.post(
        "/media/upload", alice, content=JPEG, headers={"content-type": "image/jpeg"}
    )
    assert raw.status_code == 415
    two = await shop.post(
        "/media/upload", alice, files=[("file", ("a.jpg", JPEG, "image/jpeg"))] * 2
    )
    assert two.status_code == 400
    broken = await shop.post(
        "/media/upload",
        alice,
        content=b"--x\r\nnonsense",
        headers={"content-type": "multipart/form-data; boundary=x"},
    )
    assert broken.status_code == 400 and "error" in broken.json()


async def test_size_limit_while_streaming(small):
    alice = await small.user()
    at_limit = await upload(small, alice, JPEG[:4] + b"\x00" * 1996)
    assert at_limit.status_code == 201
    over = await upload(small, alice, JPEG[:4] + b"\x00" * 1997)
    assert (over.status_code, over.json()) == (413, {"error": "file is larger than 2000 bytes"})

    received = []

    async def body():
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
        yield b"Content-Type: image/jpeg\r\n\r\n" + JPEG[:4]
        for _ in range(1000):  # 1 MB more, never sent in full
            received.append(1)
            yield b"\x00" * 1024

    streamed = await small.post(
        "/media/upload",
        alice,
        content=body(),
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert streamed.status_code == 413
    assert streamed.json()["error"].startswith("Request body is larger than")
    assert len(received) < 100  # refused after ~18 KiB, not after the whole megabyte
    declared = await small.post(
        "/media/upload",
        alice,
        content=b"x" * 50_000,
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert declared.status_code == 413
    assert len((await small.api.STORAGE.list())["objects"]) == 1
