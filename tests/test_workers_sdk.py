"""Cloudflare-style worker files run unchanged through the test harness."""

import shutil

import pytest

from tests.conftest import FIXTURES


async def test_default_entrypoint_with_vars_secrets_and_sibling_import(hearth, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(FIXTURES / "cf_default", project)
    (project / ".dev.vars").write_text('API_TOKEN="s3cr3t"\n# comment\n')
    h = await hearth(project / "wrangler.toml")
    r = await h.SELF.get("/anything")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"message": "HELLO!", "max": 5, "secret": "s3cr3t"}


async def test_default_entrypoint_env_overrides(hearth):
    h = await hearth(FIXTURES / "cf_default" / "wrangler.toml", env="staging")
    r = await h.SELF.get("/")
    assert r.json()["message"] == "HELLO FROM STAGING!"
    # vars are not inherited by an [env.*] table: LIMITS is gone under staging
    assert not hasattr(h.env(), "LIMITS")


async def test_request_body_method_and_status(hearth):
    h = await hearth(FIXTURES / "cf_default" / "wrangler.toml")
    r = await h.SELF.post("/echo", json={"a": [1, 2]})
    assert r.status_code == 201
    assert r.json() == {"got": {"a": [1, 2]}, "method": "POST"}


async def test_unhandled_exception_is_json_500_without_internals(hearth, caplog):
    h = await hearth(FIXTURES / "cf_default" / "wrangler.toml")
    r = await h.SELF.get("/boom")
    assert r.status_code == 500
    assert r.json() == {"error": "Internal Server Error"}
    assert "secret internals" not in r.text
    assert "secret internals" in caplog.text  # the traceback goes to the log


async def test_wait_until_runs_after_response(hearth):
    h = await hearth(FIXTURES / "cf_default" / "wrangler.toml")
    module = h.worker().main.module
    module.Default.remembered = False
    r = await h.SELF.get("/later")
    assert r.text == "scheduled"
    await h.runtime.tasks.drain(5)
    assert module.Default.remembered is True


async def test_starlette_app_behind_asgi_fetch(hearth):
    h = await hearth(FIXTURES / "cf_asgi" / "wrangler.jsonc")
    r = await h.SELF.get("/")
    assert r.json() == {"message": "from starlette", "path": "/"}
    r = await h.SELF.post("/items/lamp", json={"n": 1})
    assert r.status_code == 201
    assert r.json() == {"item": "lamp", "body": {"n": 1}}


async def test_legacy_on_fetch_with_js_response(hearth):
    h = await hearth(FIXTURES / "cf_legacy" / "wrangler.toml")
    r = await h.SELF.get("/")
    assert r.text == "Hello World!"
    assert r.headers["content-type"] == "text/plain"


async def test_response_json_is_constructor_and_parser():
    from workers import Response

    r = Response.json({"x": 1}, status=202, headers={"x-a": "b"})
    assert r.status == 202
    assert r.headers.get("X-A") == "b"
    assert await r.json() == {"x": 1}
    assert r.body_used


async def test_response_types_and_errors():
    from workers import Blob, FormData, Response

    assert await Response("hé").text() == "hé"
    assert (await Response(b"\x00\x01").bytes()) == b"\x00\x01"
    assert Response("x").headers["content-type"] == "text/plain;charset=UTF-8"
    assert Response(None, status=204).status_text == "No Content"
    blob = Blob(["ab", b"c"], content_type="text/x")
    r = Response(blob)
    assert r.headers["content-type"] == "text/x" and await r.text() == "abc"
    form = FormData({"a": "1"})
    r = Response(form)
    parsed = await r.form_data()
    assert parsed["a"] == "1"
    with pytest.raises(TypeError, match="Unsupported type in Response: dict"):
        Response({"a": 1})
    with pytest.raises(ValueError, match="status codes in the range 200 to 599"):
        Response("x", status=99)
    redirect = Response.redirect("https://example.com/", 301)
    assert redirect.status == 301 and redirect.headers["location"] == "https://example.com/"


async def test_streamed_response_body_reaches_client(hearth, tmp_path):
    (tmp_path / "stream_worker.py").write_text(
        "from workers import Response, WorkerEntrypoint\n"
        "async def chunks():\n"
        "    for i in range(3):\n"
        "        yield f'part{i};'.encode()\n"
        "class Default(WorkerEntrypoint):\n"
        "    async def fetch(self, request):\n"
        "        return Response(chunks(), headers={'content-type': 'text/plain'})\n"
    )
    h = await hearth({"workers": [{"name": "s", "main": "stream_worker.py", "routes": ["/*"]}]})
    r = await h.SELF.get("/")
    assert r.text == "part0;part1;part2;"


async def test_headers_semantics():
    from workers import Headers

    h = Headers({"Content-Type": "a"})
    h.append("Set-Cookie", "a=1")
    h.append("set-cookie", "b=2")
    h.append("X-Many", "1")
    h.append("x-many", "2")
    assert h["content-type"] == "a"
    assert h.get("X-MANY") == "1, 2"
    assert h.get_all("set-cookie") == ["a=1", "b=2"]
    assert h.getSetCookie() == ["a=1", "b=2"]
    assert h["missing"] is None
    assert "CONTENT-TYPE" in h
    h.delete("x-many")
    assert not h.has("x-many")


def test_workers_module_surface_is_honest():
    import workers

    for name in workers.__all__:
        if name in ("env",):
            continue
        assert hasattr(workers, name), name
    with pytest.raises(RuntimeError, match="only while Hearth runs a worker"):
        _ = workers.env


async def test_to_py_and_to_js_shims():
    from pyodide.ffi import JsException, to_js

    from bindings import JsDict, JsTypeError

    d = JsDict(a=1)
    assert d.to_py() is d and d.a == 1
    assert to_js([1], dict_converter=dict) == [1]
    assert issubclass(JsTypeError, JsException)


async def test_module_level_env_and_wait_until(hearth, tmp_path):
    (tmp_path / "modenv.py").write_text(
        "from starlette.applications import Starlette\n"
        "from starlette.responses import PlainTextResponse\n"
        "from starlette.routing import Route\n"
        "import workers\n"
        "from workers import wait_until\n"
        "done = []\n"
        "async def later():\n"
        "    done.append(workers.env.NAME)\n"
        "async def index(request):\n"
        "    wait_until(later())\n"
        "    return PlainTextResponse(workers.env.NAME)\n"
        "app = Starlette(routes=[Route('/', index)])\n"
    )
    h = await hearth(
        {"workers": [{"name": "m", "main": "modenv:app", "routes": ["/*"], "vars": {"NAME": "n1"}}]}
    )
    assert (await h.SELF.get("/")).text == "n1"
    await h.runtime.tasks.drain(5)
    assert h.worker().main.module.done == ["n1"]


async def test_null_body_status_drops_body_and_length(hearth, tmp_path):
    (tmp_path / "nb_worker.py").write_text(
        "from workers import Response, WorkerEntrypoint\n"
        "class Default(WorkerEntrypoint):\n"
        "    async def fetch(self, request):\n"
        "        return Response(None, status=304, headers={'content-length': '10', 'etag': 'x'})\n"
    )
    with_server = {"workers": [{"name": "nb", "main": "nb_worker.py", "routes": ["/*"]}]}
    h = await hearth(with_server)
    r = await h.SELF.get("/")
    assert r.status_code == 304 and r.content == b"" and "content-length" not in r.headers
