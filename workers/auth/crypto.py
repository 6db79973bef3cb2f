"""Secrets and hashes in Better Auth's exact formats: scrypt passwords, HMAC-signed cookies, ids.

Password hashes are ``"<salthex32>:<keyhex128>"``: scrypt N=16384, r=16, p=1, dkLen=64 over the
NFKC-normalised password, with the *hex string* of 16 random bytes as the salt (its ASCII bytes,
not the decoded bytes) — what ``better-auth/crypto`` writes, so hashes move both ways.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import string
import unicodedata

SCRYPT_N = 16384
SCRYPT_R = 16
SCRYPT_P = 1
SCRYPT_DKLEN = 64
SCRYPT_MAXMEM = 128 * SCRYPT_N * SCRYPT_R * 2  # 64 MiB: OpenSSL's 32 MiB default is too small

ID_ALPHABET = string.ascii_letters + string.digits
ID_LENGTH = 32
SIGNATURE_LENGTH = 44  # base64 of a SHA-256 HMAC, with its one "=" of padding


def generate_id(length: int = ID_LENGTH, alphabet: str = ID_ALPHABET) -> str:
    """A random id or session token: ``length`` characters of ``alphabet`` (default [A-Za-z0-9])."""
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _scrypt(password: str, salt_hex: str) -> bytes:
    return hashlib.scrypt(
        unicodedata.normalize("NFKC", password).encode(),
        salt=salt_hex.encode(),
        n=SCRYPT_N,
        r=SCRYPT_R,
        p=SCRYPT_P,
        dklen=SCRYPT_DKLEN,
        maxmem=SCRYPT_MAXMEM,
    )


def hash_password_sync(password: str) -> str:
    """Hash ``password`` as Better Auth does (blocking, ~50 ms of CPU)."""
    salt_hex = secrets.token_hex(16)
    return f"{salt_hex}:{_scrypt(password, salt_hex).hex()}"


def verify_password_sync(stored: str, password: str) -> bool:
    """Check ``password`` against a ``salt:key`` hash in constant time (False if malformed)."""
    salt_hex, sep, key_hex = stored.partition(":")
    if not sep or not salt_hex or not key_hex:
        return False
    return hmac.compare_digest(_scrypt(password, salt_hex).hex(), key_hex.lower())


async def hash_password(password: str) -> str:
    """``hash_password_sync`` off the event loop (hashlib.scrypt releases the GIL)."""
    return await asyncio.to_thread(hash_password_sync, password)


async def verify_password(stored: str, password: str) -> bool:
    """``verify_password_sync`` off the event loop."""
    return await asyncio.to_thread(verify_password_sync, stored, password)


def hmac_signature(secret: str, value: str) -> str:
    """Padded standard base64 of HMAC-SHA256(secret, value): better-call's cookie signature."""
    digest = hmac.new(secret.encode(), value.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def sign(secret: str, token: str) -> str:
    """``token.signature``: the (not yet URI-encoded) value of a signed cookie or bearer token."""
    return f"{token}.{hmac_signature(secret, token)}"


def unsign(secret: str, signed: str) -> str | None:
    """The token inside a ``token.signature`` value, or None when the signature does not match."""
    token, sep, signature = signed.rpartition(".")
    if not sep or len(signature) != SIGNATURE_LENGTH or not signature.endswith("="):
        return None
    if not hmac.compare_digest(signature, hmac_signature(secret, token)):
        return None
    return token


def sha256_hex(value: str) -> str:
    """Hex SHA-256 of a UTF-8 string (how refresh tokens are stored)."""
    return hashlib.sha256(value.encode()).hexdigest()


def sha256_b64url(value: str) -> str:
    """Unpadded base64url SHA-256 (how Better Auth's api-key plugin stores keys)."""
    digest = hashlib.sha256(value.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def equal(a: str, b: str) -> bool:
    """Constant-time string comparison."""
    return hmac.compare_digest(a.encode(), b.encode())
