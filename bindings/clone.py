"""Structured clone: the copy that RPC arguments, results and Durable Object storage values get."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bindings.errors import JsException, JsTypeError
from bindings.jsobj import JsDict

_IMMUTABLE = (str, int, float, bool, type(None), bytes, dt.datetime, dt.date, dt.time)


class DataCloneError(JsException):
    """A value of a kind structured clone cannot copy (a function, a socket, an open file...)."""

    js_name = "DataCloneError"


def structured_clone(value: Any) -> Any:
    """Deep-copy ``value`` as JS structured clone would; cycles and shared parts are preserved.

    dicts come back as JsDict (attribute access, like Pyodide's converted objects); lists,
    sets, bytes and datetimes copy; memoryview copies to bytes. Tuples and bytearrays raise
    TypeError as Cloudflare's ``python_to_rpc`` does; anything else raises DataCloneError.
    """
    if isinstance(value, _IMMUTABLE):
        return value
    return _clone(value, {})


def _clone(value: Any, memo: dict[int, Any]) -> Any:
    if isinstance(value, _IMMUTABLE):
        return value
    seen = memo.get(id(value))
    if seen is not None:
        return seen
    if isinstance(value, dict):
        out = JsDict()
        memo[id(value)] = out
        for k, v in value.items():
            if not isinstance(k, str | int | float | bool):
                raise DataCloneError(f"A dict key of type {type(k).__name__} could not be cloned.")
            out[k] = _clone(v, memo)
        return out
    if isinstance(value, list):
        items: list[Any] = []
        memo[id(value)] = items
        items.extend(_clone(v, memo) for v in value)
        return items
    if isinstance(value, set | frozenset):
        return type(value)(_clone(v, memo) for v in value)
    if isinstance(value, memoryview):
        return value.tobytes()
    raise clone_error(value)


def clone_error(value: Any) -> Exception:
    """The error structured clone raises for ``value`` (shared with serialisers of its kinds)."""
    if isinstance(value, tuple):
        return JsTypeError("Tuples cannot be cloned or sent over RPC; use a list.")
    if isinstance(value, bytearray):
        return JsTypeError("bytearray cannot be cloned or sent over RPC; use bytes.")
    return DataCloneError(f"{type(value).__name__} object could not be cloned.")
