"""Production on one host, proven through a real nginx: deploy/nginx.conf (ports substituted)
in front of ``python -m bindings serve --workers 3``.

Through nginx: 200 concurrent increments spread over the three processes end at exactly 200
in the object's one owner; one room's WebSocket clients, connected through different
processes, all see each other; X-Forwarded-For/-Proto are honoured from nginx only; nothing
internal is reachable; SIGTERM loses nothing (requests in flight finish, waitUntil work is
done, WebSockets get 1001); KV and Queues on Redis and R2 on S3 need configuration only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from bindings.testing import NGINX, Nginx, port_open, require_service
from tests.processes import FIXTURE, Cluster, until
from tests.r2.conftest import s3_endpoint  # noqa: F401 - a fixture (a moto S3 server)

pytestmark = pytest.mark.e2e


@contextlib.contextmanager
def behind_nginx(folder: Path, **cluster_options):
    require_service("nginx", Path(NGINX).exists(), "apt-get install nginx (.ci/run does)")
    with Cluster(folder / "state", **cluster_options) as cluster:
        proxy = Nginx(folder / "nginx", cluster.port, cluster.workers).start()
        try:
            yield cluster, proxy
        finally:
            proxy.stop()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with behind_nginx(tmp_path_factory.mktemp("site")) as pair:
        yield pair


def test_concurrent_increments_spread_over_every_process_end_exact(site):
    cluster, proxy = site

    async def run():
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(base_url=proxy.url, limits=limits, timeout=60) as client:
            return await asyncio.gather(*(client.get("/inc/through-nginx") for _ in range(200)))

    replies = asyncio.run(run())
    assert all(r.status_code == 200 for r in replies)
    assert sorted(r.json()["n"] for r in replies) == list(range(1, 201))
    assert {int(r.headers["x-served-by"]) for r in replies} == set(cluster.pids)
    assert len({r.json()["owner"] for r in replies}) == 1
    assert httpx.get(f"{proxy.url}/value/through-nginx").json() == {"n": 200}


def test_a_rooms_clients_through_different_processes_see_each_other(site):
    cluster, proxy = site
    ws_url = proxy.url.replace("http://", "ws://") + "/room/nginx-room"
    with contextlib.ExitStack() as stack:
        clients, via = [], set()
        while via != set(cluster.pids):  # nginx balances connections: keep joining until
            assert len(clients) < 30, via  # every process has at least one of the clients
            ws = stack.enter_context(connect(f"{ws_url}?user=c{len(clients)}"))
            hello = json.loads(ws.recv(timeout=10))
            via.add(int(hello["via"]))
            clients.append(ws)
        for sender, ws in enumerate(clients):
            ws.send(f"from {sender}")
            for other in clients:
                assert json.loads(other.recv(timeout=10))["text"] == f"from {sender}"


def test_forwarded_headers_are_honoured_only_from_the_proxy(site):
    cluster, proxy = site
    forged = {"x-forwarded-for": "203.0.113.9", "x-forwarded-proto": "https"}
    # Through nginx: the client address nginx saw (not nginx's own 127.0.0.2), and nothing the
    # client wrote itself.
    assert httpx.get(proxy.url + "/client").json() == {"client": "127.0.0.1", "scheme": "http"}
    assert httpx.get(proxy.url + "/client", headers=forged).json() == {
        "client": "127.0.0.1", "scheme": "http"}  # fmt: skip
    # Straight to a process port: forged headers are ignored...
    direct = httpx.get(cluster.url(1) + "/client", headers=forged).json()
    assert direct == {"client": "127.0.0.1", "scheme": "http"}
    # ...unless the connection comes from the proxy's address.
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(transport=transport) as as_proxy:
        trusted = as_proxy.get(cluster.url(1) + "/client", headers=forged).json()
    assert trusted == {"client": "203.0.113.9", "scheme": "https"}


def test_nothing_internal_is_reachable_through_nginx(site):
    _, proxy = site
    assert httpx.get(proxy.url + "/__hearth/health").json()["status"] == "ok"
    for path in ("/__hearth/metrics", "/__hearth/do/rpc", "/__hearth/do/fetch", "/__hearth/phase"):
        assert httpx.post(proxy.url + path).status_code == 404
        assert httpx.get(proxy.url + path).status_code == 404


def test_sigterm_drains_without_losing_anything(tmp_path):
    with behind_nginx(tmp_path) as (cluster, proxy):
        ws_url = proxy.url.replace("http://", "ws://") + "/room/drain-room"
        with contextlib.ExitStack() as stack, ThreadPoolExecutor(24) as pool:
            sockets = [stack.enter_context(connect(f"{ws_url}?user=s{i}")) for i in range(3)]
            for ws in sockets:
                json.loads(ws.recv(timeout=10))

            def slow(_):
                return httpx.get(proxy.url + "/slow/drained?ms=1500", timeout=60)

            def later(_):
                return httpx.get(proxy.url + "/later/waited?ms=1500", timeout=60)

            slows = [pool.submit(slow, i) for i in range(9)]
            laters = [pool.submit(later, i) for i in range(9)]
            assert all(f.result().status_code == 200 for f in laters)
            time.sleep(0.5)  # the slow requests are in the processes now, sleeping
            cluster.server.proc.send_signal(signal.SIGTERM)
            replies = [f.result() for f in slows]
            assert [r.status_code for r in replies] == [200] * 9
            assert sorted(r.json()["n"] for r in replies) == list(range(1, 10))
            for ws in sockets:
                with pytest.raises(ConnectionClosed) as closed:
                    ws.recv(timeout=30)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        assert cluster.server.proc.wait(60) == 0
        # Everything in flight at SIGTERM was finished and persisted: start again and look.
        with Cluster(tmp_path / "state") as again:
            assert httpx.get(again.url(0) + "/value/drained").json() == {"n": 9}
            assert httpx.get(again.url(0) + "/value/waited").json() == {"n": 9}


@pytest.fixture
def redis_prefix():
    require_service("Redis", port_open("127.0.0.1", 6379), "redis-server --port 6379")
    prefix = f"hearth-test:{uuid.uuid4().hex}:"
    yield prefix
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379)
    try:
        for key in client.scan_iter(match=prefix + "*", count=1000):
            client.delete(key)
    finally:
        client.close()


def test_redis_and_s3_are_a_matter_of_configuration(tmp_path, redis_prefix, s3_endpoint):  # noqa: F811
    endpoint, admin = s3_endpoint
    s3_bucket = f"t-{uuid.uuid4().hex[:12]}"
    admin.create_bucket(Bucket=s3_bucket)
    project = tmp_path / "project"
    shutil.copytree(FIXTURE.parent, project)
    config = project / FIXTURE.name
    config.write_text(
        config.read_text()
        + f"""
[hearth.kv]
backend = "redis"
redis_prefix = "{redis_prefix}kv:"
cache_ttl = 0

[hearth.queues]
backend = "redis"
redis_prefix = "{redis_prefix}q:"

[hearth.r2]
backend = "s3"
endpoint = "{endpoint}"
s3_bucket = "{s3_bucket}"
access_key_id = "testing"
secret_access_key = "testing"
region = "us-east-1"
"""
    )
    with behind_nginx(tmp_path, config=config) as (cluster, proxy):
        for i in range(6):  # spread over the processes by nginx; read back through others
            assert httpx.put(f"{proxy.url}/kv/k{i}", content=f"v{i}").status_code == 200
            assert httpx.put(f"{proxy.url}/r2/o{i}", content=f"body{i}").status_code == 200
            assert httpx.post(f"{proxy.url}/jobs/j{i}").status_code == 200
        for i in range(6):
            for p in range(3):
                assert httpx.get(f"{cluster.url(p)}/kv/k{i}").json() == {"value": f"v{i}"}
                assert httpx.get(f"{cluster.url(p)}/r2/o{i}").json() == {"value": f"body{i}"}
        consumed = [f"{proxy.url}/kv/job:j{i}" for i in range(6)]
        until(lambda: all(httpx.get(url).json()["value"] for url in consumed), timeout=30)
    listed = admin.list_objects_v2(Bucket=s3_bucket)
    assert len(listed.get("Contents", [])) == 6  # the objects are in S3, not on disk
    assert not (tmp_path / "state" / "r2").exists()
