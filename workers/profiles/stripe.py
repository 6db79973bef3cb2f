"""Stripe webhook signatures, as Stripe's libraries check them.

``Stripe-Signature: t=1700000000,v1=<hex>,v1=<hex>,v0=...``: the signed payload is
``"{t}.{raw body}"``, each ``v1`` a hex HMAC-SHA256 of it keyed with the endpoint's secret
(``whsec_...``, used as it is). Any one ``v1`` matching is enough (Stripe sends two while a
secret is being rolled); comparison is constant-time; ``v0`` and unknown schemes are ignored.
The timestamp must be within ``TOLERANCE_S`` of now, either way.
"""

from __future__ import annotations

import hashlib
import hmac

TOLERANCE_S = 300
SCHEME = "v1"


class SignatureError(ValueError):
    """The payload is not proven to come from Stripe; the message says why."""


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """The ``v1`` signature of ``payload`` at ``timestamp`` (also what tests send)."""
    signed = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def verify(
    payload: bytes, header: str | None, secret: str, now: float, tolerance: int = TOLERANCE_S
) -> int:
    """Check ``header`` against ``payload``; returns its timestamp or raises SignatureError."""
    if not header:
        raise SignatureError("Missing Stripe-Signature header")
    timestamp: int | None = None
    candidates: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise SignatureError("Malformed Stripe-Signature timestamp") from None
        elif key == SCHEME and value:
            candidates.append(value)
    if timestamp is None:
        raise SignatureError("Stripe-Signature has no timestamp")
    if not candidates:
        raise SignatureError("Stripe-Signature has no v1 signature")
    expected = sign(payload, secret, timestamp)
    # Compare against every candidate (no early exit), each in constant time.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise SignatureError("No signature matches the payload")
    if abs(now - timestamp) > tolerance:
        raise SignatureError("Timestamp outside the tolerance zone")
    return timestamp
