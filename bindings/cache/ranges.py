"""``Range: bytes=...`` on a cached body: parsing, and the multipart/byteranges answer."""

from __future__ import annotations

import secrets

from bindings.ranges import parse_ranges

__all__ = ["multipart", "parse_ranges"]


def multipart(
    body: bytes, ranges: list[tuple[int, int]], content_type: str | None
) -> tuple[bytes, str]:
    """A multipart/byteranges body for ``ranges`` and its Content-Type (with the boundary)."""
    boundary = f"hearth-boundary-{secrets.token_hex(12)}"
    size = len(body)
    parts = []
    for start, end in ranges:
        head = f"--{boundary}\r\n"
        if content_type is not None:
            head += f"Content-Type: {content_type}\r\n"
        head += f"Content-Range: bytes {start}-{end}/{size}\r\n\r\n"
        parts.append(head.encode("latin-1") + body[start : end + 1])
    out = b"\r\n".join(parts) + (b"\r\n" if parts else b"") + f"--{boundary}--".encode()
    return out, f"multipart/byteranges; boundary={boundary}"
