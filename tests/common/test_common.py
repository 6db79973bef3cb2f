"""workers.common: JSON bodies, JSON errors, pagination and the CORS allowlist."""

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bindings.env import Env
from workers.common.cors import AllowlistCORS
from workers.common.http import exception_handlers, json_object, limit_body
from workers.common.pagination import page_params

AS_JSON = {"content-type": "application/json"}


async def echo(request: Request) -> JSONResponse:
    body = await json_object(request, limit=64)
    page = page_params(request.query_params, default_limit=10, max_limit=50)
    return JSONResponse(
        {"body": body, "page": page.page, "limit": page.limit, "offset": page.offset}
    )


def client(env=None) -> httpx.AsyncClient:
    app = Starlette(
        routes=[Route("/", echo, methods=["POST"])],
        middleware=[Middleware(AllowlistCORS)],
        exception_handlers=exception_handlers,
    )

    async def with_env(scope, receive, send):
        scope["env"] = env or Env("t", {"CORS_ORIGINS": ["https://shop.example"]})
        await app(scope, receive, send)

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=with_env), base_url="http://t")


async def test_json_object_and_pagination():
    async with client() as c:
        r = await c.post("/?page=3&limit=5", json={"a": 1})
        assert r.json() == {"body": {"a": 1}, "page": 3, "limit": 5, "offset": 10}
        assert (await c.post("/", json={"a": 1})).json()["limit"] == 10


async def test_bad_input_gets_json_errors():
    async with client() as c:
        cases = [
            (dict(content=b"{", headers=AS_JSON), 400, "Malformed JSON body"),
            (dict(json=[1]), 400, "The body must be a JSON object"),
            (dict(content=b"a=1", headers={"content-type": "application/x-www-form-urlencoded"}),
             415, "Content-Type must be application/json"),
            (dict(json={"x": "y" * 100}), 413, "Request body is larger than 64 bytes"),
            (dict(content=b"[" * 60, headers=AS_JSON), 400, "Malformed JSON body"),
        ]  # fmt: skip
        for kwargs, status, message in cases:
            r = await c.post("/", **kwargs)
            assert (r.status_code, r.json()) == (status, {"error": message})
        for query, message in [("limit=0", "limit must be between 1 and 50"),
                               ("page=x", "page must be an integer")]:  # fmt: skip
            r = await c.post(f"/?{query}", json={})
            assert (r.status_code, r.json()) == (400, {"error": message})


async def test_cors_allowlist():
    async with client() as c:
        ok = await c.options("/", headers={"origin": "https://shop.example",
                                           "access-control-request-method": "POST"})  # fmt: skip
        assert ok.headers["access-control-allow-origin"] == "https://shop.example"
        bad = await c.options("/", headers={"origin": "https://evil.example",
                                            "access-control-request-method": "POST"})  # fmt: skip
        assert "access-control-allow-origin" not in bad.headers


async def test_nesting_deeper_than_python_parses_is_a_400():
    async def deep(request: Request) -> JSONResponse:
        return JSONResponse(await json_object(request))

    app = Starlette(routes=[Route("/", deep, methods=["POST"])],
                    exception_handlers=exception_handlers)  # fmt: skip
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.post("/", content=b"[" * 100_000, headers=AS_JSON)
        assert (r.status_code, r.json()) == (400, {"error": "Malformed JSON body"})


async def test_limit_body_cuts_a_stream_off():
    sent = []

    async def upload(request: Request) -> JSONResponse:
        form = await limit_body(request, 2048).form()
        await form.close()
        return JSONResponse({"fields": len(form)})

    async def body():
        yield b'--b\r\nContent-Disposition: form-data; name="f"; filename="a"\r\n\r\n'
        for _ in range(100):
            sent.append(1)
            yield b"x" * 1024

    app = Starlette(routes=[Route("/", upload, methods=["POST"])],
                    exception_handlers=exception_handlers)  # fmt: skip
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        multipart = {"content-type": "multipart/form-data; boundary=b"}
        r = await c.post("/", content=body(), headers=multipart)
        assert (r.status_code, r.json()) == (
            413,
            {"error": "Request body is larger than 2048 bytes"},
        )
        assert len(sent) < 10
        declared = await c.post("/", content=b"x" * 3000, headers=multipart)
        assert declared.status_code == 413
        small = await c.post("/", files={"f": ("a", b"x" * 100)})
        assert small.json() == {"fields": 1}
