"""``pyodide.ffi`` as older Cloudflare code uses it: conversions are identities on CPython."""

from __future__ import annotations

from typing import Any

from bindings.errors import JsException

__all__ = ["JsException", "JsProxy", "create_proxy", "jsnull", "run_sync", "to_js"]

jsnull = None


class JsProxy:
    """Stands in for Pyodide's JsProxy type in isinstance checks; nothing here is a proxy."""


def to_js(value: Any, *args: Any, **kwargs: Any) -> Any:
    """Return ``value`` unchanged: Hearth's bindings take Python values directly."""
    return value


def create_proxy(value: Any, *args: Any, **kwargs: Any) -> Any:
    return value


def run_sync(awaitable: Any) -> Any:
    raise RuntimeError("run_sync (JSPI) is not available on CPython; await the value instead")
