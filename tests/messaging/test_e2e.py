"""The clients' end-to-end construction: X25519 + HKDF-SHA256 + ChaCha20-Poly1305."""

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from workers.messaging.e2e import CannotOpen, open_sealed, seal
from workers.messaging.protocol import b64decode, b64encode


def keypair():
    private = X25519PrivateKey.generate()
    return private, private.public_key().public_bytes_raw()


def test_each_recipient_opens_their_box():
    (a, a_pub), (b, b_pub), (c, c_pub) = keypair(), keypair(), keypair()
    data = seal("alice", a, {"bob": b_pub, "carol": c_pub}, b"hello both")
    assert open_sealed(data, "alice", a_pub, "bob", b) == b"hello both"
    assert open_sealed(data, "alice", a_pub, "carol", c) == b"hello both"
    assert b"hello" not in data.encode()


def test_fresh_salt_every_message():
    (a, _), (_, b_pub) = keypair(), keypair()
    one, two = (json.loads(seal("alice", a, {"bob": b_pub}, b"same")) for _ in range(2))
    assert one["salt"] != two["salt"] and one["boxes"] != two["boxes"]


def test_a_third_user_cannot_open_it():
    (a, a_pub), (_, b_pub), (m, _) = keypair(), keypair(), keypair()
    data = seal("alice", a, {"bob": b_pub}, b"secret")
    with pytest.raises(CannotOpen):
        open_sealed(data, "alice", a_pub, "mallory", m)  # no box for mallory
    relabelled = json.loads(data)
    relabelled["boxes"]["mallory"] = relabelled["boxes"].pop("bob")
    with pytest.raises(CannotOpen):
        open_sealed(json.dumps(relabelled), "alice", a_pub, "mallory", m)


def test_a_relabelled_sender_or_direction_does_not_open():
    (a, a_pub), (b, b_pub), (_, m_pub) = keypair(), keypair(), keypair()
    data = seal("alice", a, {"bob": b_pub}, b"from alice")
    with pytest.raises(CannotOpen):
        open_sealed(data, "mallory", m_pub, "bob", b)  # the server claims another sender
    with pytest.raises(CannotOpen):
        open_sealed(data, "alice", a_pub, "alice", a)  # the reverse direction


def test_tampering_is_detected():
    (a, a_pub), (b, b_pub) = keypair(), keypair()
    envelope = json.loads(seal("alice", a, {"bob": b_pub}, b"pay 10"))
    box = bytearray(b64decode(envelope["boxes"]["bob"]) or b"")
    box[0] ^= 1
    envelope["boxes"]["bob"] = b64encode(bytes(box))
    with pytest.raises(CannotOpen):
        open_sealed(json.dumps(envelope), "alice", a_pub, "bob", b)
    with pytest.raises(CannotOpen):
        open_sealed("not json", "alice", a_pub, "bob", b)
