"""What the room and its clients agree on: names, limits, and the frames' JSON.

Frames are JSON text objects with a ``type``. Clients send ``operation`` (``{operation,
baseVersion}``), ``cursor`` (``{cursor: {position, end?}, version}``) and ``user_info``
(``{user: {color}}``); the server sends ``document_state``, ``ack``, ``operation``,
``cursor``, ``user_info``, ``presence`` and ``error`` (docs/apps/collaboration.md).
"""

from __future__ import annotations

import re
from typing import TypeGuard

ROOM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
ROOM_RULE = (
    "room names are 1-64 characters of A-Z, a-z, 0-9, '.', '_' and '-', starting alphanumeric"
)
COLOR = re.compile(r"#[0-9a-fA-F]{6}")

MAX_FRAME_BYTES = 64 * 1024  # a larger frame closes the socket with 1009
MAX_SOCKETS = 200  # connections to one room; more are refused with 503
FRAMES_PER_SECOND = 60  # per socket, bursts of twice that (the FRAMES_PER_SECOND var)
CLOSE_TOO_BIG = 1009

# Colours handed out to people as they join (by user id), until they pick their own.
PALETTE = ["#d1495b", "#00798c", "#edae49", "#30638e", "#6a4c93", "#2a9d8f", "#e76f51", "#8ab17d"]


def valid_room(name: object) -> TypeGuard[str]:
    """True for a room name (see ROOM_RULE)."""
    return isinstance(name, str) and ROOM_NAME.fullmatch(name) is not None
