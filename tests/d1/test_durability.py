"""Real server processes: writes survive kill -9, and two processes share one database."""

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from bindings.d1 import database_path
from bindings.testing import ServerProcess

pytestmark = pytest.mark.e2e

CONFIG = """\
name = "writer"
main = "writer_app.py"

[[d1_databases]]
binding = "DB"
database_name = "log"
database_id = "log"
"""

APP = """
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route


async def write(request):
    db = request.scope["env"].DB
    who, n = request.query_params["who"], int(request.query_params["n"])
    insert = db.prepare("INSERT INTO entries (who, n) VALUES (?, ?)")
    if n % 2:
        result = await insert.bind(who, n).run()
        return JSONResponse({"rows": 1, "id": result.meta.last_row_id})
    results = await db.batch([insert.bind(who, n), insert.bind(who, -n)])
    return JSONResponse({"rows": 2, "id": results[1].meta.last_row_id})


async def count(request):
    db = request.scope["env"].DB
    return JSONResponse(await db.prepare("SELECT count(*) AS n FROM entries").first())


app = Starlette(routes=[Route("/write", write, methods=["POST"]), Route("/count", count)])
"""


@pytest.fixture
def project(tmp_path):
    (tmp_path / "wrangler.toml").write_text(CONFIG)
    (tmp_path / "writer_app.py").write_text(APP)
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "0000_entries.sql").write_text(
        "CREATE TABLE entries (id INTEGER PRIMARY KEY, who TEXT NOT NULL, n INTEGER NOT NULL);\n"
    )
    return tmp_path


def rows_on_disk(state):
    with sqlite3.connect(database_path(state, "log")) as conn:
        rows = conn.execute("SELECT id, who, n FROM entries").fetchall()
    conn.close()
    return rows


def test_acknowledged_writes_survive_kill_9(project, tmp_path):
    state = tmp_path / "state"
    acknowledged = 0
    with ServerProcess(project / "wrangler.toml", state) as server:
        with httpx.Client(base_url=server.url) as client:
            for n in range(1, 101):
                r = client.post("/write", params={"who": "solo", "n": n})
                assert r.status_code == 200, r.text
                acknowledged += r.json()["rows"]
        server.kill()  # SIGKILL: no shutdown, no checkpoint, no close
    assert acknowledged == 150
    rows = rows_on_disk(state)
    assert len(rows) == acknowledged
    assert sorted(n for _, _, n in rows) == sorted(
        [n for n in range(1, 101)] + [-n for n in range(2, 101, 2)]
    )


async def _hammer(url: str, who: str, requests: int, concurrency: int) -> tuple[int, list[str]]:
    written, failures = 0, []
    queue = list(range(1, requests + 1))
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:

        async def worker() -> None:
            nonlocal written
            while queue:
                n = queue.pop()
                r = await client.post("/write", params={"who": who, "n": n})
                if r.status_code == 200:
                    written += r.json()["rows"]
                else:
                    failures.append(r.text)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return written, failures


async def test_two_processes_write_one_database_without_lock_errors(project, tmp_path):
    state = tmp_path / "state"
    servers = [ServerProcess(project / "wrangler.toml", state) for _ in range(2)]
    with ThreadPoolExecutor(2) as pool:  # start both at once: both apply migrations
        list(pool.map(lambda s: s.start(), servers))
    try:
        results = await asyncio.gather(
            *(_hammer(s.url, f"p{i}", 150, 16) for i, s in enumerate(servers))
        )
        for server in servers:
            assert "Traceback" not in server.output()
        async with httpx.AsyncClient() as client:
            counts = [(await client.get(s.url + "/count")).json()["n"] for s in servers]
    finally:
        for server in servers:
            server.__exit__(None, None, None)
    failures = [f for _, fs in results for f in fs]
    assert failures == []
    written = sum(w for w, _ in results)
    assert written == 2 * 225
    assert counts == [written, written]
    assert len(rows_on_disk(state)) == written
