"""What the server and its clients agree on: names, limits, frames and the signed byte string.

Frames are JSON text objects with a ``type``. The client sends ``authenticate``,
``connect_request``, ``accept_connection`` and ``encrypted_message``; the server sends
``challenge``, ``authenticated``, ``connection_request``, ``connection_accepted``,
``encrypted_message``, the acknowledgements ``request_sent``, ``accepted`` and
``message_sent``, and ``error`` (docs/apps/messaging.md lists every field).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import TypeGuard

PROTOCOL = "hearth-messaging-v1"

USERNAME = re.compile(r"[a-z0-9_]{3,32}")
USERNAME_RULE = "username must be 3-32 characters of a-z, 0-9 and _"

MAX_FRAME_BYTES = 64 * 1024  # a larger frame closes the socket with 1009
CHALLENGE_BYTES = 32
CHALLENGE_TTL_MS = 30_000  # a challenge is answered within this, once, or the socket closes
QUEUE_TTL_MS = 7 * 24 * 3600 * 1000  # undelivered messages are kept this long...
MAX_QUEUED = 1_000  # ...and at most this many per user
MAX_RECIPIENTS = 32
MAX_PENDING_REQUESTS = 100  # connection requests a user may have waiting for their answer
MAX_REF_CHARS = 64

CLOSE_POLICY = 1008  # forged or late authentication
CLOSE_TOO_BIG = 1009

# Domain separation: a signature made for this purpose is never valid as anything else.
AUTH_CONTEXT = f"{PROTOCOL} authenticate\n".encode()


def valid_username(name: object) -> TypeGuard[str]:
    """True for 3-32 characters of ``[a-z0-9_]``."""
    return isinstance(name, str) and USERNAME.fullmatch(name) is not None


def auth_message(host: str, username: str, challenge: bytes) -> bytes:
    """The bytes a client signs to authenticate: the context, the host it dialled (lowercase,
    no port), its username and the challenge, newline-separated (neither a host nor a
    username can hold a newline)."""
    return b"%s%s\n%s\n%s" % (AUTH_CONTEXT, host.lower().encode(), username.encode(), challenge)


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: object) -> bytes | None:
    """Standard or URL-safe base64, padding optional; None when ``text`` is not base64."""
    if not isinstance(text, str) or len(text) > 16_384:
        return None
    text = text.strip().replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
