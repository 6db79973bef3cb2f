"""``Range: bytes=...`` on a cached body: parsing, and the multipart/byteranges answer."""

from __future__ import annotations

import re
import secrets

_PREFIX = re.compile(r" *bytes *=", re.IGNORECASE)
_RANGE = re.compile(r" *(\d+)? *- *(\d+)? *")


def parse_ranges(header: str, length: int) -> list[tuple[int, int]] | None:
    """Inclusive ``(start, end)`` ranges of a body of ``length`` bytes, as Miniflare reads them.

    None means unsatisfiable (416); an empty list means "the whole body" (``bytes=``, or a
    suffix at least as long as the body).
    """
    prefix = _PREFIX.match(header)
    if prefix is None:
        return None
    rest = header[prefix.end() :]
    if not rest.strip():
        return []
    ranges: list[tuple[int, int]] = []
    for part in rest.split(","):
        m = _RANGE.fullmatch(part)
        if m is None:
            return None
        start, end = m.group(1), m.group(2)
        if start is not None:
            first = int(start)
            last = length - 1 if end is None else min(int(end), length - 1)
            if first >= length or (end is not None and first > int(end)):
                return None
            ranges.append((first, last))
        elif end is not None:
            suffix = int(end)
            if suffix >= length:
                return []
            if suffix:
                ranges.append((length - suffix, length - 1))
        else:
            return None
    return ranges


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
