"""Whether a response may be stored and for how long: HTTP caching rules for a shared cache.

The rules are those Miniflare applies through ``http-cache-semantics`` (RFC 7234, shared cache),
as Cloudflare's edge does for ``cache.put``:

* the request's own Cache-Control is ignored; a request carrying ``Authorization`` is stored
  only when the response says ``public``, ``s-maxage`` or ``must-revalidate``;
* ``no-store``, ``private`` and ``Set-Cookie`` make a response unstorable, except that
  ``private=set-cookie`` is dropped from Cache-Control together with the Set-Cookie headers;
* the lifetime is ``s-maxage``, else ``max-age``, else ``Expires`` minus ``Date`` (or now),
  else 10 % of the time since ``Last-Modified``, minus ``Age``; ``no-cache``,
  ``proxy-revalidate``, ``Pragma: no-cache`` or no freshness information at all give 0,
  which stores nothing (a later match misses).

One deliberate difference from ``http-cache-semantics``: ``stale-while-revalidate`` and
``stale-if-error`` do not lengthen the entry's life, because workerd treats the edge's
stale answers (``UPDATING``/``EXPIRED``) as misses, so ``match`` never returns them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

# Statuses http-cache-semantics understands well enough to store, and those storable by default.
UNDERSTOOD_STATUSES = frozenset(
    {200, 203, 204, 300, 301, 302, 303, 307, 308, 404, 405, 410, 414, 501}
)
CACHEABLE_BY_DEFAULT = frozenset({200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501})
# Not stored with the entry (RFC 7230 §6.1 hop-by-hop headers, plus those Connection names).
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
     "transfer-encoding", "upgrade"}
)  # fmt: skip
HEURISTIC_FRACTION = 0.1  # of the time since Last-Modified (RFC 7234 §4.2.2)
IMMUTABLE_MIN_TTL = 24 * 3600.0  # http-cache-semantics' default floor for `immutable`

_IMF_FIXDATE = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d\d:\d\d:\d\d GMT"
)


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome for one put: store ``headers`` for ``ttl`` seconds, or not at all."""

    storable: bool
    ttl: float
    headers: list[tuple[str, str]]


def parse_cache_control(value: str | None) -> dict[str, str | None]:
    """Cache-Control directives, names lower-cased; a directive without ``=`` maps to None."""
    directives: dict[str, str | None] = {}
    for part in (value or "").split(","):
        name, eq, arg = part.partition("=")
        name = name.strip().lower()
        if name:
            directives[name] = arg.strip().strip('"') if eq else None
    return directives


def delta_seconds(value: str | None) -> float:
    """A delta-seconds value (``max-age=60``, ``Age: 3``); anything unparsable counts as 0."""
    try:
        return max(0.0, float(value or 0))
    except ValueError:
        return 0.0


def http_date(value: str | None) -> float | None:
    """Seconds since the epoch of an HTTP date in any format RFC 7231 allows, else None."""
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def imf_fixdate(value: str | None) -> float | None:
    """Like ``http_date`` but only the exact IMF-fixdate form, as conditional matches require."""
    if value is None or not _IMF_FIXDATE.fullmatch(value):
        return None
    return http_date(value)


def decide(
    status: int,
    headers: Iterable[tuple[str, str]],
    *,
    authorized: bool,
    now: float,
) -> Decision:
    """Apply the shared-cache rules to a response about to be put; ``headers`` are lower-cased."""
    kept: list[tuple[str, str]] = []
    single: dict[str, str] = {}
    has_cookie = False
    for name, value in headers:
        if name == "set-cookie":
            has_cookie = True
        else:
            single[name] = f"{single[name]}, {value}" if name in single else value
        kept.append((name, value))

    cc = parse_cache_control(single.get("cache-control"))
    if cc.get("private") == "set-cookie":
        # Cloudflare strips the cookie and caches the rest.
        del cc["private"]
        has_cookie = False
        rest = ", ".join(k if v is None else f"{k}={v}" for k, v in cc.items())
        kept = [(k, v) for k, v in kept if k not in ("set-cookie", "cache-control")]
        if rest:
            kept.append(("cache-control", rest))

    connection = {t.strip().lower() for t in single.get("connection", "").split(",")}
    kept = [(k, v) for k, v in kept if k not in HOP_BY_HOP and k not in connection]

    storable = (
        status in UNDERSTOOD_STATUSES
        and "no-store" not in cc
        and "private" not in cc
        and not has_cookie
        and (not authorized or any(d in cc for d in ("must-revalidate", "public", "s-maxage")))
        and (
            "expires" in single
            or any(d in cc for d in ("max-age", "s-maxage", "public"))
            or status in CACHEABLE_BY_DEFAULT
        )
    )
    if not storable:
        return Decision(False, 0.0, kept)
    ttl = _lifetime(cc, single, now) - delta_seconds(single.get("age"))
    return Decision(True, max(0.0, ttl), kept)


def _lifetime(cc: dict[str, str | None], single: dict[str, str], now: float) -> float:
    if "no-cache" in cc or "proxy-revalidate" in cc:
        return 0.0
    if "cache-control" not in single and "no-cache" in single.get("pragma", ""):
        return 0.0
    if "s-maxage" in cc:
        return delta_seconds(cc["s-maxage"])
    if "max-age" in cc:
        return delta_seconds(cc["max-age"])
    floor = IMMUTABLE_MIN_TTL if "immutable" in cc else 0.0
    server_date = http_date(single.get("date")) or now
    if "expires" in single:
        expires = http_date(single["expires"])
        if expires is None or expires < server_date:
            return 0.0  # an invalid Expires (such as "0") means already expired
        return max(floor, expires - server_date)
    last_modified = http_date(single.get("last-modified"))
    if last_modified is not None and server_date > last_modified:
        return max(floor, (server_date - last_modified) * HEURISTIC_FRACTION)
    return floor
