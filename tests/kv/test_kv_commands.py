"""``python -m bindings kv key|bulk ...`` on local state, read back through the binding."""

import asyncio
import base64
import json
import subprocess
import sys

import pytest

from bindings.cli import main
from tests.conftest import ROOT
from tests.kv.conftest import WORKER


@pytest.fixture
def project(tmp_path, backend_name, redis_prefix):
    """A two-worker config; both bind "KV", to different namespaces."""
    (tmp_path / "kv_worker.py").write_text(WORKER)
    config = tmp_path / "wrangler_compat.toml"
    config.write_text(
        f"""
[hearth.kv]
backend = "{backend_name}"
redis_prefix = "{redis_prefix}"

[[workers]]
name = "one"
main = "kv_worker:app"
[[workers.kv_namespaces]]
binding = "KV"
id = "first"
[[workers.kv_namespaces]]
binding = "SECOND"
id = "second"

[[workers]]
name = "two"
main = "kv_worker:app"
[[workers.kv_namespaces]]
binding = "KV"
id = "second"
"""
    )
    return config


def kv(project, *args):
    return main(
        ["kv", *args, "--config", str(project), "--persist-to", str(project.parent / "state")]
    )


async def akv(project, *args):
    """``kv`` from an async test: the command runs its own event loop, so in a thread."""
    return await asyncio.to_thread(kv, project, *args)


async def binding_env(hearth, project):
    return (await hearth(project, state_dir=project.parent / "state")).env("one")


def test_key_put_get_list_delete(project, capsys):
    assert (
        kv(
            project,
            "key",
            "put",
            "SECOND",
            "greeting",
            "héllo",
            "--metadata",
            '{"a": 1}',
            "--ttl",
            "3600",
        )
        == 0
    )
    assert "Wrote key 'greeting'" in capsys.readouterr().out
    assert kv(project, "key", "get", "SECOND", "greeting") == 0
    assert capsys.readouterr().out == "héllo"
    assert kv(project, "key", "put", "SECOND", "file", "--path", str(project)) == 0
    assert kv(project, "key", "list", "SECOND") == 0
    listed = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert [k["name"] for k in listed] == ["file", "greeting"]
    assert listed[1]["metadata"] == {"a": 1} and listed[1]["expiration"] > 0
    assert kv(project, "key", "list", "SECOND", "--prefix", "gr") == 0
    assert [k["name"] for k in json.loads(capsys.readouterr().out)] == ["greeting"]
    assert kv(project, "key", "delete", "SECOND", "greeting") == 0
    assert kv(project, "key", "get", "SECOND", "greeting", "--text") == 1
    assert "Value not found" in capsys.readouterr().err


async def test_values_written_by_commands_are_read_by_the_binding(project, hearth, capsysbinary):
    assert await akv(project, "key", "put", "SECOND", "k", "from the command line") == 0
    assert await akv(project, "key", "put", "KV", "k", "first", "--worker", "one") == 0
    env = await binding_env(hearth, project)
    assert await env.SECOND.get("k") == "from the command line"
    assert await env.KV.get("k") == "first"
    await env.SECOND.put("bin", b"\x00\xff")
    capsysbinary.readouterr()
    assert await akv(project, "key", "get", "KV", "bin", "--worker", "two") == 0
    assert capsysbinary.readouterr().out == b"\x00\xff"  # raw bytes, as wrangler prints them


def test_key_list_pages_through_everything(project, capsys, monkeypatch):
    from bindings.kv import namespace

    monkeypatch.setattr(namespace, "KV_MAX_LIST_KEYS", 2)
    items = [{"key": f"k{i}", "value": str(i)} for i in range(5)]
    (project.parent / "bulk.json").write_text(json.dumps(items))
    assert kv(project, "bulk", "put", "SECOND", str(project.parent / "bulk.json")) == 0
    capsys.readouterr()
    assert kv(project, "key", "list", "SECOND") == 0
    assert [k["name"] for k in json.loads(capsys.readouterr().out)] == [f"k{i}" for i in range(5)]


async def test_bulk_put_wranglers_format(project, hearth, capsys):
    items = [
        {"key": "plain", "value": "text"},
        {"key": "binary", "value": base64.b64encode(b"\x00\x01\xff").decode(), "base64": True},
        {"key": "meta", "value": "m", "metadata": {"tag": "x"}, "expiration_ttl": 3600},
        {"key": "until", "value": "u", "expiration": 4_000_000_000},
    ]
    (project.parent / "bulk.json").write_text(json.dumps(items))
    assert await akv(project, "bulk", "put", "SECOND", str(project.parent / "bulk.json")) == 0
    assert "Success! Wrote 4 keys" in capsys.readouterr().out
    kv_ns = (await binding_env(hearth, project)).SECOND
    assert await kv_ns.get("plain") == "text"
    assert bytes(await kv_ns.get("binary", "arrayBuffer")) == b"\x00\x01\xff"
    listed = {k["name"]: k for k in (await kv_ns.list())["keys"]}
    assert listed["meta"]["metadata"] == {"tag": "x"} and "expiration" in listed["meta"]
    assert listed["until"]["expiration"] == 4_000_000_000


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"key": "a"}', "must be a JSON array"),
        ('[{"key": "a"}]', "[0] needs a string key and a string value"),
        ('[{"key": "a", "value": "b", "ttl": 5}]', "[0] has unknown field 'ttl'"),
        ('[{"key": "a", "value": "***", "base64": true}]', "[0].value is not valid base64"),
        ("not json", "cannot read"),
    ],
)
def test_bulk_put_refuses_bad_files_before_writing(project, capsys, content, message):
    path = project.parent / "bulk.json"
    path.write_text(content)
    assert kv(project, "bulk", "put", "SECOND", str(path)) == 1
    assert message in capsys.readouterr().err


def test_bulk_put_stops_at_the_first_refused_key(project, capsys):
    path = project.parent / "bulk.json"
    path.write_text(
        json.dumps([{"key": "a", "value": "1"}, {"key": "b", "value": "2", "expiration_ttl": 5}])
    )
    assert kv(project, "bulk", "put", "SECOND", str(path)) == 1
    err = capsys.readouterr().err
    assert "[1] ('b'): KV PUT failed: 400 Invalid expiration_ttl of 5. " in err
    assert "1 of 2 keys were written" in err


def test_binding_errors_and_ambiguity(project, capsys):
    assert kv(project, "key", "put", "SECOND", "", "v") == 1
    assert "error: Key name cannot be empty." in capsys.readouterr().err
    assert kv(project, "key", "put", "SECOND", "k") == 1
    assert "give either a VALUE or --path FILE" in capsys.readouterr().err
    assert kv(project, "key", "get", "KV", "k") == 2
    assert (
        "binding 'KV' names different namespaces in workers one, two; choose one with --worker"
        in (capsys.readouterr().err)
    )
    assert kv(project, "key", "get", "NOPE", "k") == 2
    assert "no binding 'NOPE'" in capsys.readouterr().err


def test_the_real_command_line(project):
    def run(*args):
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "bindings",
                "kv",
                *args,
                "-c",
                str(project),
                "--persist-to",
                str(project.parent / "s"),
            ],
            cwd=ROOT,
            capture_output=True,
            timeout=60,
        )

    assert run("key", "put", "SECOND", "k", "v").returncode == 0
    result = run("key", "get", "SECOND", "k")
    assert (result.returncode, result.stdout) == (0, b"v")
