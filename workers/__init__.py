"""Cloudflare's Python Workers SDK (``workers``), served by Hearth.

A worker file starts exactly as on Cloudflare: ``from workers import Response, WorkerEntrypoint``.
The apps of this project live in this package too (``workers.api``, ``workers.auth``, ...).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal, Protocol, TypeAlias, TypedDict

from bindings.body import Blob, Body, File, FormData, FormDataValue, ReadableStream
from bindings.entrypoints import DurableObject, WorkerEntrypoint, WorkflowEntrypoint
from bindings.env import current_worker
from bindings.fetch import fetch
from bindings.headers import Headers
from bindings.request import Request
from bindings.response import Response

__all__ = [
    "Blob",
    "BlobEnding",
    "BlobValue",
    "Body",
    "Context",
    "DurableObject",
    "FetchKwargs",
    "FetchResponse",
    "File",
    "FormData",
    "FormDataValue",
    "Headers",
    "JSBody",
    "ReadableStream",
    "Request",
    "RequestInitCfProperties",
    "Response",
    "WorkerEntrypoint",
    "WorkflowEntrypoint",
    "env",
    "fetch",
    "handler",
    "import_from_javascript",
    "patch_env",
    "python_from_rpc",
    "python_to_rpc",
    "waitUntil",
    "wait_until",
]

BlobEnding: TypeAlias = Literal["transparent", "native"]
BlobValue: TypeAlias = "str | bytes | bytearray | memoryview | Blob"
JSBody: TypeAlias = "Blob | FormData | ReadableStream | bytes | memoryview"
FetchResponse = Response
RequestInitCfProperties: TypeAlias = dict[str, Any]


class FetchKwargs(TypedDict, total=False):
    headers: Any
    body: Any
    method: str
    redirect: str
    cf: RequestInitCfProperties
    fetcher: Any


class Context(Protocol):
    def waitUntil(self, awaitable: Any) -> None: ...


def _worker() -> Any:
    worker = current_worker.get(None)
    if worker is None:
        raise RuntimeError(
            "workers.env and workers.wait_until work only while Hearth runs a worker "
            "(in a handler, or at import time of its main module)"
        )
    return worker


def wait_until(awaitable: Any) -> None:
    """Keep ``awaitable`` running after the response (the current request's waitUntil)."""
    _worker().runtime.tasks.spawn(awaitable)


waitUntil = wait_until


def __getattr__(name: str) -> Any:
    if name == "env":
        return _worker().env
    if name in ("WebSocketPair", "WebSocketRequestResponsePair"):
        return getattr(importlib.import_module("bindings.websocket"), name)
    if name == "caches":
        return importlib.import_module("bindings.cache").caches
    raise AttributeError(f"module 'workers' has no attribute {name!r}")


def handler(func: Any) -> Any:
    """The legacy ``@handler`` decorator: Hearth already passes SDK objects, so it is identity."""
    return func


def python_to_rpc(value: Any) -> Any:
    return value


def python_from_rpc(value: Any) -> Any:
    return value


@contextmanager
def patch_env(values: dict[str, Any] | None = None, **kwargs: Any) -> Iterator[Any]:
    """Temporarily override attributes of the current worker's env (for tests)."""
    env = _worker().env
    changes = {**(values or {}), **kwargs}
    missing = object()
    saved = {k: env.__dict__.get(k, missing) for k in changes}
    env.__dict__.update(changes)
    try:
        yield env
    finally:
        for k, v in saved.items():
            if v is missing:
                env.__dict__.pop(k, None)
            else:
                env.__dict__[k] = v


def import_from_javascript(name: str) -> Any:
    """``cloudflare:workers`` gives ``env`` and ``waitUntil``; no other JS module exists here."""
    if name == "cloudflare:workers":
        import types

        module = types.SimpleNamespace(env=_worker().env, waitUntil=wait_until)
        return module
    raise ImportError(f"{name!r} is a JavaScript module that Hearth does not provide")
