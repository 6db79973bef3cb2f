"""Message bodies by content type (``text``, ``json``, ``bytes``, ``v8``), as workerd encodes them.

What a consumer gets back, as Cloudflare's Python SDK hands it over: ``text`` a str, ``json``
plain values with dicts as JsDict, ``bytes`` a memoryview (an ArrayBuffer becomes one in
Pyodide), ``v8`` the structured clone of what was sent (see ``serial``).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from bindings.clone import clone_error
from bindings.errors import JsTypeError
from bindings.jsobj import to_jsdict
from bindings.queues import serial

CONTENT_TYPES = ("text", "json", "bytes", "v8")


def content_type(value: Any) -> str:
    """Validate a ``contentType`` option (case-insensitive), as workerd does."""
    lowered = value.lower() if isinstance(value, str) else None
    if lowered not in CONTENT_TYPES:
        raise JsTypeError(f"Unsupported queue message content type: {value}")
    return lowered


def js_typeof(value: Any) -> str:
    """What JavaScript's ``typeof`` says of ``value`` once Pyodide has converted it."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if callable(value):
        return "function"
    return "object"


def encode(body: Any, kind: str) -> bytes:
    """Serialise ``body`` for ``kind``; raise workerd's TypeErrors for a wrong type."""
    if kind == "json":
        try:
            text = json.dumps(
                body, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_json
            )
        except ValueError as exc:  # NaN/Infinity or a cycle: JSON has no spelling for them
            raise JsTypeError(f"Message body cannot be serialised as JSON: {exc}") from None
        _check_transferable(body)  # after dumps, which has ruled out cycles
        return text.encode()
    if kind == "text":
        if not isinstance(body, str):
            raise JsTypeError(
                f'Content Type "text" requires a value of type string, but received: '
                f"{js_typeof(body)}"
            )
        return body.encode("utf-8", "surrogatepass")
    if kind == "bytes":
        if isinstance(body, bytearray):
            raise clone_error(body)
        if not isinstance(body, bytes | memoryview):
            raise JsTypeError(
                f'Content Type "bytes" requires a value of type ArrayBufferView, but received: '
                f"{js_typeof(body)}"
            )
        return bytes(body)
    return serial.dumps(body)


def decode(data: bytes, kind: str) -> Any:
    """The body a consumer receives for stored ``data`` of ``kind``."""
    if kind == "json":
        return to_jsdict(json.loads(data))
    if kind == "text":
        return data.decode("utf-8", "surrogatepass")
    if kind == "bytes":
        return memoryview(data)
    return serial.loads(data)


def _json(value: Any) -> Any:
    """JSON.stringify's view of converted values: a datetime is a Date, which has toJSON."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat(timespec="milliseconds") + "Z"
    if isinstance(value, bytes | memoryview | set | frozenset):
        raise JsTypeError(
            f"A {type(value).__name__} cannot be sent as JSON; "
            'use contentType "v8" (or "bytes" for binary)'
        )
    raise clone_error(value)


def _check_transferable(value: Any) -> None:
    """Refuse tuples and bytearrays anywhere in a body, as Pyodide's conversion does."""
    if isinstance(value, dict):
        for item in value.values():
            _check_transferable(item)
    elif isinstance(value, list):
        for item in value:
            _check_transferable(item)
    elif isinstance(value, tuple | bytearray):
        raise clone_error(value)
