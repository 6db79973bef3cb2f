"""Password hashes, cookie signatures and ids in Better Auth's exact formats."""

from __future__ import annotations

import hashlib
import re

import pytest

from bindings.testing import require_service
from tests.auth.conftest import node, node_ready
from workers.auth import crypto
from workers.auth.cookies import signed_value


def test_hash_format_and_verify():
    stored = crypto.hash_password_sync("correct horse battery staple")
    assert re.fullmatch(r"[0-9a-f]{32}:[0-9a-f]{128}", stored)
    assert crypto.verify_password_sync(stored, "correct horse battery staple")
    assert not crypto.verify_password_sync(stored, "correct horse battery stapl")


def test_salt_is_the_hex_string_not_its_bytes():
    stored = crypto.hash_password_sync("pw")
    salt_hex, key_hex = stored.split(":")
    expected = hashlib.scrypt(
        b"pw", salt=salt_hex.encode(), n=16384, r=16, p=1, dklen=64, maxmem=64 * 1024 * 1024
    )
    assert expected.hex() == key_hex


def test_password_is_nfkc_normalised():
    stored = crypto.hash_password_sync("ｐａｓｓ①word")  # noqa: RUF001 - NFKC folds these
    assert crypto.verify_password_sync(stored, "pass1word")


@pytest.mark.parametrize("bad", ["", "nocolon", ":abc", "abc:", "zz:zz"])
def test_malformed_hash_never_verifies(bad):
    assert crypto.verify_password_sync(bad, "x") is False


def test_sign_and_unsign_round_trip():
    signed = crypto.sign("s3cret", "tok")
    token, sig = signed.rsplit(".", 1)
    assert token == "tok" and len(sig) == 44 and sig.endswith("=")
    assert crypto.unsign("s3cret", signed) == "tok"
    assert crypto.unsign("other", signed) is None
    assert crypto.unsign("s3cret", signed[:-2] + "A=") is None
    assert crypto.unsign("s3cret", "tok") is None
    assert crypto.unsign("s3cret", "tok." + "A" * 44) is None  # no padding: rejected


def test_ids_are_32_alphanumerics():
    ids = {crypto.generate_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"[A-Za-z0-9]{32}", i) for i in ids)


def test_api_key_hash_is_unpadded_base64url_sha256():
    assert crypto.sha256_b64url("abc") == "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"


def test_hashes_and_signatures_match_better_auth_itself():
    require_service("node + tests/auth/js/node_modules", node_ready(), "npm ci in tests/auth/js")
    made_by_node = node("crypto-check.mjs", "hash", "made in node ①")
    assert crypto.verify_password_sync(made_by_node, "made in node 1")  # NFKC on both sides
    made_by_python = crypto.hash_password_sync("made in python")
    assert node("crypto-check.mjs", "verify", made_by_python, "made in python") == "true"
    assert node("crypto-check.mjs", "verify", made_by_python, "made in pythom") == "false"
    token = crypto.generate_id()
    from workers.auth.settings import Settings

    settings = Settings(secret="a-better-auth-secret", jwt_secret="j", base_url=None)
    assert signed_value(settings, token) == node("crypto-check.mjs", "sign", settings.secret, token)
