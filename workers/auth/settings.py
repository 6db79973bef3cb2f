"""The auth worker's settings, read once per env from its vars and secrets.

- ``BETTER_AUTH_SECRET`` (secret): HMAC key of session cookies and bearer tokens.
- ``JWT_SECRET`` (secret): HS256 key of the shop customers' access tokens.
- ``BETTER_AUTH_URL`` (var): the base URL. Its origin is trusted, and ``https://`` turns on
  ``__Secure-`` cookies. Unset, each request's own origin is used (Better Auth infers it so).
- ``BETTER_AUTH_TRUSTED_ORIGINS`` (var): more trusted origins, an array or a comma list;
  ``*``/``?`` wildcards match whole origins or hosts.
- ``AUTH_RATE_LIMIT`` (var): ``"false"`` turns sign-in rate limiting off (default on).
"""

from __future__ import annotations

import fnmatch
import re
import weakref
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

SESSION_EXPIRES_IN = 604_800  # 7 days: session lifetime and cookie Max-Age
SESSION_UPDATE_AGE = 86_400  # get-session refreshes a session issued this long ago
SESSION_FRESH_AGE = 86_400  # list-sessions needs a session younger than this
DONT_REMEMBER_EXPIRES_IN = 86_400  # rememberMe:false sessions live one day
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128
DEFAULT_ROLE = "user"
ADMIN_ROLES = frozenset({"admin"})
MIN_JWT_SECRET_BYTES = 32  # RFC 7518 §3.2: an HS256 key at least as long as the hash


class NotConfigured(Exception):
    """A secret the worker needs is missing (``.dev.vars`` not created)."""


@dataclass(frozen=True)
class Settings:
    """Everything the handlers need from the env, parsed once."""

    secret: str
    jwt_secret: str
    base_url: str | None
    trusted: tuple[str, ...] = ()
    rate_limit: bool = True
    cookie_prefix: str = "better-auth"
    secure: bool = False
    _patterns: tuple[re.Pattern[str], ...] = field(default=(), repr=False)

    def cookie(self, name: str) -> str:
        """A cookie's full name: ``better-auth.session_token`` (``__Secure-`` first over https)."""
        full = f"{self.cookie_prefix}.{name}"
        return f"__Secure-{full}" if self.secure else full

    def trusted_origins(self, request_origin: str | None) -> tuple[str, ...]:
        """The trusted origins for one request (its own when no base URL is configured)."""
        if self.base_url is None and request_origin:
            return (request_origin, *self.trusted)
        return self.trusted

    def is_trusted(self, url: str, request_origin: str | None = None) -> bool:
        """Whether ``url``'s origin is trusted: exact origin equality, or a wildcard pattern."""
        origin = origin_of(url)
        if origin is None:
            return False
        if origin in self.trusted_origins(request_origin):
            return True
        host = urlsplit(origin).netloc
        return any(p.fullmatch(origin) or p.fullmatch(host) for p in self._patterns)


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an absolute http(s) URL, as ``new URL(url).origin``."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    default = 443 if parts.scheme == "https" else 80
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v).strip() for v in value if str(v).strip()]


def from_env(env: Any) -> Settings:
    """Read the settings from a worker's env; NotConfigured when a secret is missing."""
    secret = getattr(env, "BETTER_AUTH_SECRET", None)
    jwt_secret = getattr(env, "JWT_SECRET", None)
    missing = [n for n, v in (("BETTER_AUTH_SECRET", secret), ("JWT_SECRET", jwt_secret)) if not v]
    if missing:
        raise NotConfigured(
            f"{' and '.join(missing)} not set: add {'them' if len(missing) > 1 else 'it'} to "
            ".dev.vars beside the config (`make dev` creates one from .dev.vars.example)"
        )
    if len(str(jwt_secret).encode()) < MIN_JWT_SECRET_BYTES:
        raise NotConfigured(f"JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes (HS256 key)")
    base_url = getattr(env, "BETTER_AUTH_URL", None) or None
    trusted: list[str] = []
    patterns: list[re.Pattern[str]] = []
    if base_url:
        origin = origin_of(base_url)
        if origin:
            trusted.append(origin)
    for entry in _list(getattr(env, "BETTER_AUTH_TRUSTED_ORIGINS", None)):
        if "*" in entry or "?" in entry:
            patterns.append(re.compile(fnmatch.translate(entry.lower())))
        elif origin := origin_of(entry):
            trusted.append(origin)
    rate_limit = str(getattr(env, "AUTH_RATE_LIMIT", "true")).lower() not in ("false", "0", "off")
    return Settings(
        secret=str(secret),
        jwt_secret=str(jwt_secret),
        base_url=base_url,
        trusted=tuple(trusted),
        rate_limit=rate_limit,
        secure=bool(base_url and base_url.startswith("https://")),
        _patterns=tuple(patterns),
    )


_cache: weakref.WeakKeyDictionary[Any, Settings] = weakref.WeakKeyDictionary()


def settings(env: Any) -> Settings:
    """``from_env`` cached per env object (an env lives as long as its runtime)."""
    try:
        return _cache[env]
    except KeyError:
        value = _cache[env] = from_env(env)
        return value
