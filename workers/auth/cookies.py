"""Better Auth's cookies: names, attributes, signed values, and clearing.

A signed value is ``encodeURIComponent(token + "." + base64(HMAC-SHA256(secret, token)))``;
attributes are serialised in better-call's order (``Max-Age; Path=/; HttpOnly; Secure;
SameSite=Lax``). A cookie whose signature does not verify is treated as absent.
"""

from __future__ import annotations

from urllib.parse import quote, unquote

from workers.auth.crypto import sign, unsign
from workers.auth.settings import SESSION_EXPIRES_IN, Settings

SESSION_TOKEN = "session_token"  # noqa: S105 - a cookie name
SESSION_DATA = "session_data"
DONT_REMEMBER = "dont_remember"

_URI_SAFE = "-_.!~*'()"  # what encodeURIComponent leaves alone


def parse_cookie_header(header: str | None) -> dict[str, str]:
    """Cookie name → raw value (first one wins, as the cookie spec's most specific path)."""
    out: dict[str, str] = {}
    if not header:
        return out
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name and name not in out:
            out[name] = value.strip().strip('"')
    return out


def serialize(
    settings: Settings, name: str, value: str, max_age: int | None, *, http_only: bool = True
) -> str:
    """One Set-Cookie value for ``name`` (a short name such as ``session_token``)."""
    parts = [f"{settings.cookie(name)}={value}"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    parts.append("Path=/")
    if http_only:
        parts.append("HttpOnly")
    if settings.secure:
        parts.append("Secure")
    parts.append("SameSite=Lax")
    return "; ".join(parts)


def signed_value(settings: Settings, token: str) -> str:
    """The URI-encoded signed value of a cookie holding ``token``."""
    return quote(sign(settings.secret, token), safe=_URI_SAFE)


def read_signed(settings: Settings, cookies: dict[str, str], name: str) -> str | None:
    """The verified token of a signed cookie, or None when absent or tampered with."""
    raw = cookies.get(settings.cookie(name))
    if not raw:
        return None
    return unsign(settings.secret, unquote(raw))


def session_cookies(settings: Settings, token: str, *, dont_remember: bool) -> list[str]:
    """Set-Cookie values for a new or refreshed session (and its dont_remember marker)."""
    max_age = None if dont_remember else SESSION_EXPIRES_IN
    out = [serialize(settings, SESSION_TOKEN, signed_value(settings, token), max_age)]
    if dont_remember:
        out.append(serialize(settings, DONT_REMEMBER, signed_value(settings, "true"), None))
    return out


def clearing_cookies(settings: Settings) -> list[str]:
    """The three expiring Set-Cookie values of sign-out."""
    return [serialize(settings, n, "", 0) for n in (SESSION_TOKEN, SESSION_DATA, DONT_REMEMBER)]
