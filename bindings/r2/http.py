"""Answering an HTTP request from an R2 object: ``await object_response(request, bucket, key)``.

For GET and HEAD (anything else is 405), with:

- the object's httpMetadata as headers (Content-Type defaults to application/octet-stream),
  ``ETag``, ``Last-Modified``, ``Accept-Ranges: bytes`` and the ``headers`` you pass;
- ``Range``: one satisfiable range is 206 with ``Content-Range``; a range starting at or past
  the end, ``bytes=-0``, or any range of an empty object is 416; a malformed or multi-range
  header is ignored (200, whole object); ``If-Range`` (etag or date) guards it;
- conditional requests: a failed ``If-Match`` / ``If-Unmodified-Since`` is 412, a failed
  ``If-None-Match`` / ``If-Modified-Since`` is 304 (412 wins, RFC 9110 §13.2.2);
- a missing key is 404. Error bodies are ``{"error": "..."}`` like the rest of Hearth.

The body streams straight from storage: a large object is never held in memory. ``request``
may be a ``workers.Request`` or a Starlette request; the result is a ``workers.Response``,
which a Starlette route can return as it is.
"""

from __future__ import annotations

import re
from typing import Any

from bindings.errors import JsException
from bindings.headers import Headers, HeadersInit
from bindings.r2.bucket import R2Bucket
from bindings.r2.conditionals import (
    Conditional,
    format_http_date,
    from_headers,
    http_date,
    passes,
    to_millis,
)
from bindings.r2.objects import R2Object, R2ObjectBody
from bindings.r2.ranges import parse_ranges, resolve
from bindings.response import Response

_CONDITIONAL = ("if-match", "if-none-match", "if-modified-since", "if-unmodified-since")
_SINGLE = re.compile(r"^ *bytes *= *(?:(\d+) *- *(\d*)|- *(\d+)) *$", re.I)


def _error(status: int, message: str, headers: HeadersInit = None) -> Response:
    return Response.from_json({"error": message}, status, headers=headers)


def _unsatisfiable(header: str, size: int) -> bool:
    """A well-formed single range that selects nothing of ``size`` bytes (answered 416)."""
    m = _SINGLE.match(header)
    if m is None:
        return False
    start, end, suffix = m.groups()
    if suffix is not None:
        return int(suffix) == 0 or size == 0
    if end and int(end) < int(start):
        return False  # malformed: ignored
    return int(start) >= size


def _if_range_holds(value: str, obj: R2Object) -> bool:
    """If-Range: a strong etag equal to ours, or our exact Last-Modified date."""
    value = value.strip()
    if value.startswith('"'):
        return value == obj.httpEtag
    when = http_date(value)
    return when is not None and when == to_millis(obj.uploaded) // 1000 * 1000


def _headers(obj: R2Object, extra: HeadersInit) -> Headers:
    headers = Headers()
    obj.writeHttpMetadata(headers)
    if "content-type" not in headers:
        headers.set("content-type", "application/octet-stream")
    headers.set("etag", obj.httpEtag)
    headers.set("last-modified", format_http_date(to_millis(obj.uploaded)))
    headers.set("accept-ranges", "bytes")
    for name, value in Headers(extra).items():
        headers.set(name, value)
    return headers


def _failed_status(cond: Conditional, obj: R2Object) -> int:
    """412 when a precondition (If-Match / If-Unmodified-Since) fails, else 304."""
    if cond.etag_matches is None and cond.uploaded_before is None:
        return 304
    pre = Conditional(
        etag_matches=cond.etag_matches,
        uploaded_before=cond.uploaded_before,
        seconds_granularity=True,
    )
    return 304 if passes(pre, obj.etag, to_millis(obj.uploaded)) else 412


async def object_response(
    request: Any, bucket: R2Bucket, key: str, *, headers: HeadersInit = None
) -> Response:
    """Answer a GET or HEAD ``request`` with the object ``key`` of ``bucket`` (see module doc)."""
    method = str(request.method).upper()
    if method not in ("GET", "HEAD"):
        return _error(405, "Method Not Allowed", {"allow": "GET, HEAD"})
    asked = request.headers
    cond: Conditional | None = None
    try:
        if any(asked.get(name) is not None for name in _CONDITIONAL):
            cond = from_headers(asked)
    except JsException:
        return _error(400, "Bad Request")
    range_header: str | None = asked.get("range")
    if_range = asked.get("if-range")
    if range_header is not None and if_range is not None:
        current = await bucket.head(key)
        if current is None or not _if_range_holds(if_range, current):
            range_header = None
    ranged = Headers({"range": range_header}) if range_header is not None else None

    body: Any = None
    if method == "HEAD":
        obj = await bucket.head(key)
        if (
            obj is not None
            and cond is not None
            and not passes(cond, obj.etag, to_millis(obj.uploaded))
        ):
            return Response(None, _failed_status(cond, obj), headers=_headers(obj, headers))
    else:
        obj = await bucket.get(key, onlyIf=asked if cond is not None else None, range=ranged)
        if obj is not None and not isinstance(obj, R2ObjectBody):
            assert cond is not None
            return Response(None, _failed_status(cond, obj), headers=_headers(obj, headers))
    if obj is None:
        return _error(404, "Not Found")
    if isinstance(obj, R2ObjectBody):
        body = obj.body

    size = obj.size
    status, offset, length = 200, 0, size
    if range_header is not None:
        if _unsatisfiable(range_header, size):
            if body is not None:
                await body.cancel()
            return _error(416, "Range Not Satisfiable", {"content-range": f"bytes */{size}"})
        ranges = parse_ranges(range_header, size)
        if ranges is not None and len(ranges) == 1:
            status = 206
            offset, length = resolve(range_header, size)
    out = _headers(obj, headers)
    if status == 206:
        out.set("content-range", f"bytes {offset}-{offset + length - 1}/{size}")
    out.set("content-length", str(length))
    return Response(body, status, headers=out)
