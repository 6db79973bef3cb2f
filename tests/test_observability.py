"""Metrics, the admin listener, JSON access logs and graceful shutdown of the server."""

import json

import httpx

from bindings.metrics import Metrics, merge, render
from bindings.testing import free_port, free_ports, server, wait_healthy
from tests.conftest import ROOT


async def test_metrics_count_requests_by_worker_route_and_status(hearth):
    h = await hearth(ROOT / "wrangler_compat.toml")
    for _ in range(3):
        assert (await h.SELF.get("/hello")).status_code == 200
    text = (await h.SELF.get("/__hearth/metrics")).text
    assert 'hearth_requests_total{worker="hello",route="/hello*",status="200"} 3' in text
    assert 'hearth_request_duration_seconds_count{worker="hello",route="/hello*"} 3' in text


def test_merge_sums_processes_and_renders_prometheus_text():
    a, b = Metrics(), Metrics()
    a.request("w", "/x*", 200, 0.002)
    b.request("w", "/x*", 200, 0.2)
    b.binding("kv", "get", True, 0.0001)
    a.gauge("hearth_live", "Live things.", ("kind",), lambda: {("do",): 2.0})
    b.gauge("hearth_live", "Live things.", ("kind",), lambda: {("do",): 3.0})
    text = render(merge([a.snapshot(), b.snapshot()]))
    assert 'hearth_requests_total{worker="w",route="/x*",status="200"} 2' in text
    assert 'hearth_request_duration_seconds_bucket{worker="w",route="/x*",le="0.0025"} 1' in text
    assert 'hearth_request_duration_seconds_bucket{worker="w",route="/x*",le="+Inf"} 2' in text
    assert 'hearth_binding_operations_total{binding="kv",method="get",outcome="ok"} 1' in text
    assert 'hearth_live{kind="do"} 5' in text


def test_serve_keeps_metrics_off_the_public_port_and_logs_json(tmp_path):
    admin = free_port()
    with server(ROOT / "wrangler_compat.toml", tmp_path, command="serve",
                args=["--admin-port", str(admin), "--access-log"]) as s:  # fmt: skip
        assert httpx.get(s.url + "/hello", headers={"x-request-id": "req-1"}).status_code == 200
        public = httpx.get(s.url + "/__hearth/metrics")
        assert public.status_code == 404
        private = httpx.get(f"http://127.0.0.1:{admin}/__hearth/metrics")
        assert 'worker="hello"' in private.text
        s.stop()
        lines = [json.loads(line) for line in s.output().splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("request_id") == "req-1"]
    assert access and access[0]["status"] == 200 and access[0]["worker"] == "hello"
    assert access[0]["route"] == "/hello*" and access[0]["duration_ms"] > 0


def test_three_processes_share_one_metrics_view(tmp_path):
    admin = free_ports(3)
    port = free_ports(3)
    with server(ROOT / "wrangler_compat.toml", tmp_path, command="serve", port=port,
                args=["--workers", "3", "--admin-port", str(admin)]) as s:  # fmt: skip
        for i in range(3):
            url = f"http://127.0.0.1:{port + i}"
            wait_healthy(url)  # process 0 answered first; the others may still be starting
            assert httpx.get(url + "/hello").status_code == 200
        text = httpx.get(f"http://127.0.0.1:{admin + 2}/__hearth/metrics").text
        assert 'hearth_requests_total{worker="hello",route="/hello*",status="200"} 3' in text
        assert s.stop() == 0  # SIGTERM: every process drained and exited cleanly


async def test_binding_operations_are_counted_and_timed(hearth, tmp_path):
    (tmp_path / "kvmetrics.py").write_text(
        "from workers import Response, WorkerEntrypoint\n"
        "class Default(WorkerEntrypoint):\n"
        "    async def fetch(self, request):\n"
        "        await self.env.KV.put('k', 'v')\n"
        "        return Response(await self.env.KV.get('k'))\n"
    )
    h = await hearth(
        {
            "workers": [
                {
                    "name": "m",
                    "main": "kvmetrics",
                    "routes": ["/*"],
                    "kv_namespaces": [{"binding": "KV", "id": "m"}],
                }
            ]
        }
    )
    assert (await h.SELF.get("/")).text == "v"
    with_missing = await h.env("m").KV.get("nope")  # outside a request: not counted
    assert with_missing is None
    text = (await h.SELF.get("/__hearth/metrics")).text
    assert 'hearth_binding_operations_total{binding="kv",method="get",outcome="ok"} 1' in text
    assert 'hearth_binding_operations_total{binding="kv",method="put",outcome="ok"} 1' in text
    assert 'hearth_binding_operation_duration_seconds_count{binding="kv",method="get"} 1' in text
