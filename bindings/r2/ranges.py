"""Byte ranges: ``get(key, range=...)`` in its object and Headers forms, and ``parse_ranges``.

The object form (``{"offset", "length"}`` or ``{"suffix"}``) is validated like workerd does
(TypeError/RangeError) and resolved like R2 (416 for an unsatisfiable range). The Headers form
uses the ``Range`` header and never fails: an absent, invalid or multi-range header means the
whole object.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bindings.errors import JsRangeError, JsTypeError
from bindings.r2.errors import R2InvalidRange

_PREFIX = re.compile(r"^ *bytes *=", re.I)
_RANGE = re.compile(r"^ *(\d+)? *- *(\d+)? *$")


def parse_ranges(header: str, size: int) -> list[tuple[int, int]] | None:
    """Parse a ``Range`` header against a size, as Miniflare's ``parseRanges`` does.

    Returns inclusive ``(start, end)`` pairs in order; ``[]`` means the whole object;
    ``None`` means invalid or unsatisfiable (another unit, ``start > end``, ``start >= size``).
    A suffix at least as long as the object anywhere in the list means the whole object.
    """
    match = _PREFIX.match(header)
    if match is None:
        return None
    rest = header[match.end() :]
    if not rest.strip(" \t"):
        return []
    result: list[tuple[int, int]] = []
    for part in rest.split(","):
        m = _RANGE.match(part)
        if m is None:
            return None
        start, end = m.groups()
        if start is not None:
            first = int(start)
            last = int(end) if end is not None else size - 1
            if end is not None and first > last:
                return None
            if first >= size:
                return None
            result.append((first, min(last, size - 1)))
        elif end is not None:
            suffix = int(end)
            if suffix >= size:
                return []
            if suffix:
                result.append((size - suffix, size - 1))
        else:
            return None
    return result


@dataclass(frozen=True, slots=True)
class RangeSpec:
    """A validated object-form range."""

    offset: int | None = None
    length: int | None = None
    suffix: int | None = None


def range_option(value: Any) -> RangeSpec | str | None:
    """The ``range`` option: a RangeSpec (object form), a Range header value, or None."""
    if value is None:
        return None
    if isinstance(value, Mapping) and not hasattr(value, "getlist"):
        return _spec(value)
    get = getattr(value, "get", None)
    if get is None:
        raise JsTypeError("range must be an R2Range object ({offset, length, suffix}) or Headers")
    header = get("range")
    return header if isinstance(header, str) else None


def _spec(value: Mapping[str, Any]) -> RangeSpec:
    unknown = set(value) - {"offset", "length", "suffix"}
    if unknown:
        raise JsTypeError(f"Unknown range option {sorted(unknown)[0]!r}")
    offset = _number(value.get("offset"), "Invalid range. Starting offset")
    length = _number(value.get("length"), "Invalid range. Length")
    suffix = value.get("suffix")
    if suffix is not None:
        if offset is not None:
            raise JsTypeError("Suffix is incompatible with offset.")
        if length is not None:
            raise JsTypeError("Suffix is incompatible with length.")
        if _is_number(suffix) and suffix < 0:
            raise JsRangeError(
                f"Invalid suffix. Suffix ({suffix}) must be greater than or equal to 0."
            )
        suffix = _number(suffix, "Invalid range. Suffix")
    return RangeSpec(offset, length, suffix)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if not _is_number(value):
        raise JsTypeError(f"{what} must be a number, not {type(value).__name__}")
    if value < 0:
        raise JsRangeError(f"{what} ({_js(value)}) must be greater than or equal to 0.")
    if value != int(value):
        raise JsRangeError(f"{what} ({_js(value)}) must be an integer, not floating point.")
    return int(value)


def _js(value: float) -> str:
    """A number as JS prints it (``3`` rather than ``3.0``)."""
    return str(int(value)) if value == int(value) else repr(value)


def resolve(spec: RangeSpec | str | None, size: int) -> tuple[int, int]:
    """The ``(offset, length)`` to read from an object of ``size`` bytes.

    Raises R2InvalidRange (416) for an unsatisfiable object-form range; the Headers form falls
    back to the whole object instead.
    """
    if spec is None:
        return 0, size
    if isinstance(spec, str):
        ranges = parse_ranges(spec, size)
        if ranges is not None and len(ranges) == 1:
            start, end = ranges[0]
            return start, end - start + 1
        return 0, size
    offset, length, suffix = spec.offset, spec.length, spec.suffix
    if suffix is not None:
        if suffix <= 0:
            raise R2InvalidRange()
        suffix = min(suffix, size)
        offset, length = size - suffix, suffix
    if offset is None:
        offset = 0
    if length is None:
        length = size - offset
    if offset < 0 or offset > size or length <= 0:
        raise R2InvalidRange()
    return offset, min(length, size - offset)
