"""Plain Python values shaped the way Cloudflare's Python SDK returns binding results."""

from __future__ import annotations

from typing import Any


class JsDict(dict[Any, Any]):
    """A dict that also allows attribute access, like Pyodide's ``JsProxy.to_py()`` objects.

    ``res.results[0].name`` and ``res["meta"]["last_row_id"]`` both work. ``to_py()`` returns
    the value itself, for generation-1 Cloudflare code that still calls it.
    """

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None

    def to_py(self) -> JsDict:
        return self


def to_jsdict(value: Any) -> Any:
    """Deep-convert dicts (and dicts inside lists) into JsDicts; other values pass through."""
    if isinstance(value, dict):
        return JsDict((k, to_jsdict(v)) for k, v in value.items())
    if isinstance(value, list):
        return [to_jsdict(v) for v in value]
    return value


def options(args: tuple[Any, ...], kwargs: dict[str, Any], name: str = "options") -> dict[str, Any]:
    """Merge Cloudflare-style options: keyword arguments or one trailing dict mean the same.

    ``kv.put(k, v, expirationTtl=60)`` and ``kv.put(k, v, {"expirationTtl": 60})`` are
    equivalent on Cloudflare (Pyodide packs keywords into one trailing JS object).
    """
    merged: dict[str, Any] = {}
    for arg in args:
        if arg is None:
            continue
        if not isinstance(arg, dict):
            raise TypeError(f"{name} must be a dict, not {type(arg).__name__}")
        merged.update(arg)
    merged.update(kwargs)
    return merged
