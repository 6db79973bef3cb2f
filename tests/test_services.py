"""Service bindings: fetch and RPC between workers, in-process."""

import pytest

from bindings import JsException, JsTypeError

BACKEND = """
from workers import Response, WorkerEntrypoint

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        body = await request.text()
        return Response.json({"url": request.url, "body": body, "who": self.env.WHO})

    async def add(self, a, b):
        return {"sum": a + b, "items": [a, b]}

    async def mutate(self, data):
        data["changed"] = True
        return data

    async def fail(self):
        raise ValueError("bad value")

    async def custom(self):
        class Oops(Exception):
            pass
        raise Oops("custom failure")

    def _private(self):
        return 1

class Admin(WorkerEntrypoint):
    async def whoami(self):
        return "admin"
"""

FRONT = """
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

async def index(request):
    env = request.scope["env"]
    r = await env.BACKEND.fetch("https://backend/hello", method="POST", body="ping")
    rpc = await env.BACKEND.add(2, 3)
    return JSONResponse({"status": r.status, "backend": await r.json(), "rpc": rpc})

app = Starlette(routes=[Route("/", index)])
"""


@pytest.fixture
async def h(hearth, tmp_path):
    (tmp_path / "backend_worker.py").write_text(BACKEND)
    (tmp_path / "front_worker.py").write_text(FRONT)
    return await hearth(
        {
            "workers": [
                {
                    "name": "front",
                    "main": "front_worker:app",
                    "routes": ["/*"],
                    "services": [
                        {"binding": "BACKEND", "service": "backend"},
                        {"binding": "ADMIN", "service": "backend", "entrypoint": "Admin"},
                    ],
                },
                {"name": "backend", "main": "backend_worker", "vars": {"WHO": "backend"}},
            ]
        }
    )


async def test_fetch_and_rpc_through_a_service_binding(h):
    r = await h.SELF.get("/")
    assert r.json() == {
        "status": 200,
        "backend": {"url": "https://backend/hello", "body": "ping", "who": "backend"},
        "rpc": {"sum": 5, "items": [2, 3]},
    }


async def test_rpc_copies_arguments_and_results(h):
    env = h.env("front")
    data = {"a": [1]}
    result = await env.BACKEND.mutate(data)
    assert result == {"a": [1], "changed": True}
    assert data == {"a": [1]}  # the caller's value was copied, not shared
    assert result.changed is True  # results come back as dicts with attribute access


async def test_rpc_errors_cross_with_type_and_message(h):
    env = h.env("front")
    with pytest.raises(ValueError, match="bad value"):
        await env.BACKEND.fail()
    with pytest.raises(JsException, match="custom failure") as info:
        await env.BACKEND.custom()
    assert type(info.value).__name__ == "Oops"
    with pytest.raises(AttributeError):
        env.BACKEND._private  # noqa: B018 - private names are not RPC
    with pytest.raises(JsTypeError, match='does not implement the method "nothing"'):
        await env.BACKEND.nothing()
    with pytest.raises(TypeError, match="Tuples"):
        await env.BACKEND.add((1,), (2,))


async def test_named_entrypoint(h):
    assert await h.env("front").ADMIN.whoami() == "admin"
