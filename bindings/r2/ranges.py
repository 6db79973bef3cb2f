"""Byte ranges: ``get(key, range=...)`` in its object and Headers forms, and ``parse_ranges``.

The object form (``{"offset", "length"}`` or ``{"suffix"}``) is validated like workerd does
(TypeError/RangeError) and resolved like R2 (416 for an unsatisfiable range). The Headers form
uses the ``Range`` header (``bindings.ranges.parse_ranges``) and never fails: an absent, invalid
or multi-range header means the whole object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bindings.errors import JsRangeError, JsTypeError
from bindings.r2.errors import R2InvalidRange
from bindings.ranges import parse_ranges

__all__ = ["RangeSpec", "parse_ranges", "range_option", "resolve"]


@dataclass(frozen=True)
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
