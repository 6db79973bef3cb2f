"""The r2_buckets section: config keys and errors, bucket identity across workers, lazy S3."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bindings import ConfigError
from bindings.r2.plugin import Store, folder_name
from bindings.testing import load_config
from tests.conftest import ROOT


def worker(*buckets, name="w"):
    return {"name": name, "main": "workers.hello.entry", "r2_buckets": list(buckets)}


def test_bucket_entries_and_defaults(tmp_path):
    config = load_config(
        {
            "hearth": {"r2": {"backend": "s3", "s3_bucket": "shared", "endpoint": "http://s3"}},
            "workers": [
                worker(
                    {"binding": "A", "bucket_name": "a"},
                    {"binding": "B", "bucket_name": "b", "s3_bucket": "own", "region": "eu"},
                    {"binding": "C", "bucket_name": "c", "backend": "fs", "durable": True},
                    {"binding": "D", "bucket_name": "d", "preview_bucket_name": "d-preview",
                     "jurisdiction": "eu"},
                )
            ],
        },
        tmp_path,
    )  # fmt: skip
    stores = {decl.name: decl.store for _, decl in config.workers[0].bindings}
    assert stores["A"] == Store("s3", endpoint="http://s3", s3_bucket="shared", s3_prefix="a/")
    assert stores["B"] == Store("s3", endpoint="http://s3", region="eu", s3_bucket="own")
    assert stores["C"] == Store("fs", durable=True, endpoint="http://s3", s3_bucket="shared")
    assert stores["D"].s3_prefix == "d/"


def test_s3_bucket_defaults_to_the_bucket_name(tmp_path):
    config = load_config(
        {"workers": [worker({"binding": "A", "bucket_name": "media", "backend": "s3"})]}, tmp_path
    )
    ((_, decl),) = config.workers[0].bindings
    assert (decl.store.s3_bucket, decl.store.s3_prefix) == ("media", "")


@pytest.mark.parametrize(
    ("doc", "where", "problem"),
    [
        ({"workers": [worker({"binding": "A"})]}, "workers[0].r2_buckets[0].bucket_name",
         "is required"),
        ({"workers": [worker({"binding": "A", "bucket_name": "a", "bakend": "fs"})]},
         "workers[0].r2_buckets[0].bakend", "unknown key"),
        ({"workers": [worker({"binding": "A", "bucket_name": "a", "backend": "gcs"})]},
         "workers[0].r2_buckets[0].backend", "must be one of 'fs', 's3'"),
        ({"workers": [worker({"binding": "A", "bucket_name": "a", "durable": "yes"})]},
         "workers[0].r2_buckets[0].durable", "must be true or false"),
        ({"hearth": {"r2": {"endpont": "x"}}, "workers": [worker({"binding": "A",
          "bucket_name": "a"})]}, "hearth.r2.endpont", "unknown key"),
        ({"workers": [worker({"binding": "A", "bucket_name": "a"}),
                      worker({"binding": "B", "bucket_name": "a", "backend": "s3"}, name="v")]},
         "workers[1].r2_buckets[0]",
         "bucket 'a' is stored differently in workers[0].r2_buckets[0]"),
    ],
)  # fmt: skip
async def test_config_errors_name_the_key(tmp_path, hearth, doc, where, problem):
    with pytest.raises(ConfigError) as info:
        await hearth(doc)
    assert (info.value.key, info.value.problem) == (where, problem)


async def test_the_same_bucket_name_is_the_same_bucket(hearth, tmp_path):
    h = await hearth(
        {
            "workers": [
                worker({"binding": "MEDIA", "bucket_name": "shared"}, name="a"),
                worker({"binding": "FILES", "bucket_name": "shared"},
                       {"binding": "OTHER", "bucket_name": "other"}, name="b"),
            ]
        }
    )  # fmt: skip
    await h.env("a").MEDIA.put("key", "from a")
    assert await (await h.env("b").FILES.get("key")).text() == "from a"
    assert await h.env("b").OTHER.get("key") is None
    assert h.env("a").MEDIA is h.env("b").FILES
    health = (await h.SELF.get("/__hearth/health")).json()
    assert {w["name"]: w["bindings"] for w in health["workers"]}["b"] == {
        "FILES": "r2", "OTHER": "r2"
    }  # fmt: skip


def test_folder_names_are_safe_for_any_bucket_name():
    assert folder_name("media") == "media"
    assert folder_name("my/ Bucket") == "my%2F%20Bucket"
    assert folder_name("..") == "%2E%2E"
    assert len({folder_name(n) for n in ("a/b", "a%2Fb", "a_b", "a.b")}) == 4


def test_aiobotocore_is_imported_only_for_s3_buckets(tmp_path):
    code = (
        "import asyncio, sys\n"
        "from bindings.testing import Hearth\n"
        "async def main():\n"
        f"    h = Hearth({{'workers': [{{'name': 'w', 'main': 'workers.hello.entry', "
        f"'r2_buckets': [{{'binding': 'B', 'bucket_name': 'b'}}]}}]}}, {str(tmp_path)!r})\n"
        "    await h.__aenter__()\n"
        "    await h.env().B.put('k', 'v')\n"
        "    await h.aclose()\n"
        "asyncio.run(main())\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('aiobotocore', 'botocore')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
