"""HTTP ``Range: bytes=...`` headers, read as Miniflare's ``parseRanges`` (R2, Cache API)."""

from __future__ import annotations

import re

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
