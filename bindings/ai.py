"""Workers AI: ``await env.AI.run(model, inputs)`` answered by an OpenAI-compatible endpoint.

wrangler's ``[ai] binding = "AI"`` (or seed-style ``[[ai]]``) declares the binding; Hearth reads
its own keys from the same table, which wrangler ignores::

    [ai]
    binding = "AI"
    url = "http://127.0.0.1:11434/v1"          # OpenAI-compatible base URL (Ollama, vLLM, ...)
    models = { "@cf/meta/llama-3.1-8b-instruct" = "llama3.1:8b", "*" = "llama3.1:8b" }
    api_key = "OPENAI_API_KEY"                  # name of a secret (.dev.vars), sent as Bearer
    timeout = 60                                # seconds per call

Inputs with ``prompt`` or ``messages`` are text generation (POST ``/chat/completions``, result
``{"response": ..., "usage": ...}``, or a ReadableStream of server-sent events with
``stream=True``); inputs with ``text`` are embeddings (POST ``/embeddings``, result
``{"shape": [n, dim], "data": [[...], ...]}``). Without ``url`` every ``run`` raises
AiNotConfiguredError naming the setting, so handlers take their fallback path.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bindings.body import ReadableStream
from bindings.errors import JsException, JsTypeError
from bindings.jsobj import JsDict, options, to_jsdict
from bindings.metrics import timed
from bindings.plugin import BindingDecl, BindingPlugin, ParseContext

if TYPE_CHECKING:
    import httpx

    from bindings.runtime import Worker

AI_DEFAULT_TIMEOUT = 60.0  # seconds; local models on a CPU are slow
AI_DEFAULT_MAX_TOKENS = 256  # Workers AI's default for text generation
AI_ERROR_BODY_CHARS = 300  # of an upstream error body quoted in the exception
KEYS = frozenset(
    {"binding", "url", "models", "api_key", "timeout", "remote", "experimental_remote"}
)
# Text-generation options with the same meaning in the OpenAI API; others (top_k, lora, raw,
# repetition_penalty) have no portable equivalent and are not sent.
FORWARDED = ("max_tokens", "temperature", "top_p", "seed", "frequency_penalty",
             "presence_penalty", "stop", "response_format", "tool_choice")  # fmt: skip


class AiError(JsException):
    """Base of the AI binding's errors."""

    js_name = "AiError"


class AiNotConfiguredError(AiError):
    """``run`` on a binding with no endpoint: the message names the missing setting."""


class InferenceUpstreamError(AiError):
    """The endpoint could not be reached, timed out, failed or answered nonsense."""

    js_name = "InferenceUpstreamError"


@dataclass(frozen=True, kw_only=True)
class AiDecl(BindingDecl):
    url: str | None = None
    models: Mapping[str, str] = field(default_factory=dict)
    api_key: str | None = None  # the secret's name, not its value
    timeout: float = AI_DEFAULT_TIMEOUT
    file: str = ""


class Ai:
    """``env.AI``: ``run(model, inputs)`` as Workers AI, for text generation and embeddings."""

    def __init__(self, plugin: AIPlugin, decl: AiDecl, secret: str | None) -> None:
        self._plugin = plugin
        self._decl = decl
        self._headers = {"authorization": f"Bearer {secret}"} if secret else {}

    @timed("ai")
    async def run(self, model: str, inputs: Mapping[str, Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``model`` on ``inputs``; options (``gateway``, ...) are accepted and ignored."""
        options(args, kwargs)
        if not isinstance(model, str) or not model:
            raise JsTypeError("AI.run: model must be a non-empty string such as '@cf/meta/...'")
        if not isinstance(inputs, Mapping):
            raise JsTypeError(f"AI.run: inputs must be a dict, not {type(inputs).__name__}")
        decl = self._decl
        if decl.url is None:
            raise AiNotConfiguredError(
                f"env.{decl.name} cannot run {model!r}: {decl.key}.url is not set in {decl.file} "
                '(an OpenAI-compatible base URL, such as url = "http://127.0.0.1:11434/v1")'
            )
        target = decl.models.get(model) or decl.models.get("*") or model
        if "messages" in inputs or "prompt" in inputs:
            return await self._generate(model, target, inputs)
        if "text" in inputs:
            return await self._embed(model, target, inputs["text"])
        raise AiError(
            f"{model}: Hearth's AI binding runs text generation (prompt or messages) and "
            f"embeddings (text); inputs with {sorted(inputs)} are neither"
        )

    async def _generate(self, model: str, target: str, inputs: Mapping[str, Any]) -> Any:
        body: dict[str, Any] = {"model": target, "messages": _messages(model, inputs)}
        body["max_tokens"] = inputs.get("max_tokens", AI_DEFAULT_MAX_TOKENS)
        body.update((k, inputs[k]) for k in FORWARDED if k in inputs and k != "max_tokens")
        if inputs.get("tools"):
            body["tools"] = [_openai_tool(tool) for tool in inputs["tools"]]
        if inputs.get("stream"):
            body["stream"] = True
            return await self._stream(body)
        reply = await self._post("/chat/completions", body)
        try:
            message = reply["choices"][0]["message"]
        except (KeyError, IndexError, TypeError):
            raise self._nonsense(reply) from None
        result = JsDict(response=message.get("content") or "")
        calls = message.get("tool_calls")
        if calls:
            result["tool_calls"] = [_cf_tool_call(call) for call in calls]
        if isinstance(reply.get("usage"), dict):
            result["usage"] = to_jsdict(reply["usage"])
        return result

    async def _embed(self, model: str, target: str, text: Any) -> Any:
        texts = [text] if isinstance(text, str) else text
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise JsTypeError(f"{model}: text must be a string or a list of strings")
        reply = await self._post("/embeddings", {"model": target, "input": texts})
        try:
            rows = sorted(reply["data"], key=lambda row: row.get("index", 0))
            vectors = [[float(x) for x in row["embedding"]] for row in rows]
        except (KeyError, TypeError, ValueError, AttributeError):
            raise self._nonsense(reply) from None
        return JsDict(shape=[len(vectors), len(vectors[0]) if vectors else 0], data=vectors)

    def _url(self, path: str) -> str:
        return f"{(self._decl.url or '').rstrip('/')}{path}"

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        with _translated(self._decl):
            reply = await self._plugin.client().post(
                self._url(path), json=body, headers=self._headers, timeout=self._decl.timeout
            )
        if reply.status_code >= 400:
            raise self._failed(reply.status_code, reply.text)
        try:
            data = reply.json()
        except ValueError:
            raise self._nonsense(reply.text) from None
        if not isinstance(data, dict):
            raise self._nonsense(data)
        return data

    async def _stream(self, body: dict[str, Any]) -> ReadableStream:
        client = self._plugin.client()
        request = client.build_request(
            "POST", self._url("/chat/completions"), json=body, headers=self._headers,
            timeout=self._decl.timeout,
        )  # fmt: skip
        with _translated(self._decl):
            reply = await client.send(request, stream=True)
        if reply.status_code >= 400:
            with _translated(self._decl):
                text = (await reply.aread()).decode(errors="replace")
                await reply.aclose()
            raise self._failed(reply.status_code, text)
        return ReadableStream(self._events(reply))

    async def _events(self, reply: httpx.Response) -> AsyncIterator[bytes]:
        """OpenAI's chunk events re-sent as Workers AI's ``data: {"response": ...}`` events."""
        try:
            with _translated(self._decl):
                async for line in reply.aiter_lines():
                    data = line[5:].strip() if line.startswith("data:") else ""
                    if not data or data == "[DONE]":
                        continue
                    try:
                        choices = json.loads(data).get("choices") or [{}]
                        piece = (choices[0].get("delta") or {}).get("content")
                    except (ValueError, AttributeError, IndexError):
                        raise self._nonsense(data) from None
                    if piece:
                        yield b"data: " + json.dumps({"response": piece}).encode() + b"\n\n"
            yield b"data: [DONE]\n\n"
        finally:
            await reply.aclose()

    def _failed(self, status: int, text: str) -> InferenceUpstreamError:
        detail = text
        try:
            error = json.loads(text).get("error")
            detail = error.get("message", text) if isinstance(error, dict) else str(error or text)
        except (ValueError, AttributeError):
            pass
        detail = detail.strip()[:AI_ERROR_BODY_CHARS]
        return InferenceUpstreamError(f"AI endpoint {self._decl.url} answered {status}: {detail}")

    def _nonsense(self, reply: Any) -> InferenceUpstreamError:
        shown = str(reply)[:AI_ERROR_BODY_CHARS]
        return InferenceUpstreamError(f"AI endpoint {self._decl.url} answered nonsense: {shown}")

    def __repr__(self) -> str:
        return f"<Ai {self._decl.name} -> {self._decl.url or 'no endpoint'}>"


@contextmanager
def _translated(decl: AiDecl) -> Iterator[None]:
    """httpx's transport errors as InferenceUpstreamError, translated once, at the boundary."""
    import httpx

    try:
        yield
    except httpx.TimeoutException as exc:
        raise InferenceUpstreamError(
            f"AI endpoint {decl.url} did not answer within {decl.timeout:g} s"
        ) from exc
    except httpx.HTTPError as exc:
        raise InferenceUpstreamError(f"AI endpoint {decl.url} could not be reached: {exc}") from exc


def _messages(model: str, inputs: Mapping[str, Any]) -> list[dict[str, Any]]:
    if "messages" in inputs and "prompt" in inputs:
        raise AiError(f"{model}: give either prompt or messages, not both")
    if "prompt" in inputs:
        if not isinstance(inputs["prompt"], str):
            raise JsTypeError(f"{model}: prompt must be a string")
        return [{"role": "user", "content": inputs["prompt"]}]
    messages = inputs["messages"]
    if not isinstance(messages, list) or not all(
        isinstance(m, Mapping) and isinstance(m.get("role"), str) and "content" in m
        for m in messages
    ):
        raise JsTypeError(f"{model}: messages must be a list of {{role, content}} dicts")
    return [dict(m) for m in messages]


def _openai_tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    """Workers AI's ``{name, description, parameters}`` tools in OpenAI's function form."""
    if "type" in tool:
        return dict(tool)
    return {"type": "function", "function": dict(tool)}


def _cf_tool_call(call: Mapping[str, Any]) -> JsDict:
    """OpenAI's ``{function: {name, arguments: "<json>"}}`` as Workers AI's {name, arguments}."""
    function = call.get("function") or {}
    arguments = function.get("arguments") or {}
    if isinstance(arguments, str):
        with suppress(ValueError):  # not JSON: hand it over as the string it is
            arguments = json.loads(arguments or "{}")
    return JsDict(name=function.get("name"), arguments=to_jsdict(arguments))


class AIPlugin(BindingPlugin):
    """The ``ai`` section: one Ai binding per table; one pooled HTTP client per runtime."""

    kind = "ai"
    sections = ("ai",)
    _client: httpx.AsyncClient | None = None

    @classmethod
    def parse(cls, table: Mapping[str, Any], ctx: ParseContext) -> list[BindingDecl]:
        raw = table.get("ai")
        if isinstance(raw, Mapping):
            entries = [(raw, ctx.key("ai"))]  # wrangler's [ai] table
        elif isinstance(raw, list):
            entries = list(ctx.tables(raw, "ai"))  # the seed's [[ai]] array
        else:
            raise ctx.error(ctx.key("ai"), "must be a table ([ai]) or an array of tables ([[ai]])")
        return [_parse_one(entry, key, ctx) for entry, key in entries]

    def bind(self, decl: BindingDecl, worker: Worker) -> Ai:
        assert isinstance(decl, AiDecl)
        secret = None
        if decl.api_key is not None:
            secret = worker.config.secrets.get(decl.api_key)
            if secret is None:
                raise worker.config.error(
                    f"{decl.key}.api_key",
                    f"names the secret {decl.api_key!r}, which .dev.vars does not define",
                )
        return Ai(self, decl, secret)

    def client(self) -> httpx.AsyncClient:
        """The runtime's client for AI calls (created on first use; timeouts are per call)."""
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient(timeout=AI_DEFAULT_TIMEOUT)
        return self._client

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()


def _parse_one(entry: Mapping[str, Any], key: str, ctx: ParseContext) -> AiDecl:
    for name in entry:
        if name not in KEYS:
            raise ctx.error(f"{key}.{name}", f"unknown key (known: {', '.join(sorted(KEYS))})")
    url = entry.get("url")
    if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
        raise ctx.error(f"{key}.url", "must be an http:// or https:// URL")
    models = entry.get("models", {})
    if not isinstance(models, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in models.items()
    ):
        raise ctx.error(f"{key}.models", "must be a table of model name = endpoint model name")
    api_key = entry.get("api_key")
    if api_key is not None and (not isinstance(api_key, str) or not api_key):
        raise ctx.error(f"{key}.api_key", "must be the name of a secret")
    timeout = entry.get("timeout", AI_DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ctx.error(f"{key}.timeout", "must be a positive number of seconds")
    return AiDecl(
        name=ctx.string(entry, "binding", key),
        key=key,
        url=url,
        models=dict(models),
        api_key=api_key,
        timeout=float(timeout),
        file=str(ctx.file),
    )
