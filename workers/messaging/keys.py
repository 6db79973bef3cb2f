"""Public keys users register, and checking signatures made with them (``cryptography``).

A user registers a signing key (``publicKey``), which proves who is on a socket, and may
register an X25519 key (``encryptionKey``), which clients use to encrypt to each other:

- ``publicKey``: Ed25519, as the raw 32 bytes or as a DER SubjectPublicKeyInfo; or P-256
  (ECDSA with SHA-256) as a DER SubjectPublicKeyInfo, which is what WebCrypto's
  ``exportKey("spki")`` gives. Base64 (standard or URL-safe) either way. Stored canonically:
  Ed25519 as its raw bytes, P-256 as its SPKI.
- Signatures: Ed25519's 64 bytes; P-256 as raw ``r || s`` (64 bytes, WebCrypto's format) or DER.
- ``encryptionKey``: X25519, the raw 32 bytes.

``cryptography`` is imported on first use, so the server starts without it.
"""

from __future__ import annotations

from dataclasses import dataclass

from workers.messaging.protocol import b64decode, b64encode

ED25519, P256 = "ed25519", "p256"


class InvalidKey(ValueError):
    """A key that is not one of the accepted kinds; the message says what is accepted."""


@dataclass(frozen=True)
class PublicKey:
    kind: str  # ED25519 | P256
    data: bytes  # raw (Ed25519) or DER SPKI (P-256)

    @property
    def text(self) -> str:
        return b64encode(self.data)


def parse_public_key(text: object) -> PublicKey:
    """A registered signing key from its base64 text, or InvalidKey."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        PublicFormat,
        load_der_public_key,
    )

    data = b64decode(text)
    if data is None:
        raise InvalidKey("publicKey must be base64")
    if len(data) == 32:
        return _ed25519(data)
    try:
        key = load_der_public_key(data)
    except (ValueError, TypeError):
        key = None
    if isinstance(key, ed25519.Ed25519PublicKey):
        return _ed25519(key.public_bytes(Encoding.Raw, PublicFormat.Raw))
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return PublicKey(P256, data)
    raise InvalidKey(
        "publicKey must be an Ed25519 key (raw 32 bytes or SPKI) or a P-256 SPKI, in base64"
    )


def parse_encryption_key(text: object) -> bytes:
    """A registered X25519 key (raw 32 bytes, base64), or InvalidKey."""
    from cryptography.hazmat.primitives.asymmetric import x25519

    data = b64decode(text)
    if data is None or len(data) != 32:
        raise InvalidKey("encryptionKey must be an X25519 key: 32 bytes in base64")
    try:  # a small-order point makes every shared secret zero, which OpenSSL refuses
        x25519.X25519PrivateKey.generate().exchange(x25519.X25519PublicKey.from_public_bytes(data))
    except ValueError:
        raise InvalidKey("encryptionKey is a weak X25519 key (small order)") from None
    return data


def _ed25519(raw: bytes) -> PublicKey:
    """A raw Ed25519 key, refused when it is not a canonical point of large order: OpenSSL
    accepts trivial signatures for small-order keys (the identity verifies ``R = 1, S = 0``
    for any message), so such a key would let anyone sign in as its owner."""
    point = _decode_point(raw)
    if point is None:
        raise InvalidKey("publicKey is not a valid Ed25519 point")
    for _ in range(3):  # [8]P: the identity exactly when P's order divides the cofactor
        point = _add(point, point)
    x, y, z, _t = point
    if x % _P == 0 and (y - z) % _P == 0:
        raise InvalidKey("publicKey is a weak Ed25519 key (small order)")
    return PublicKey(ED25519, raw)


# Edwards25519 arithmetic (RFC 8032, section 5.1), only to check a key's order.
_P = 2**255 - 19
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)
Point = tuple[int, int, int, int]  # extended coordinates X, Y, Z, T


def _decode_point(raw: bytes) -> Point | None:
    y = int.from_bytes(raw, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    if y >= _P:
        return None  # not canonical
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P or (x == 0 and sign):
        return None  # not on the curve
    if x & 1 != sign:
        x = _P - x
    return x, y, 1, x * y % _P


def _add(a: Point, b: Point) -> Point:
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    m, n = (y1 - x1) * (y2 - x2) % _P, (y1 + x1) * (y2 + x2) % _P
    c, dd = t1 * 2 * _D * t2 % _P, z1 * 2 * z2 % _P
    e, f, g, h = n - m, dd - c, dd + c, n + m
    return e * f % _P, g * h % _P, f * g % _P, e * h % _P


def verify(key: PublicKey, signature: bytes, message: bytes) -> bool:
    """True when ``signature`` over ``message`` was made with ``key``'s private half."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    try:
        if key.kind == ED25519:
            ed25519.Ed25519PublicKey.from_public_bytes(key.data).verify(signature, message)
            return True
        public = load_der_public_key(key.data)
        assert isinstance(public, ec.EllipticCurvePublicKey), "registered keys are validated"
        if len(signature) == 64:  # WebCrypto's r || s
            r, s = int.from_bytes(signature[:32]), int.from_bytes(signature[32:])
            signature = encode_dss_signature(r, s)
        public.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        return True
    except (InvalidSignature, ValueError):
        return False
