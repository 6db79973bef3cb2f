"""A tiny ``js`` module for Cloudflare code written ``from js import Response, console, ...``."""

from __future__ import annotations

import importlib
import json as _json
import logging
import time
from typing import Any

from bindings.headers import Headers
from bindings.request import Request
from bindings.response import Response as _Response

__all__ = ["JSON", "Date", "Headers", "Object", "Request", "Response", "console"]

_log = logging.getLogger("worker")


class Response(_Response):
    """``Response.new(body, init)`` as JS code constructs one."""

    @classmethod
    def new(cls, body: Any = None, init: dict[str, Any] | None = None, **kw: Any) -> _Response:
        init = {**(init or {}), **kw}
        return _Response(
            body,
            status=init.get("status"),
            status_text=init.get("statusText", ""),
            headers=init.get("headers"),
            web_socket=init.get("webSocket"),
        )


class console:
    @staticmethod
    def log(*args: Any) -> None:
        _log.info(" ".join(map(str, args)))

    info = log

    @staticmethod
    def warn(*args: Any) -> None:
        _log.warning(" ".join(map(str, args)))

    @staticmethod
    def error(*args: Any) -> None:
        _log.error(" ".join(map(str, args)))

    debug = log


class Date:
    @staticmethod
    def now() -> int:
        return int(time.time() * 1000)


class JSON:
    @staticmethod
    def parse(text: str) -> Any:
        return _json.loads(text)

    @staticmethod
    def stringify(value: Any) -> str:
        return _json.dumps(value, separators=(",", ":"))


class Object:
    @staticmethod
    def fromEntries(entries: Any) -> dict[Any, Any]:
        return dict(entries.items() if hasattr(entries, "items") else entries)


def __getattr__(name: str) -> Any:
    if name in ("WebSocketPair", "WebSocketRequestResponsePair"):
        return getattr(importlib.import_module("bindings.websocket"), name)
    if name == "caches":
        return importlib.import_module("bindings.cache").caches
    raise AttributeError(f"module 'js' has no attribute {name!r}")
