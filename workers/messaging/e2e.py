"""End-to-end encryption between chat clients; the server never runs this code.

Each user has two key pairs: Ed25519 signs (only the authentication challenge) and X25519
agrees. A message from ``s`` to recipients ``r1..rn`` is sealed once per recipient:

    salt       = 32 random bytes, fresh for every message
    shared     = X25519(s's private key, r's public key)         (= X25519(r, s))
    key, nonce = HKDF-SHA256(shared, salt, info = CONTEXT s "\\n" r, 44 bytes) -> 32 + 12
    box_r      = ChaCha20-Poly1305(key, nonce, plaintext, aad = CONTEXT)

``encryptedData`` is the JSON text ``{"v": 1, "salt": b64, "boxes": {r: b64(box_r)}}``. The
fresh salt makes every (key, nonce) pair new, so nonces never repeat however many messages a
pair exchanges. The info binds the direction: a box ``s`` made for ``r`` does not open as one
from ``r`` to ``s``, nor for a third user. Only ``s`` and ``r`` can compute ``shared``, so a
box that opens under the sender the server names really comes from that sender (or from the
recipient itself) — a server that relabels a message makes it fail to open.

The server learns who talks to whom, when, and how long messages are (the sealed size is the
plaintext's plus 16 bytes per recipient); never the text. Not provided: forward secrecy (a
stolen X25519 private key opens every recorded message to or from its owner), deniability,
protection against replays beyond the client's own check of message ids, and protection
against a server that hands out false keys (clients pin keys on first use and refuse changes).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from workers.messaging.protocol import PROTOCOL, b64decode, b64encode

CONTEXT = f"{PROTOCOL} message\n".encode()
SALT_BYTES = 32


class CannotOpen(Exception):
    """The sealed data is not for this user, was altered, or is not from the named sender."""


def _cipher(private: Any, peer_public: bytes, salt: bytes, sender: str, recipient: str) -> Any:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    shared = private.exchange(X25519PublicKey.from_public_bytes(peer_public))
    info = b"%s%s\n%s" % (CONTEXT, sender.encode(), recipient.encode())
    material = HKDF(algorithm=hashes.SHA256(), length=44, salt=salt, info=info).derive(shared)
    return ChaCha20Poly1305(material[:32]), material[32:]


def seal(sender: str, private: Any, recipients: dict[str, bytes], plaintext: bytes) -> str:
    """``encryptedData`` for ``recipients`` (name -> X25519 public key), from ``sender`` whose
    X25519 private key is ``private``."""
    salt = secrets.token_bytes(SALT_BYTES)
    boxes = {}
    for name, public in recipients.items():
        cipher, nonce = _cipher(private, public, salt, sender, name)
        boxes[name] = b64encode(cipher.encrypt(nonce, plaintext, CONTEXT))
    return json.dumps({"v": 1, "salt": b64encode(salt), "boxes": boxes}, separators=(",", ":"))


def open_sealed(data: str, sender: str, sender_public: bytes, me: str, private: Any) -> bytes:
    """The plaintext of ``data`` sealed by ``sender`` (X25519 key ``sender_public``) for
    ``me`` (whose X25519 private key is ``private``); CannotOpen otherwise."""
    from cryptography.exceptions import InvalidTag

    try:
        envelope = json.loads(data)
        salt = b64decode(envelope["salt"])
        box = b64decode(envelope["boxes"][me])
    except (ValueError, KeyError, TypeError):
        raise CannotOpen("not sealed for this user") from None
    if envelope.get("v") != 1 or salt is None or box is None:
        raise CannotOpen("not sealed for this user")
    cipher, nonce = _cipher(private, sender_public, salt, sender, me)
    try:
        return bytes(cipher.decrypt(nonce, box, CONTEXT))
    except InvalidTag:
        raise CannotOpen(f"does not open as a message from {sender}") from None
