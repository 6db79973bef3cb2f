"""Better Auth's CSRF defences: the Origin check on cookie-bearing writes, and sign-in's
Fetch-Metadata check, with trusted origins from the settings.

Only a request that carries a ``Cookie`` header is origin-checked (a bearer-token client with no
cookies is not a CSRF vector); sign-in and sign-up also check requests without cookies when a
browser says where they come from (``Sec-Fetch-*``, ``Origin``, ``Referer``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import Headers

from workers.auth.errors import APIError, api_error
from workers.auth.settings import Settings, origin_of

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# A same-site relative path: "/x", never "//host" or "/\host" (open redirects).
_SAFE_RELATIVE = re.compile(
    r"^/(?!/|\\|%2f|%5c)[\w\-.+/@~%]*(?:\?[\w\-.+/=&%@~]*)?(?:#[\w\-]*)?$", re.I
)
_CALLBACKS = (
    ("callbackURL", "INVALID_CALLBACK_URL", "Invalid callbackURL"),
    ("redirectTo", "INVALID_REDIRECT_URL", "Invalid redirectURL"),
    ("errorCallbackURL", "INVALID_ERROR_CALLBACK_URL", "Invalid errorCallbackURL"),
    ("newUserCallbackURL", "INVALID_NEW_USER_CALLBACK_URL", "Invalid newUserCallbackURL"),
)


def request_origin(headers: Headers, scheme: str) -> str | None:
    """The request's own origin (``scheme://Host``), used when no base URL is configured."""
    host = headers.get("host")
    return origin_of(f"{scheme}://{host}") if host else None


def validate_origin(headers: Headers, settings: Settings, own: str | None, *, force: bool) -> None:
    """Better Auth's ``validateOrigin``: Origin (else Referer) must be trusted."""
    if not (force or "cookie" in headers):
        return
    origin = headers.get("origin")
    value = origin or headers.get("referer") or ""
    if origin == "null" and headers.get("sec-fetch-site") == "same-origin" and own:
        value = own
    if not value or value == "null":
        raise api_error(403, "MISSING_OR_NULL_ORIGIN")
    if not settings.is_trusted(value, own):
        raise api_error(403, "INVALID_ORIGIN")


def validate_form_csrf(headers: Headers, settings: Settings, own: str | None) -> None:
    """sign-in/sign-up: with cookies the origin rule; else Fetch Metadata, else Origin/Referer."""
    if "cookie" in headers:
        validate_origin(headers, settings, own, force=False)
        return
    site = headers.get("sec-fetch-site", "").strip()
    mode = headers.get("sec-fetch-mode", "").strip()
    dest = headers.get("sec-fetch-dest", "").strip()
    if site or mode or dest:
        if site == "cross-site" and mode == "navigate":
            raise api_error(403, "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED")
        validate_origin(headers, settings, own, force=True)
    elif headers.get("origin") or headers.get("referer"):
        validate_origin(headers, settings, own, force=True)


def is_safe_redirect(url: str, settings: Settings, own: str | None) -> bool:
    """A trusted absolute URL or a safe relative path."""
    if url.startswith("/"):
        return bool(_SAFE_RELATIVE.match(url))
    return settings.is_trusted(url, own)


def validate_callbacks(
    body: Any, query: Mapping[str, str], settings: Settings, own: str | None
) -> None:
    """callbackURL / redirectTo / ... must be trusted or safe relative (403 otherwise)."""
    source = body if isinstance(body, dict) else {}
    for field, code, message in _CALLBACKS:
        value = source.get(field) or (query.get(field) if field == "callbackURL" else None)
        if not value:
            continue
        if not isinstance(value, str):
            raise APIError(400, f"Invalid {field}: expected a string")
        if not is_safe_redirect(value, settings, own):
            raise APIError(403, message, code)
