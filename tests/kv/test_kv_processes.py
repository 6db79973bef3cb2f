"""A value written by one server process is read by another (both backends), and survives a
restart. Real ``python -m bindings dev`` processes on loopback, over one state folder (SQLite)
or one Redis key prefix."""

import json

import httpx
import pytest

from bindings.testing import server
from tests.kv.conftest import WORKER

pytestmark = pytest.mark.e2e


def write_project(folder, backend, prefix):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kv_worker.py").write_text(WORKER)
    config = folder / "wrangler.jsonc"
    config.write_text(
        json.dumps(
            {
                "name": "kvtest",
                "main": "kv_worker.py",
                "kv_namespaces": [{"binding": "KV", "id": "shared"}],
                "hearth": {"kv": {"backend": backend, "redis_prefix": prefix}},
            }
        )
    )
    return config


def test_a_write_in_one_process_is_read_by_another(tmp_path, backend_name, redis_prefix):
    config = write_project(tmp_path / "project", backend_name, redis_prefix)
    state = tmp_path / "state"
    with server(config, state) as one, server(config, state) as two:
        assert one.proc.pid != two.proc.pid
        assert httpx.get(f"{two.url}/kv/greeting").status_code == 404
        assert httpx.put(f"{one.url}/kv/other", content=b"\x00bytes\xff").status_code == 204
        assert httpx.get(f"{two.url}/kv/other").content == b"\x00bytes\xff"
        assert httpx.put(f"{two.url}/kv/from-two", content="héllo").status_code == 204
        assert httpx.get(f"{one.url}/kv/from-two").text == "héllo"
    with server(config, state) as again:
        assert httpx.get(f"{again.url}/kv/other").content == b"\x00bytes\xff"
