"""Proxy passwords at rest: sealed with AES-256-GCM under a key derived from a secret.

The key comes from the ``PROXY_CREDENTIALS_KEY`` secret (``.dev.vars``, ``--env-file``) through
HKDF-SHA256. A sealed value is ``enc1.`` + base64url(nonce ‖ ciphertext ‖ tag), with the table,
column and row as associated data, so a value copied into another row does not open. Only the
password is sealed: the ``password`` column of ``proxies``, and the password part of a profile's
proxy URL (``socks5://alice:enc1.…@host:1080``), so masked answers need no key and only writing
a password or ``launch`` revealing one does. Without the secret those answer 503 and the log
names it. A value without the prefix was stored before sealing existed: it is read as it is and
sealed when next written. Changing the secret makes sealed passwords unreadable (no rotation).
"""

from __future__ import annotations

import base64
import functools
import logging
import os
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from starlette.exceptions import HTTPException

SECRET = "PROXY_CREDENTIALS_KEY"  # noqa: S105 - the secret's name in env, not a secret
PREFIX = "enc1."
_INFO = b"hearth/profiles/proxy-credentials/v1"
_NONCE = 12

log = logging.getLogger("hearth.profiles")


class Sealer:
    """Seals and opens strings, each bound to the place (``where``) it is stored."""

    __slots__ = ("_aead",)

    def __init__(self, secret: str) -> None:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        kdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO)
        self._aead = AESGCM(kdf.derive(secret.encode()))

    def seal(self, plain: str, where: str) -> str:
        nonce = os.urandom(_NONCE)
        box = self._aead.encrypt(nonce, plain.encode(), where.encode())
        return PREFIX + base64.urlsafe_b64encode(nonce + box).rstrip(b"=").decode()

    def open(self, stored: str, where: str) -> str:
        """The plain text; a value without the prefix is returned as it is (stored earlier)."""
        if not stored.startswith(PREFIX):
            return stored
        from cryptography.exceptions import InvalidTag

        body = stored[len(PREFIX) :]
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            return self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], where.encode()).decode()
        except (InvalidTag, ValueError):
            log.error("a sealed proxy password (%s) does not open: was %s changed?", where, SECRET)
            raise HTTPException(503, "Proxy credentials cannot be decrypted") from None


@functools.lru_cache(maxsize=4)
def _sealer(secret: str) -> Sealer:
    return Sealer(secret)


def sealer(env: Any) -> Sealer:
    """The worker's sealer; 503 (and a log line naming the secret) when the secret is unset."""
    secret = getattr(env, SECRET, None)
    if not secret:
        log.error("%s is not set (.dev.vars or --env-file): proxy passwords are refused", SECRET)
        raise HTTPException(503, "Proxy credentials are not configured")
    return _sealer(str(secret))


def seal_url(url: str, keys: Sealer, where: str) -> str:
    """``url`` with its password part sealed (unchanged when it has none)."""
    return _with_password(url, lambda password: keys.seal(password, where))


def open_url(url: str, keys: Sealer, where: str) -> str:
    """``url`` with its sealed password part opened."""
    return _with_password(url, lambda password: keys.open(password, where))


def password_of(url: str) -> str:
    """The password part of ``url`` as written (sealed or not; "" when there is none)."""
    userinfo = urlsplit(url).netloc.rpartition("@")[0]
    return userinfo.partition(":")[2]


def _with_password(url: str, change: Any) -> str:
    # The userinfo is split by hand: urlsplit's ``password`` is the same text, but rebuilding
    # the netloc from its parts would lose an IPv6 host's brackets.
    parts = urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    user, colon, password = userinfo.partition(":")
    if not at or not colon:
        return url
    netloc = f"{user}:{change(password)}@{hostport}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
