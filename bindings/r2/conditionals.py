"""``onlyIf``: R2's conditional operations, as an ``R2Conditional`` dict or as request Headers.

``passes`` is R2's truth table (Miniflare's ``_testR2Conditional``, itself adapted from R2's
gateway and RFC 7232 section 6). The Headers form reads If-Match, If-None-Match,
If-Modified-Since and If-Unmodified-Since and always compares at whole-second granularity.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from bindings.errors import JsException, JsTypeError

EtagKind = Literal["strong", "weak", "wildcard"]


@dataclass(frozen=True)
class Etag:
    kind: EtagKind
    value: str = ""


WILDCARD = Etag("wildcard")


@dataclass(frozen=True)
class Conditional:
    """A parsed ``onlyIf``; dates are milliseconds since the epoch."""

    etag_matches: tuple[Etag, ...] | None = None
    etag_does_not_match: tuple[Etag, ...] | None = None
    uploaded_before: int | None = None
    uploaded_after: int | None = None
    seconds_granularity: bool = False


_FIELDS = {"etagMatches", "etagDoesNotMatch", "uploadedBefore", "uploadedAfter",
           "secondsGranularity"}  # fmt: skip


def conditional_option(value: Any) -> Conditional | None:
    """Parse ``onlyIf``: an R2Conditional dict, Headers (anything with ``.get``), or None."""
    if value is None:
        return None
    if isinstance(value, Mapping) and not hasattr(value, "getlist"):
        return _from_dict(value)
    if hasattr(value, "get"):
        return from_headers(value)
    raise JsTypeError("onlyIf must be an R2Conditional object or Headers")


def _from_dict(value: Mapping[str, Any]) -> Conditional:
    unknown = set(value) - _FIELDS
    if unknown:
        raise JsTypeError(f"Unknown onlyIf option {sorted(unknown)[0]!r}")
    granular = value.get("secondsGranularity")
    if granular is not None and not isinstance(granular, bool):
        raise JsTypeError("onlyIf.secondsGranularity must be a boolean")
    return Conditional(
        etag_matches=_single_etag(value.get("etagMatches")),
        etag_does_not_match=_single_etag(value.get("etagDoesNotMatch")),
        uploaded_before=_millis(value.get("uploadedBefore"), "uploadedBefore"),
        uploaded_after=_millis(value.get("uploadedAfter"), "uploadedAfter"),
        seconds_granularity=bool(granular),
    )


def _single_etag(value: Any) -> tuple[Etag, ...] | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise JsTypeError(f"Conditional ETag must be a string, not {type(value).__name__}")
    if value.startswith('"') and value.endswith('"'):
        raise JsTypeError(f"Conditional ETag should not be wrapped in quotes ({value}).")
    return (WILDCARD,) if value == "*" else (Etag("strong", value),)


def _millis(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return to_millis(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    raise JsTypeError(f"onlyIf.{name} must be a datetime, not {type(value).__name__}")


def to_millis(value: datetime) -> int:
    """A datetime as JS Date milliseconds (a naive datetime is taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def from_headers(headers: Any) -> Conditional:
    """The conditional request headers, as workerd reads them for ``onlyIf: Headers``."""
    matches = headers.get("if-match")
    not_matches = headers.get("if-none-match")
    etag_matches = parse_etag_header(matches) if matches is not None else None
    if etag_matches is not None and not etag_matches:
        raise JsException("Invalid ETag in if-match header")
    etag_not = parse_etag_header(not_matches) if not_matches is not None else None
    if etag_not is not None and not etag_not:
        raise JsException("Invalid ETag in if-none-match header")
    return Conditional(
        etag_matches=etag_matches,
        etag_does_not_match=etag_not,
        uploaded_before=http_date(headers.get("if-unmodified-since")),
        uploaded_after=http_date(headers.get("if-modified-since")),
        seconds_granularity=True,
    )


def http_date(value: str | None) -> int | None:
    """An HTTP date in milliseconds; an absent or unparseable date is ignored (None)."""
    if not value:
        return None
    import email.utils  # only requests with dates pay for it (it is slow to import)

    try:
        return to_millis(email.utils.parsedate_to_datetime(value))
    except (TypeError, ValueError):
        return None


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_http_date(ms: int) -> str:
    """Epoch milliseconds as an HTTP date (``Fri, 24 Feb 2023 00:00:00 GMT``), locale-free."""
    t = time.gmtime(ms // 1000)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )


def parse_etag_header(header: str) -> tuple[Etag, ...]:
    """Parse If-Match / If-None-Match like workerd: quoted strong tags, ``W/"..."`` weak tags,
    ``*`` (which overrides the rest), parsing stops at the first unrecognised character."""
    tags: list[Etag] = []
    comma_needed = False
    rest = header
    while True:
        rest = rest.lstrip(" \t")
        if not rest:
            return tuple(tags)
        head = rest[0]
        if head == ",":
            rest, comma_needed = rest[1:], False
        elif head == "*":
            if comma_needed:
                raise JsException(
                    "Comma was expected to separate etags. "
                    "Encountered a wildcard character '*' instead."
                )
            return (WILDCARD,)
        elif head in ("W", '"'):
            weak = head == "W"
            if comma_needed:
                raise JsException(
                    "Comma was expected to separate etags. Encountered a "
                    + (
                        "weak quotation character 'W' instead. This would otherwise indicate "
                        "the start of a new weak etag."
                        if weak
                        else "double quote character '\"' instead. This would otherwise "
                        "indicate the start of a new strong etag."
                    )
                )
            if weak:
                if not rest.startswith('W/"'):
                    raise JsException(
                        "Weak etags must start with W/ and their value must be quoted"
                    )
                rest = rest[3:]
            else:
                rest = rest[1:]
            close = rest.find('"')
            if close < 0:
                raise JsException("Unclosed double quote for Etag")
            tags.append(Etag("weak" if weak else "strong", rest[:close]))
            rest, comma_needed = rest[close + 1 :], True
        else:
            return tuple(tags)


def _includes(tags: tuple[Etag, ...], etag: str, weak_comparison: bool) -> bool:
    for tag in tags:
        if tag.kind == "wildcard":
            return True
        if tag.value == etag and (tag.kind == "strong" or weak_comparison):
            return True
    return False


def passes(cond: Conditional, etag: str | None, uploaded: int | None) -> bool:
    """Whether ``cond`` holds for an object (``etag``, ``uploaded`` ms), or a missing one (None)."""
    if etag is None or uploaded is None:
        return cond.etag_matches is None and cond.uploaded_after is None

    def trunc(ms: int) -> int:
        return ms // 1000 * 1000 if cond.seconds_granularity else ms

    if_match = cond.etag_matches is None or _includes(cond.etag_matches, etag, False)
    if_none_match = cond.etag_does_not_match is None or not _includes(
        cond.etag_does_not_match, etag, True
    )
    modified = trunc(uploaded)
    if_modified_since = (
        cond.uploaded_after is None
        or trunc(cond.uploaded_after) < modified
        or (cond.etag_does_not_match is not None and if_none_match)
    )
    if_unmodified_since = (
        cond.uploaded_before is None
        or modified < trunc(cond.uploaded_before)
        or (cond.etag_matches is not None and if_match)
    )
    return if_match and if_none_match and if_modified_since and if_unmodified_since
