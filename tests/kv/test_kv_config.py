"""``kv_namespaces`` and ``[hearth.kv]``: parsing, backend choice, and their errors."""

import subprocess
import sys

import pytest

from bindings import ConfigError, load_config
from bindings.kv import KVError
from bindings.kv.plugin import KVDecl
from bindings.testing import free_port
from tests.conftest import ROOT
from tests.kv.conftest import kv_config, need_redis


def decls(doc, tmp_path):
    config = load_config_doc(doc, tmp_path)
    return [
        decl for worker in config.workers for _, decl in worker.bindings if isinstance(decl, KVDecl)
    ]


def load_config_doc(doc, tmp_path):
    from bindings.testing import load_config as from_source

    return from_source(doc, tmp_path)


def test_entries_become_decls_with_defaults(tmp_path):
    doc = kv_config("sqlite", "p:", [{"binding": "KV", "id": "abc"}, {"binding": "CACHE"}])
    doc["hearth"] = {}
    first, second = decls(doc, tmp_path)
    assert (first.name, first.id, first.backend, first.cache_ttl) == ("KV", "abc", "sqlite", 60.0)
    assert (second.name, second.id) == ("CACHE", "CACHE")  # no id: the binding name
    assert first.key == "workers[0].kv_namespaces[0]"


def test_backend_and_settings_global_then_per_namespace(tmp_path):
    doc = kv_config(
        "redis",
        "global:",
        [
            {"binding": "A", "id": "a"},
            {"binding": "B", "id": "b", "backend": "sqlite", "cache_ttl": 0},
            {"binding": "C", "id": "c", "redis_prefix": "own:", "redis_url": "redis://h:1/2"},
        ],
        cache_ttl=5,
    )
    a, b, c = decls(doc, tmp_path)
    assert (a.backend, a.redis_prefix, a.cache_ttl, a.redis_url) == ("redis", "global:", 5, None)
    assert (b.backend, b.cache_ttl) == ("sqlite", 0)
    assert (c.backend, c.redis_prefix, c.redis_url) == ("redis", "own:", "redis://h:1/2")


def test_a_wrangler_block_works_unchanged(tmp_path):
    doc = {
        "name": "w",
        "main": "kv_worker:app",
        "kv_namespaces": [
            {"binding": "KV", "id": "0f2ac74b498b48028cb68387c421e279", "preview_id": "x"}
        ],
    }
    (decl,) = decls(doc, tmp_path)
    assert (decl.id, decl.backend) == ("0f2ac74b498b48028cb68387c421e279", "sqlite")


@pytest.mark.parametrize(
    ("entry", "hearth_kv", "key", "problem"),
    [
        ({"id": "x"}, {}, "workers[0].kv_namespaces[0].binding", "is required"),
        (
            {"binding": "KV", "backend": "memcached"},
            {},
            "workers[0].kv_namespaces[0].backend",
            "must be one of sqlite, redis",
        ),
        (
            {"binding": "KV", "cache_ttl": -1},
            {},
            "workers[0].kv_namespaces[0].cache_ttl",
            "must be a number >= 0",
        ),
        (
            {"binding": "KV", "cache_ttl": True},
            {},
            "workers[0].kv_namespaces[0].cache_ttl",
            "must be a number >= 0",
        ),
        (
            {"binding": "KV", "bakend": "redis"},
            {},
            "workers[0].kv_namespaces[0].bakend",
            "unknown key",
        ),
        (
            {"binding": "KV", "redis_url": ""},
            {},
            "workers[0].kv_namespaces[0].redis_url",
            "must be a non-empty string",
        ),
        ({"binding": "KV"}, {"backend": "s3"}, "hearth.kv.backend", "must be one of sqlite, redis"),
        ({"binding": "KV"}, {"cache_size": "big"}, "hearth.kv.cache_size", "must be a number >= 0"),
        (
            {"binding": "KV"},
            {"sweep_interval": -1},
            "hearth.kv.sweep_interval",
            "must be a number >= 0",
        ),
        ({"binding": "KV"}, {"colour": "red"}, "hearth.kv.colour", "unknown key"),
    ],
)
def test_bad_settings_name_the_key(tmp_path, entry, hearth_kv, key, problem):
    doc = {
        "hearth": {"kv": hearth_kv},
        "workers": [{"name": "w", "main": "m", "kv_namespaces": [entry]}],
    }
    with pytest.raises(ConfigError) as err:
        load_config_doc(doc, tmp_path)
    assert (err.value.key, err.value.problem) == (key, problem)


def test_kv_namespaces_must_be_an_array_of_tables(tmp_path):
    doc = {"workers": [{"name": "w", "main": "m", "kv_namespaces": {"binding": "KV"}}]}
    with pytest.raises(ConfigError, match="kv_namespaces: must be an array of tables"):
        load_config_doc(doc, tmp_path)


async def test_one_namespace_id_lives_in_one_backend(hearth, kv_worker, redis_prefix):
    doc = kv_config("sqlite", redis_prefix, [{"binding": "KV", "id": "shared"}])
    doc["workers"].append(
        {
            "name": "other",
            "main": "kv_worker:app",
            "kv_namespaces": [{"binding": "KV", "id": "shared", "backend": "redis"}],
        }
    )
    with pytest.raises(ConfigError) as err:
        await hearth(doc)
    assert err.value.key == "workers[1].kv_namespaces[0]"
    assert (
        "namespace id 'shared' is also bound by worker 'kvtest' with backend 'sqlite'"
        in err.value.problem
    )


async def test_redis_url_comes_from_the_namespace_then_hearth_kv_then_hearth(
    hearth, kv_worker, redis_prefix, tmp_path, monkeypatch
):
    need_redis()
    dead = f"redis://127.0.0.1:{free_port()}/0"
    live = "redis://127.0.0.1:6379/0"
    monkeypatch.setenv("HEARTH_REDIS_URL", dead)
    doc = kv_config(
        "redis",
        redis_prefix,
        [{"binding": "KV"}, {"binding": "DEAD", "redis_url": dead}],
        redis_url=live,
    )
    doc["hearth"]["redis_url"] = dead
    env = (await hearth(doc)).env()
    await env.KV.put("k", "v")
    with pytest.raises(KVError, match="500 Redis"):
        await env.DEAD.put("k", "v")
    doc = kv_config("redis", redis_prefix)
    doc["hearth"]["redis_url"] = live  # [hearth] redis_url beats HEARTH_REDIS_URL
    assert await (await hearth(doc, state_dir=tmp_path / "2")).env().KV.get("k") is None


def test_redis_is_imported_only_when_a_redis_backend_is_configured(tmp_path):
    (tmp_path / "kv_worker.py").write_text(
        "from starlette.applications import Starlette\napp = Starlette()\n"
    )
    script = """
import asyncio, sys
from bindings.testing import Hearth

async def main():
    worker = {"name": "w", "main": "kv_worker:app", "kv_namespaces": [{"binding": "KV"}]}
    doc = {"workers": [worker]}
    async with Hearth(doc, sys.argv[1]) as h:
        await h.env().KV.put("k", "v")
        assert await h.env().KV.get("k") == "v"
    print("redis" in sys.modules)

asyncio.run(main())
"""
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "state")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": f"{ROOT}:{tmp_path}", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
    assert (tmp_path / "state" / "kv" / "kv.sqlite3").is_file()


def test_check_lists_kv_bindings(tmp_path):
    (tmp_path / "kv_worker.py").write_text(
        "from starlette.applications import Starlette\napp = Starlette()\n"
    )
    config = tmp_path / "wrangler.toml"
    config.write_text(
        'name = "w"\nmain = "kv_worker.py"\n[[kv_namespaces]]\nbinding = "KV"\nid = "x"\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "bindings", "check", "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "KV (kv)" in result.stdout
    assert load_config(config).workers[0].bindings[0][1].id == "x"
