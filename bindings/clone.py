"""Structured clone: the copy that RPC arguments, results and Durable Object storage values get.

``structured_clone`` copies in memory; ``serialize``/``deserialize`` give the same kinds of value a
byte form (for Durable Object storage and WebSocket attachments).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable
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


# Serialized form: b"J" + JSON for values JSON represents exactly (the common case, encoded and
# decoded by the C json module), or b"T" + JSON in which bytes, datetimes, sets and dicts with
# non-string keys are one-key objects whose key starts with NUL ({"\x00b": base64}).
_PLAIN, _TAGGED = b"J", b"T"
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_PLAIN_DECODER = json.JSONDecoder(object_pairs_hook=JsDict)
_MAX_DEPTH = 256
_SCALARS = (str, int, float, type(None))
_KEYS = (str, int, float)


def serialize(value: Any) -> bytes:
    """The bytes of a structured-clone value; raises as ``structured_clone`` does for the rest.

    Cycles cannot be serialized (DataCloneError); shared parts come back as separate copies.
    """
    if isinstance(value, _SCALARS) or _is_plain(value, 0):
        return _PLAIN + _ENCODER.encode(value).encode()
    return _TAGGED + _ENCODER.encode(_tagged(value, 0)).encode()


def deserialize(data: bytes) -> Any:
    """The value ``serialize`` encoded (dicts come back as JsDict)."""
    text = data.decode()
    if text[:1] == "J":
        return _PLAIN_DECODER.decode(text[1:])
    if text[:1] == "T":
        return _TAGGED_DECODER.decode(text[1:])
    raise ValueError("not a serialized structured-clone value")


def _is_plain(value: Any, depth: int) -> bool:
    """True when JSON holds ``value`` exactly; raises for kinds that cannot be cloned at all."""
    if depth > _MAX_DEPTH:
        raise DataCloneError("A value nested too deeply (or cyclic) could not be serialized.")
    if isinstance(value, _SCALARS):
        return True
    if isinstance(value, dict):
        plain = True
        for k, v in value.items():
            if type(k) is not str or k[:1] == "\x00":
                if not isinstance(k, _KEYS):
                    raise DataCloneError(
                        f"A dict key of type {type(k).__name__} could not be cloned."
                    )
                plain = False
            if not _is_plain(v, depth + 1):
                plain = False
        return plain
    if isinstance(value, list):
        plain = True
        for v in value:
            if not _is_plain(v, depth + 1):
                plain = False
        return plain
    if isinstance(value, bytes | memoryview | dt.date | dt.time | set | frozenset):
        return False
    _clone(value, {})  # raises the TypeError or DataCloneError structured_clone would
    raise DataCloneError(f"{type(value).__name__} object could not be serialized.")


def _tagged(value: Any, depth: int) -> Any:
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, dict):
        if all(type(k) is str and k[:1] != "\x00" for k in value):
            return {k: _tagged(v, depth + 1) for k, v in value.items()}
        return {"\x00m": [[k, _tagged(v, depth + 1)] for k, v in value.items()]}
    if isinstance(value, list):
        return [_tagged(v, depth + 1) for v in value]
    if isinstance(value, bytes | memoryview):
        return {"\x00b": base64.b64encode(value).decode("ascii")}
    if isinstance(value, dt.datetime):
        return {"\x00d": value.isoformat()}
    if isinstance(value, dt.date):
        return {"\x00D": value.isoformat()}
    if isinstance(value, dt.time):
        return {"\x00t": value.isoformat()}
    if isinstance(value, frozenset):
        return {"\x00f": [_tagged(v, depth + 1) for v in value]}
    return {"\x00s": [_tagged(v, depth + 1) for v in value]}


_UNTAG: dict[str, Callable[[Any], Any]] = {
    "\x00b": base64.b64decode,
    "\x00d": dt.datetime.fromisoformat,
    "\x00D": dt.date.fromisoformat,
    "\x00t": dt.time.fromisoformat,
    "\x00s": set,
    "\x00f": frozenset,
    "\x00m": lambda pairs: JsDict((k, v) for k, v in pairs),
}


def _untag(pairs: list[tuple[str, Any]]) -> Any:
    if len(pairs) == 1 and pairs[0][0][:1] == "\x00":
        tag, payload = pairs[0]
        return _UNTAG[tag](payload)
    return JsDict(pairs)


_TAGGED_DECODER = json.JSONDecoder(object_pairs_hook=_untag)
