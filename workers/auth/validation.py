"""Request bodies as Better Auth reads them: size cap, media types, JSON, and schema messages.

Schema failures read like zod's through better-call: ``[body.password] Invalid input: expected
string, received undefined``, several issues joined by ``"; "``, code ``VALIDATION_ERROR``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import HTTPConnection, Request

from bindings.queues.codec import js_typeof
from workers.auth.errors import APIError

MAX_BODY_BYTES = 64 * 1024
MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()

_JSON_TYPE = re.compile(r"^application/([a-z0-9.+-]*\+)?json", re.I)
_FORM_TYPE = "application/x-www-form-urlencoded"
# zod v4's email pattern (what z.email() accepts).
EMAIL = re.compile(
    r"^(?!\.)(?!.*\.\.)([A-Za-z0-9_'+\-\.]*)[A-Za-z0-9_+-]@([A-Za-z0-9][A-Za-z0-9\-]*\.)+[A-Za-z]{2,}$"
)


class BodyTooLarge(Exception):
    """The request body is over the cap."""


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The whole body, refusing more than ``limit`` bytes without reading them all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(raw: bytes) -> Any:
    """JSON as ``JSON.parse`` reads it (no NaN/Infinity); ValueError when it is not JSON."""
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(str(exc)) from exc


async def better_auth_body(request: Request, *, form: bool = False) -> Any:
    """The parsed body of an ``/api/auth`` request (``MISSING`` when there is none)."""
    try:
        raw = await read_body(request)
    except BodyTooLarge:
        raise APIError(413, "Request body is too large", "PAYLOAD_TOO_LARGE") from None
    if not raw:
        return MISSING
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";")[0].strip().lower()
    allowed = ["application/json", _FORM_TYPE] if form else ["application/json"]
    if media not in allowed:
        if not content_type:
            message = f"Content-Type is required. Allowed types: {', '.join(allowed)}"
        else:
            message = (
                f'Content-Type "{content_type}" is not allowed. Allowed types: {", ".join(allowed)}'
            )
        raise APIError(415, message, "UNSUPPORTED_MEDIA_TYPE")
    if _JSON_TYPE.match(media):
        try:
            return parse_json(raw)
        except ValueError:
            raise APIError(400, "Invalid JSON in request body", "BAD_REQUEST") from None
    return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))


def js_type(value: Any) -> str:
    """The type name zod reports as ``received`` (``typeof``, with null and array told apart)."""
    if value is MISSING:
        return "undefined"
    if value is None:
        return "null"
    return "array" if isinstance(value, list) else js_typeof(value)


@dataclass(frozen=True)
class Field:
    """A body field: its name, a check (an issue message or None) and whether it is required."""

    name: str
    check: Callable[[Any], str | None]
    required: bool = True


def _expect(kind: str, test: Callable[[Any], bool]) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if test(value):
            return None
        return f"Invalid input: expected {kind}, received {js_type(value)}"

    return check


STRING = _expect("string", lambda v: isinstance(v, str))
BOOLEAN = _expect("boolean", lambda v: isinstance(v, bool))
NUMBER = _expect("number", lambda v: isinstance(v, int | float) and not isinstance(v, bool))
OBJECT = _expect("object", lambda v: isinstance(v, dict))
STRING_OR_LIST = _expect(
    "string", lambda v: isinstance(v, str) or (isinstance(v, list) and bool(v))
)


def email_check(value: Any) -> str | None:
    """``z.email()``: a string that looks like an address."""
    issue = STRING(value)
    if issue is None and not EMAIL.match(value):
        return "Invalid email address"
    return issue


def nonempty_string(value: Any) -> str | None:
    """``z.string().min(1)``."""
    issue = STRING(value)
    if issue is None and not value:
        return "Too small: expected string to have >=1 characters"
    return issue


def nullable(check: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
    """``.nullish()``: None is accepted too."""
    return lambda value: None if value is None else check(value)


def validate(body: Any, fields: Sequence[Field], where: str = "body") -> dict[str, Any]:
    """Check ``body`` against ``fields``; raise VALIDATION_ERROR with zod's messages."""
    if not isinstance(body, dict):
        received = js_type(body)
        raise APIError(
            400,
            f"[{where}] Invalid input: expected object, received {received}",
            "VALIDATION_ERROR",
        )
    issues = []
    for field in fields:
        value = body.get(field.name, MISSING)
        if value is MISSING and not field.required:
            continue
        issue = field.check(value)
        if issue is not None:
            issues.append(f"[{where}.{field.name}] {issue}")
    if issues:
        raise APIError(400, "; ".join(issues), "VALIDATION_ERROR")
    return body


def client_ip(conn: HTTPConnection) -> str:
    """The caller's address as the server resolved it (X-Forwarded-For from trusted proxies)."""
    client = conn.scope.get("client")
    return str(client[0]) if client else ""


async def json_object(request: Request) -> dict[str, Any]:
    """The JSON object body of a non-Better-Auth route, or the matching ``{"error"}`` answer."""
    from workers.auth.errors import HTTPError

    try:
        raw = await read_body(request)
    except BodyTooLarge:
        raise HTTPError(413, "Request body is too large") from None
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not _JSON_TYPE.match(media):
        raise HTTPError(415, "Content-Type must be application/json")
    try:
        body = parse_json(raw)
    except ValueError:
        raise HTTPError(400, "Malformed JSON body") from None
    if not isinstance(body, dict):
        raise HTTPError(400, "The body must be a JSON object")
    return body


def require_str(body: dict[str, Any], name: str, *, max_length: int = 1000) -> str:
    """A required string field of a ``json_object`` body (400 ``{"error"}`` otherwise)."""
    from workers.auth.errors import HTTPError

    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise HTTPError(400, f"{name} must be a non-empty string")
    if len(value) > max_length:
        raise HTTPError(400, f"{name} is too long")
    return value
