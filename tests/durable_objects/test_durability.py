"""Durability through a real server: nothing a client saw is lost to kill -9."""

import asyncio
import json
import subprocess
import sys

import httpx

from bindings.testing import ServerProcess
from tests.conftest import FIXTURES, ROOT

CONFIG = FIXTURES / "do_counter" / "wrangler.toml"


async def test_a_killed_server_loses_no_acknowledged_write(tmp_path):
    state = tmp_path / "state"
    with ServerProcess(CONFIG, state) as proc:
        async with httpx.AsyncClient(base_url=proc.url, timeout=30) as client:
            for _ in range(20):
                (await client.get("/inc/seq")).raise_for_status()
            burst = await asyncio.gather(*(client.get("/inc/burst") for _ in range(100)))
            seen = max(r.json()["n"] for r in burst)
            last = (await client.get("/inc/seq")).json()["n"]
        proc.kill()  # SIGKILL right after the last response: no shutdown, no final commit
    assert (seen, last) == (100, 21)
    with ServerProcess(CONFIG, state) as again:
        async with httpx.AsyncClient(base_url=again.url, timeout=30) as client:
            assert (await client.get("/get/seq")).json() == {"n": 21}
            assert (await client.get("/get/burst")).json() == {"n": 100}


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "bindings", "do", *args, "--config", str(CONFIG)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_do_list_and_get_commands(tmp_path):
    state = str(tmp_path / "state")
    assert "no objects with storage" in run_cli("list", "COUNTER", "--persist-to", state).stdout
    with ServerProcess(CONFIG, state) as proc:
        for name in ("alpha", "alpha", "beta"):
            httpx.get(f"{proc.url}/inc/{name}").raise_for_status()
        listing = run_cli("list", "COUNTER", "--persist-to", state)  # while the server runs
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()[1:]
    assert sorted(line.split()[1] for line in lines) == ["alpha", "beta"]
    assert all(int(line.split()[2]) > 0 for line in lines)

    got = run_cli("get", "COUNTER", "alpha", "--persist-to", state)
    assert got.returncode == 0, got.stderr
    dump = json.loads(got.stdout)
    assert dump["name"] == "alpha" and dump["kv"]["n"] == 2
    assert dump["kv"]["log:00001"] == {"n": 1, "bytes": {"$bytes": "AQ=="}}
    by_id = run_cli("get", "COUNTER", dump["id"], "n", "--persist-to", state)
    assert json.loads(by_id.stdout) == 2
    missing = run_cli("get", "COUNTER", "alpha", "nope", "--persist-to", state)
    assert missing.returncode == 1 and "no key 'nope'" in missing.stderr
    bad = run_cli("get", "COUNTER", "0" * 64, "--persist-to", state)
    assert bad.returncode == 1 and "not valid for this namespace" in bad.stderr
    unknown = run_cli("list", "NOPE", "--persist-to", state)
    assert unknown.returncode == 2 and "no binding named 'NOPE'" in unknown.stderr
