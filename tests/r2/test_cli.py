"""python -m bindings r2 object put|get|delete|list, on the state a runtime then serves."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

CONFIG = (
    '[[workers]]\nname = "w"\nmain = "workers.hello.entry"\n'
    '[[workers.r2_buckets]]\nbinding = "MEDIA"\nbucket_name = "media"\n'
)


def r2(tmp_path, *args, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "bindings", "r2", "object", *args,
         "--config", str(tmp_path / "wrangler_compat.toml"), "--persist-to", str(tmp_path / "s")],
        cwd=ROOT, input=stdin, capture_output=True, timeout=60,
    )  # fmt: skip


async def test_object_verbs(tmp_path, hearth):
    (tmp_path / "wrangler_compat.toml").write_text(CONFIG)
    (tmp_path / "photo.png").write_bytes(b"\x89PNG" * 1000)
    result = r2(tmp_path, "put", "media/img/photo.png", "--file", str(tmp_path / "photo.png"))
    assert result.returncode == 0, result.stderr
    result = r2(tmp_path, "put", "media/notes.txt", "--pipe", "--ct", "text/markdown",
                "--cache-control", "no-store", stdin=b"# hi\n")  # fmt: skip
    assert result.returncode == 0, result.stderr

    listed = json.loads(r2(tmp_path, "list", "media").stdout)
    assert [(o["key"], o["size"]) for o in listed] == [("img/photo.png", 4000), ("notes.txt", 5)]
    assert json.loads(r2(tmp_path, "list", "media", "--prefix", "img/").stdout)[0]["key"] == (
        "img/photo.png"
    )
    assert r2(tmp_path, "get", "media/notes.txt").stdout == b"# hi\n"
    assert (
        r2(tmp_path, "get", "media/img/photo.png", "--file", str(tmp_path / "out")).returncode == 0
    )
    assert (tmp_path / "out").read_bytes() == b"\x89PNG" * 1000

    # A runtime on the same state serves what the commands stored.
    h = await hearth(tmp_path / "wrangler_compat.toml", state_dir=tmp_path / "s")
    photo = await h.env().MEDIA.head("img/photo.png")
    assert photo.httpMetadata == {"contentType": "image/png"}  # guessed from the file name
    notes = await h.env().MEDIA.head("notes.txt")
    assert notes.httpMetadata == {"contentType": "text/markdown", "cacheControl": "no-store"}
    await h.aclose()

    assert r2(tmp_path, "delete", "media/notes.txt").returncode == 0
    missing = r2(tmp_path, "get", "media/notes.txt")
    assert (missing.returncode, missing.stderr) == (1, b"error: no object media/notes.txt\n")
    assert r2(tmp_path, "get", "media").returncode != 0  # no key
    # A bucket the config does not declare works too, on local files.
    assert r2(tmp_path, "put", "scratch/k", "--pipe", stdin=b"v").returncode == 0
    assert r2(tmp_path, "get", "scratch/k").stdout == b"v"
