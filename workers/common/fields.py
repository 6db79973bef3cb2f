"""Typed fields of JSON bodies, forms and paths, checked once: a wrong value is a 400 (404 for
an id in the path) naming the field, never a 500 further down.

JSON is strict (``"2"`` is not an integer, ``true`` is not 1); form fields arrive as text, so
``form=True`` reads digits. Integers are bounded, which also keeps them inside what D1 binds
(±2**53).
"""

from __future__ import annotations

import re
from typing import Any

from starlette.exceptions import HTTPException

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()
MAX_ID = 2**53 - 1
_DIGITS = re.compile(r"[+-]?[0-9]{1,16}")


def integer(
    value: Any, name: str, low: int, high: int, *, form: bool = False, default: Any = MISSING
) -> Any:
    """``value`` as an int within [low, high]; ``default`` when missing (400 when none given)."""
    if value is MISSING or value is None or (form and value == ""):
        if default is MISSING:
            raise HTTPException(400, f"{name} is required")
        return default
    if form and isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        value = int(value.strip())
    if type(value) is float and value.is_integer() and not form:
        value = int(value)  # JSON 2.0 is the number 2, as in JavaScript
    if type(value) is not int:
        raise HTTPException(400, f"{name} must be an integer")
    if not low <= value <= high:
        raise HTTPException(400, f"{name} must be between {low} and {high}")
    return value


def text(
    value: Any, name: str, max_length: int, *, min_length: int = 0, default: Any = MISSING
) -> Any:
    """``value`` as a str, stripped, of ``min_length``..``max_length`` characters."""
    if value is MISSING or value is None:
        if default is MISSING:
            raise HTTPException(400, f"{name} is required")
        return default
    if not isinstance(value, str):
        raise HTTPException(400, f"{name} must be a string")
    value = value.strip()
    if len(value) < min_length:
        if min_length == 1:
            raise HTTPException(400, f"{name} must not be empty")
        raise HTTPException(400, f"{name} must have at least {min_length} characters")
    if len(value) > max_length:
        raise HTTPException(400, f"{name} must have at most {max_length} characters")
    return value


def boolean(value: Any, name: str, *, form: bool = False, default: Any = MISSING) -> Any:
    """``value`` as a bool (forms: true/false, 1/0, on/off)."""
    if value is MISSING or value is None or (form and value == ""):
        if default is MISSING:
            raise HTTPException(400, f"{name} is required")
        return default
    if isinstance(value, bool):
        return value
    if form and isinstance(value, str):
        word = value.strip().lower()
        if word in ("true", "1", "on", "yes"):
            return True
        if word in ("false", "0", "off", "no"):
            return False
    raise HTTPException(400, f"{name} must be true or false")


def path_id(raw: str, what: str) -> int:
    """A positive integer id from the path; anything else is a 404 ``{what} not found``."""
    if not raw.isascii() or not raw.isdigit() or len(raw) > 16 or not 0 < int(raw) <= MAX_ID:
        raise HTTPException(404, f"{what} not found")
    return int(raw)
