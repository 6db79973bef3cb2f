"""Registered keys (Ed25519 raw or SPKI, P-256 SPKI, X25519) and checking signatures."""

import base64

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from workers.messaging.keys import (
    ED25519,
    P256,
    InvalidKey,
    parse_encryption_key,
    parse_public_key,
    verify,
)
from workers.messaging.protocol import AUTH_CONTEXT, auth_message, b64decode

SPKI = (Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_ed25519_raw_and_spki_are_the_same_key():
    private = ed25519.Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes_raw()
    assert parse_public_key(b64(raw)).data == raw
    spki = parse_public_key(b64(private.public_key().public_bytes(*SPKI)))
    assert spki.kind == ED25519 and spki.data == raw  # stored canonically, as the raw bytes
    urlsafe = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert parse_public_key(urlsafe).data == raw


def test_p256_spki_signatures_in_der_and_webcrypto_form():
    private = ec.generate_private_key(ec.SECP256R1())
    key = parse_public_key(b64(private.public_key().public_bytes(*SPKI)))
    assert key.kind == P256
    der = private.sign(b"message", ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")  # what WebCrypto's sign() returns
    assert verify(key, der, b"message") and verify(key, raw, b"message")
    assert not verify(key, raw, b"other message")
    assert not verify(key, b"\0" * 64, b"message")


def test_ed25519_signatures():
    private = ed25519.Ed25519PrivateKey.generate()
    key = parse_public_key(b64(private.public_key().public_bytes_raw()))
    assert verify(key, private.sign(b"m"), b"m")
    assert not verify(key, private.sign(b"m"), b"n")
    other = ed25519.Ed25519PrivateKey.generate()
    assert not verify(key, other.sign(b"m"), b"m")


@pytest.mark.parametrize(
    "text",
    [
        "not base64!",
        b64(b"\x01" * 31),  # too short for a raw key, not a DER structure
        b64(ec.generate_private_key(ec.SECP384R1()).public_key().public_bytes(*SPKI)),
        b64(x25519.X25519PrivateKey.generate().public_key().public_bytes(*SPKI)),
        "-----BEGIN PUBLIC KEY-----",
        None,
        42,
    ],
)
def test_other_keys_are_refused(text):
    with pytest.raises(InvalidKey):
        parse_public_key(text)


@pytest.mark.parametrize(
    "raw",
    [
        b"\x01" + b"\0" * 31,  # the identity: any message verifies with R = identity, S = 0
        b"\0" * 32,  # order 4
        bytes.fromhex(
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"
        ),  # order 2
        bytes.fromhex(
            "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"
        ),  # order 8
        b"\xff" * 32,  # not canonical
    ],
)
def test_weak_ed25519_keys_are_refused(raw):
    # OpenSSL itself accepts the trivial forgery for the identity key:
    if raw == b"\x01" + b"\0" * 31:
        ed25519.Ed25519PublicKey.from_public_bytes(raw).verify(raw + b"\0" * 32, b"anything")
    with pytest.raises(InvalidKey):
        parse_public_key(b64(raw))


def test_encryption_keys():
    raw = x25519.X25519PrivateKey.generate().public_key().public_bytes_raw()
    assert parse_encryption_key(b64(raw)) == raw
    for bad in (b64(b"\0" * 32), b64(raw[:31]), "nope", None):
        with pytest.raises(InvalidKey):
            parse_encryption_key(bad)


def test_the_signed_bytes_are_domain_separated_and_bind_host_name_and_challenge():
    challenge = bytes(range(32))
    message = auth_message("Chat.Example.ORG", "alice", challenge)
    assert message == AUTH_CONTEXT + b"chat.example.org\nalice\n" + challenge
    assert message.startswith(b"hearth-messaging-v1 authenticate\n")
    assert auth_message("other.org", "alice", challenge) != message


def test_b64decode_is_strict_about_the_alphabet():
    assert b64decode("aGk=") == b"hi" and b64decode("aGk") == b"hi"
    assert b64decode("a$Gk") is None and b64decode(7) is None
