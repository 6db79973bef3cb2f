"""The AI binding against a small OpenAI-compatible server, and without any endpoint."""

import asyncio
import json
import socket
import threading
import time
from types import SimpleNamespace

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from bindings import ConfigError, JsException, JsTypeError
from bindings.ai import AiError, AiNotConfiguredError, InferenceUpstreamError
from bindings.testing import free_port

MODEL = "@cf/meta/llama-3.1-8b-instruct"
EMBEDDER = "@cf/baai/bge-base-en-v1.5"


def openai_app(seen: list) -> Starlette:
    """A tiny OpenAI-compatible server: deterministic answers derived from the request."""

    async def chat(request: Request):
        body = await request.json()
        seen.append(SimpleNamespace(path=request.url.path, headers=request.headers, body=body))
        if body["model"] == "broken":
            return JSONResponse({"error": {"message": "model exploded"}}, status_code=500)
        if body["model"] == "garbled":
            return JSONResponse({"unexpected": True})
        last = body["messages"][-1]["content"]
        words = f"{body['model']} heard: {last}".split()[: body["max_tokens"]]
        if body.get("stream"):

            async def events():
                for word in words:
                    chunk = {"choices": [{"delta": {"content": word + " "}}]}
                    yield f"data: {json.dumps(chunk)}\n\n"
                    await asyncio.sleep(0)
                yield "data: [DONE]\n\n"

            return StreamingResponse(events(), media_type="text/event-stream")
        message = {"role": "assistant", "content": " ".join(words)}
        if body.get("tools"):
            name = body["tools"][0]["function"]["name"]
            message["tool_calls"] = [
                {"id": "c1", "type": "function",
                 "function": {"name": name, "arguments": json.dumps({"city": last})}}
            ]  # fmt: skip
        prompt_tokens = sum(len(str(m["content"]).split()) for m in body["messages"])
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(words),
                 "total_tokens": prompt_tokens + len(words)}  # fmt: skip
        return JSONResponse({"choices": [{"message": message}], "usage": usage})

    async def embeddings(request: Request):
        body = await request.json()
        seen.append(SimpleNamespace(path=request.url.path, headers=request.headers, body=body))
        rows = [
            {"index": i, "embedding": [float(len(text)), float(text.count(" ")), float(i)]}
            for i, text in enumerate(body["input"])
        ]
        return JSONResponse({"data": rows[::-1], "model": body["model"]})  # any order

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/embeddings", embeddings, methods=["POST"]),
        ]
    )


@pytest.fixture(scope="module")
def openai_server():
    """The server under uvicorn on a free loopback port, in a background thread."""
    seen: list = []
    port = free_port()
    config = uvicorn.Config(
        openai_app(seen), host="127.0.0.1", port=port, log_level="warning", lifespan="off",
        ws="none",
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the OpenAI-compatible test server did not start"
        time.sleep(0.01)
    yield SimpleNamespace(url=f"http://127.0.0.1:{port}/v1", seen=seen)
    server.should_exit = True
    thread.join(10)


def worker_config(ai, **extra):
    return {"name": "shop", "main": "ai_shop_worker.py", "ai": ai, **extra}


SHOP_WORKER = """
from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        product = await request.json()
        description = await self.enhance(product["name"], product["description"])
        return Response.json({"description": description})

    async def enhance(self, name, description):
        try:
            response = await self.env.AI.run("@cf/meta/llama-3.1-8b-instruct", {
                "messages": [{"role": "user", "content": f"Enhance {name}: {description}"}],
                "max_tokens": 200,
            })
            return response.response.strip()
        except Exception as error:
            print("Failed to enhance description:", error)
            return description  # fallback to the original
"""


@pytest.fixture
def shop(tmp_path):
    (tmp_path / "ai_shop_worker.py").write_text(SHOP_WORKER)


async def test_text_generation(hearth, openai_server, shop):
    ai = {"binding": "AI", "url": openai_server.url, "models": {MODEL: "local-llama"}}
    h = await hearth(worker_config(ai))
    result = await h.env().AI.run(MODEL, {"prompt": "hello there", "max_tokens": 3})
    assert result.response == "local-llama heard: hello"  # cut at max_tokens words
    assert result["usage"] == {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}
    sent = openai_server.seen[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.body == {
        "model": "local-llama",
        "messages": [{"role": "user", "content": "hello there"}],
        "max_tokens": 3,
    }
    assert "authorization" not in sent.headers


async def test_messages_and_options_are_forwarded(hearth, openai_server, shop):
    ai = {"binding": "AI", "url": openai_server.url + "/", "models": {"*": "fallback-model"}}
    h = await hearth(worker_config(ai))
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    result = await h.env().AI.run(
        "@cf/any/model", {"messages": messages, "temperature": 0.2, "top_k": 5, "seed": 7}
    )
    assert result.response == "fallback-model heard: hi"
    body = openai_server.seen[-1].body
    assert body == {
        "model": "fallback-model",
        "messages": messages,
        "max_tokens": 256,  # Workers AI's default
        "temperature": 0.2,
        "seed": 7,
    }


async def test_tool_calls_come_back_in_workers_ai_shape(hearth, openai_server, shop):
    h = await hearth(worker_config({"binding": "AI", "url": openai_server.url}))
    tool = {"name": "weather", "description": "forecast", "parameters": {"type": "object"}}
    result = await h.env().AI.run(MODEL, {"prompt": "Paris", "tools": [tool]})
    assert result.tool_calls == [{"name": "weather", "arguments": {"city": "Paris"}}]
    assert openai_server.seen[-1].body["tools"] == [{"type": "function", "function": tool}]


async def test_streaming_gives_workers_ai_events(hearth, openai_server, shop):
    h = await hearth(worker_config({"binding": "AI", "url": openai_server.url}))
    stream = await h.env().AI.run(MODEL, {"prompt": "a b", "stream": True})
    events = (await stream.read_all()).decode().split("\n\n")
    assert events[-2:] == ["data: [DONE]", ""]
    pieces = [json.loads(e.removeprefix("data: "))["response"] for e in events[:-2]]
    assert "".join(pieces) == f"{MODEL} heard: a b "


async def test_embeddings(hearth, openai_server, shop):
    ai = {"binding": "AI", "url": openai_server.url, "models": {EMBEDDER: "local-bge"}}
    h = await hearth(worker_config(ai))
    result = await h.env().AI.run(EMBEDDER, {"text": ["one", "two words", "x"]})
    assert result.shape == [3, 3]
    assert result.data == [[3.0, 0.0, 0.0], [9.0, 1.0, 1.0], [1.0, 0.0, 2.0]]
    assert openai_server.seen[-1].path == "/v1/embeddings"
    assert openai_server.seen[-1].body == {"model": "local-bge", "input": ["one", "two words", "x"]}
    single = await h.env().AI.run(EMBEDDER, {"text": "solo"})
    assert single.shape == [1, 3] and single.data == [[4.0, 0.0, 0.0]]


async def test_api_key_comes_from_a_secret(hearth, openai_server, shop, tmp_path):
    (tmp_path / ".dev.vars").write_text("AI_TOKEN=sk-local-123\n")
    ai = {"binding": "AI", "url": openai_server.url, "api_key": "AI_TOKEN"}
    h = await hearth(worker_config(ai))
    await h.env().AI.run(MODEL, {"prompt": "hi"})
    assert openai_server.seen[-1].headers["authorization"] == "Bearer sk-local-123"


async def test_a_missing_api_key_secret_fails_at_start(hearth, openai_server, shop):
    ai = {"binding": "AI", "url": openai_server.url, "api_key": "NOPE"}
    with pytest.raises(ConfigError, match=r"ai\.api_key: names the secret 'NOPE'"):
        await hearth(worker_config(ai))


async def test_the_handler_uses_the_model(hearth, openai_server, shop):
    h = await hearth(worker_config({"binding": "AI", "url": openai_server.url}))
    r = await h.SELF.post("/", json={"name": "Mug", "description": "holds tea"})
    assert r.json() == {"description": f"{MODEL} heard: Enhance Mug: holds tea"}


# -- without an endpoint, and when the endpoint fails -----------------------------------------


async def test_without_an_endpoint_run_names_the_missing_setting(hearth, shop):
    h = await hearth(worker_config([{"binding": "AI"}]))  # seed 000's [[ai]] form
    with pytest.raises(AiNotConfiguredError) as info:
        await h.env().AI.run(MODEL, {"prompt": "hi"})
    assert "ai[0].url is not set" in str(info.value)
    assert isinstance(info.value, JsException)


async def test_without_an_endpoint_the_handler_falls_back(hearth, shop, capsys):
    h = await hearth(worker_config({"binding": "AI"}))
    r = await h.SELF.post("/", json={"name": "Mug", "description": "holds tea"})
    assert r.json() == {"description": "holds tea"}
    assert "ai.url is not set" in capsys.readouterr().out


async def test_upstream_errors_are_clear(hearth, openai_server, shop):
    models = {"a": "broken", "b": "garbled"}
    h = await hearth(worker_config({"binding": "AI", "url": openai_server.url, "models": models}))
    with pytest.raises(InferenceUpstreamError, match="answered 500: model exploded"):
        await h.env().AI.run("a", {"prompt": "hi"})
    with pytest.raises(InferenceUpstreamError, match="answered nonsense"):
        await h.env().AI.run("b", {"prompt": "hi"})
    with pytest.raises(InferenceUpstreamError, match="answered 500: model exploded"):
        await h.env().AI.run("a", {"prompt": "hi", "stream": True})


async def test_an_unreachable_endpoint(hearth, shop):
    url = f"http://127.0.0.1:{free_port()}/v1"
    h = await hearth(worker_config({"binding": "AI", "url": url}))
    with pytest.raises(InferenceUpstreamError, match="could not be reached"):
        await h.env().AI.run(MODEL, {"prompt": "hi"})


async def test_a_silent_endpoint_times_out(hearth, shop):
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1"
        h = await hearth(worker_config({"binding": "AI", "url": url, "timeout": 0.2}))
        with pytest.raises(InferenceUpstreamError, match=r"did not answer within 0\.2 s"):
            await h.env().AI.run(MODEL, {"prompt": "hi"})


async def test_bad_inputs(hearth, openai_server, shop):
    h = await hearth(worker_config({"binding": "AI", "url": openai_server.url}))
    ai = h.env().AI
    with pytest.raises(JsTypeError, match="inputs must be a dict"):
        await ai.run(MODEL, "hi")
    with pytest.raises(JsTypeError, match="messages must be a list"):
        await ai.run(MODEL, {"messages": "hi"})
    with pytest.raises(AiError, match="either prompt or messages"):
        await ai.run(MODEL, {"prompt": "a", "messages": []})
    with pytest.raises(AiError, match="are neither"):
        await ai.run("@cf/openai/whisper", {"audio": [1, 2]})


@pytest.mark.parametrize(
    ("ai", "problem"),
    [
        ({"binding": "AI", "url": "localhost:11434"}, r"ai\.url: must be an http"),
        ({"binding": "AI", "models": {"a": 1}}, r"ai\.models: must be a table"),
        ({"binding": "AI", "timeout": 0}, r"ai\.timeout: must be a positive"),
        ({"binding": "AI", "URL": "http://x"}, r"ai\.URL: unknown key"),
        ({"url": "http://x"}, r"ai\.binding: is required"),
        ("AI", r"ai: must be a table \(\[ai\]\) or an array"),
    ],
)
async def test_config_errors(hearth, shop, ai, problem):
    with pytest.raises(ConfigError, match=problem):
        await hearth(worker_config(ai))


async def test_wrangler_remote_flag_is_accepted(hearth, shop):
    h = await hearth(worker_config({"binding": "AI", "remote": True}))
    assert "no endpoint" in repr(h.env().AI)
