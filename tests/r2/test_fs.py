"""The fs backend's own promises: layout, atomic writes, freed blobs, persistence, sharing."""

from __future__ import annotations

import os

import pytest

from bindings.r2 import R2BadDigest
from bindings.r2 import bucket as bucket_mod
from bindings.r2.backends import fs

CONFIG = {
    "workers": [
        {"name": "w", "main": "workers.hello.entry",
         "r2_buckets": [{"binding": "BUCKET", "bucket_name": "media"}]}
    ]
}  # fmt: skip


def blobs(root):
    return sorted(p.name for p in (root / "blobs").rglob("*") if p.is_file())


@pytest.fixture
async def opened(hearth, tmp_path):
    h = await hearth(CONFIG)
    return h.env().BUCKET, tmp_path / "state" / "r2" / "media"


async def test_layout_and_freed_blobs(opened, monkeypatch):
    r2, root = opened
    assert (root / "index.sqlite").is_file() and (root / "tmp").is_dir()
    await r2.put("key", "value1")
    first = blobs(root)
    assert len(first) == 1 and (root / "blobs" / first[0][:2] / first[0]).read_bytes() == b"value1"
    await r2.put("key", "value2")  # an overwrite frees the old blob
    assert len(blobs(root)) == 1 and blobs(root) != first
    await r2.delete("key")
    assert blobs(root) == []

    monkeypatch.setattr(bucket_mod, "R2_MIN_PART_BYTES", 1)
    upload = await r2.createMultipartUpload("mp")
    await upload.uploadPart(1, "old")
    parts = [await upload.uploadPart(1, "a"), await upload.uploadPart(2, "b")]
    await upload.uploadPart(3, "unused")
    assert len(blobs(root)) == 3  # the replaced part 1 is gone already
    await upload.complete(parts)
    assert len(blobs(root)) == 2  # unused parts are freed at completion
    await r2.put("mp", "single")  # overwriting a multipart object frees all its parts
    assert len(blobs(root)) == 1
    aborted = await r2.createMultipartUpload("mp")
    await aborted.uploadPart(1, "x")
    await aborted.abort()
    assert len(blobs(root)) == 1


async def test_failed_writes_leave_nothing_behind(opened):
    r2, root = opened

    async def broken():
        yield b"x" * 100_000
        raise ConnectionError("gone")

    with pytest.raises(ConnectionError):
        await r2.put("key", broken())
    with pytest.raises(R2BadDigest):
        await r2.put("key", b"y" * 100_000, md5="0" * 32)
    assert await r2.put("key", "v", onlyIf={"etagMatches": "nope"}) is None
    assert blobs(root) == [] and os.listdir(root / "tmp") == []


async def test_data_survives_a_restart_and_is_shared_by_runtimes(hearth, tmp_path, monkeypatch):
    monkeypatch.setattr(bucket_mod, "R2_MIN_PART_BYTES", 1)
    first = await hearth(CONFIG)
    r2 = first.env().BUCKET
    await r2.put("key", "value")
    upload = await r2.createMultipartUpload("mp")
    await upload.complete([await upload.uploadPart(1, "multi"), await upload.uploadPart(2, "p")])
    pending = await r2.createMultipartUpload("later")
    await pending.uploadPart(1, "resumed")
    # A second runtime on the same folder (another server process) sees the same bucket...
    second = (await hearth(CONFIG, state_dir=tmp_path / "state")).env().BUCKET
    assert await (await second.get("key")).text() == "value"
    await first.aclose()
    # ...and everything, in-progress uploads included, outlives the first.
    assert await (await second.get("mp")).text() == "multip"
    resumed = second.resumeMultipartUpload("later", pending.uploadId)
    obj = await resumed.complete(
        [{"partNumber": 1, "etag": (await resumed.uploadPart(1, "r")).etag}]
    )
    assert obj.size == 1
    assert [o.key for o in (await second.list()).objects] == ["key", "later", "mp"]


async def test_reads_see_writes_of_other_processes(hearth, tmp_path):
    # Two runtimes on one folder stand for two server processes: each keeps the records it
    # read until the other commits, so reads never go stale.
    writer = (await hearth(CONFIG)).env().BUCKET
    reader = (await hearth(CONFIG, state_dir=tmp_path / "state")).env().BUCKET
    assert await reader.head("key") is None
    await writer.put("key", "one")
    assert await (await reader.get("key")).text() == "one"
    assert (await reader.head("key")).size == 3
    await writer.put("key", "three")
    assert await (await reader.get("key")).text() == "three"
    await writer.delete("key")
    assert await reader.head("key") is None
    assert await reader.get("key") is None


async def test_durable_mode(hearth):
    config = {"hearth": {"r2": {"durable": True}}, **CONFIG}
    r2 = (await hearth(config)).env().BUCKET
    await r2.put("small", "v")
    await r2.put("large", b"z" * (fs.INLINE_BYTES + 1))
    assert await (await r2.get("small")).text() == "v"
    assert len(await (await r2.get("large")).bytes()) == fs.INLINE_BYTES + 1


async def test_small_values_are_one_chunk_and_large_ones_many(opened, monkeypatch):
    r2, _ = opened
    monkeypatch.setattr(fs, "READ_CHUNK_BYTES", 100_000)
    await r2.put("small", b"s" * fs.INLINE_BYTES)
    await r2.put("large", b"l" * 250_000)
    assert [len(c) async for c in (await r2.get("small")).body] == [fs.INLINE_BYTES]
    assert [len(c) async for c in (await r2.get("large")).body] == [100_000, 100_000, 50_000]
    ranged = await r2.get("large", range={"offset": 10, "length": 150_000})
    assert [len(c) async for c in ranged.body] == [100_000, 50_000]
