"""Request parsing and JSON errors shared by the apps.

Every app answers client mistakes as ``{"error": "..."}`` with the right status, never a 500:
raise ``HTTPException(status, message)`` (Starlette's) from a handler and install
``exception_handlers`` on the app.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message

MAX_JSON_BYTES = 1024 * 1024  # a JSON body larger than this is refused with 413

__all__ = [
    "MAX_JSON_BYTES",
    "HTTPException",
    "client_ip",
    "exception_handlers",
    "json_error",
    "json_object",
    "limit_body",
    "read_body",
]


def json_error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def _http_exception(request: Any, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    return json_error(exc.status_code, str(exc.detail), exc.headers)


# Starlette(exception_handlers=exception_handlers): HTTPException -> {"error": detail} JSON.
exception_handlers: dict[Any, Any] = {HTTPException: _http_exception}


async def read_body(request: Request, limit: int = MAX_JSON_BYTES) -> bytes:
    """The whole body; 413 past ``limit`` bytes, without reading more than that."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"Request body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"Request body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def limit_body(request: Request, limit: int) -> Request:
    """``request`` with a body cut off at ``limit`` bytes: a declared Content-Length over it is
    refused at once, and reading (``form()``, ``stream()``) raises the 413 as soon as more than
    ``limit`` bytes have arrived, so an oversized upload is never received whole."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"Request body is larger than {limit} bytes")
    size = 0
    receive = request.receive

    async def counted() -> Message:
        nonlocal size
        message = await receive()
        if message["type"] == "http.request":
            size += len(message.get("body", b""))
            if size > limit:
                raise HTTPException(413, f"Request body is larger than {limit} bytes")
        return message

    return Request(request.scope, counted)


async def json_object(request: Request, limit: int = MAX_JSON_BYTES) -> dict[str, Any]:
    """The body as a JSON object: 413 too large, 415 not JSON, 400 malformed or not an object."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json" and not (
        media.startswith("application/") and media.endswith("+json")
    ):
        raise HTTPException(415, "Content-Type must be application/json")
    raw = await read_body(request, limit)
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than Python parses
        raise HTTPException(400, "Malformed JSON body") from None
    if not isinstance(value, dict):
        raise HTTPException(400, "The body must be a JSON object")
    return value


def _is_json(media: str) -> bool:
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def client_ip(conn: HTTPConnection) -> str:
    """The caller's address as the server resolved it (behind nginx, uvicorn takes it from
    X-Forwarded-For of trusted proxies only)."""
    client = conn.scope.get("client")
    return str(client[0]) if client else "unknown"
