"""WebSocket frames as the apps speak them: JSON text objects with a string ``type``::

    if too_big(message, 64 * 1024):  # a str is measured in UTF-8 bytes
        ws.close(1009, "frame over 64 KiB")
    frame = parse(message)           # None: not text, not JSON, not an object with a type
    ws.send(dumps({"type": "ack"}))

Each app keeps its own limits and error codes.
"""

from __future__ import annotations

import json
from typing import Any


def dumps(frame: dict[str, Any]) -> str:
    """A frame as compact JSON text."""
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def parse(message: str | bytes) -> dict[str, Any] | None:
    """A text frame's JSON object with a string ``type``, else None."""
    if not isinstance(message, str):
        return None
    try:
        frame = json.loads(message)
    except (ValueError, RecursionError):  # RecursionError: '[[[[...' nested too deep
        return None
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        return None
    return frame


def too_big(message: str | bytes, limit: int) -> bool:
    """Over ``limit`` bytes (a str counted in UTF-8, encoded only when it might be over)."""
    size = len(message)
    if isinstance(message, str) and limit // 4 < size <= limit:
        size = len(message.encode())
    return size > limit
