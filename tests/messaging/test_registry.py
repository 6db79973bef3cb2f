"""The registry over HTTP, in-process: names, keys, 409, rate limits, lookups and CORS."""

import base64

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from bindings.clock import ManualClock
from tests.conftest import ROOT
from tests.messaging.conftest import messaging_config
from workers.messaging.registry import Registry


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def ed_key() -> str:
    return b64(ed25519.Ed25519PrivateKey.generate().public_key().public_bytes_raw())


def x_key() -> str:
    return b64(x25519.X25519PrivateKey.generate().public_key().public_bytes_raw())


@pytest.fixture
async def client(hearth):
    h = await hearth(messaging_config(REGISTRATIONS_PER_HOUR=1000))
    return h.SELF


async def test_register_then_look_up(client):
    key, enc = ed_key(), x_key()
    r = await client.post("/api/register", json={"username": "alice", "publicKey": key,
                                                 "encryptionKey": enc})  # fmt: skip
    assert r.status_code == 201 and r.json()["success"] is True
    r = await client.get("/api/users", params={"username": "alice"})
    assert r.status_code == 200
    user = r.json()
    assert user["username"] == "alice" and user["publicKey"] == key
    assert user["encryptionKey"] == enc and user["keyType"] == "ed25519"
    assert user["registeredAt"].endswith("Z") and user["lastSeen"] == user["registeredAt"]


async def test_a_taken_name_is_409(client):
    body = {"username": "bob", "publicKey": ed_key()}
    assert (await client.post("/api/register", json=body)).status_code == 201
    again = await client.post("/api/register", json={"username": "bob", "publicKey": ed_key()})
    assert again.status_code == 409 and again.json() == {"error": "User already exists"}


@pytest.mark.parametrize(
    "name", ["ab", "x" * 33, "Alice", "al ice", "al-ice", "ålice", "", 7, None]
)
async def test_usernames_are_3_to_32_of_a_z_0_9_underscore(client, name):
    r = await client.post("/api/register", json={"username": name, "publicKey": ed_key()})
    assert r.status_code == 400 and "3-32 characters" in r.json()["error"]


async def test_ok_names(client):
    for name in ("abc", "x" * 32, "a_1_b"):
        r = await client.post("/api/register", json={"username": name, "publicKey": ed_key()})
        assert r.status_code == 201


async def test_p256_spki_keys_register(client):
    spki = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    )
    r = await client.post("/api/register", json={"username": "pat", "publicKey": b64(spki)})
    assert r.status_code == 201 and r.json()["user"]["keyType"] == "p256"
    assert r.json()["user"]["encryptionKey"] is None


@pytest.mark.parametrize(
    "body, error",
    [
        ({"username": "kim", "publicKey": "AAAA"}, "publicKey must be"),
        ({"username": "kim", "publicKey": b64(b"\0" * 32)}, "weak Ed25519 key"),
        ({"username": "kim"}, "publicKey must be base64"),
        ({"username": "kim", "publicKey": ed_key(), "encryptionKey": "AAAA"}, "encryptionKey"),
    ],
)
async def test_bad_keys_are_400(client, body, error):
    r = await client.post("/api/register", json=body)
    assert r.status_code == 400 and error in r.json()["error"]
    assert (await client.get("/api/users", params={"username": "kim"})).status_code == 404


async def test_bad_bodies(client):
    as_json = {"content-type": "application/json"}
    r = await client.post("/api/register", content=b"{nope", headers=as_json)
    assert r.status_code == 400 and r.json() == {"error": "Malformed JSON body"}
    r = await client.post("/api/register", content=b'{"username": "x"}')
    assert r.status_code == 415  # a form post cannot pass for JSON (no CSRF via simple requests)
    assert (await client.post("/api/register", json=["a"])).status_code == 400
    r = await client.post("/api/register", content=b"x" * 9000, headers=as_json)
    assert r.status_code == 413
    assert (await client.get("/api/register")).status_code == 405


async def test_lookups(client):
    r = await client.get("/api/users")
    assert r.status_code == 400 and r.json() == {"error": "Username required"}
    r = await client.get("/api/users", params={"username": "nobody"})
    assert r.status_code == 404 and r.json() == {"error": "User not found"}
    assert (await client.get("/api/users", params={"username": "../etc"})).status_code == 404


async def test_registration_is_rate_limited_per_address(hearth, monkeypatch):
    clock = ManualClock(1_000_000.0)
    monkeypatch.setattr(Registry, "clock", staticmethod(clock))
    h = await hearth(messaging_config(REGISTRATIONS_PER_HOUR=3))
    for i in range(3):  # invalid attempts count too: the limit is on trying
        body = {"username": f"user{i}", "publicKey": ed_key() if i else "bad"}
        assert (await h.SELF.post("/api/register", json=body)).status_code in (201, 400)
    r = await h.SELF.post("/api/register", json={"username": "user9", "publicKey": ed_key()})
    assert r.status_code == 429 and int(r.headers["retry-after"]) == 3600
    clock.advance(1800)
    r = await h.SELF.post("/api/register", json={"username": "user9", "publicKey": ed_key()})
    assert r.status_code == 429 and int(r.headers["retry-after"]) == 1800
    # Another address has its own allowance.
    transport = httpx.ASGITransport(app=h.host, client=("192.0.2.7", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://x") as other:
        body = {"username": "user8", "publicKey": ed_key()}
        assert (await other.post("/api/register", json=body)).status_code == 201
    clock.advance(1800)
    r = await h.SELF.post("/api/register", json={"username": "user9", "publicKey": ed_key()})
    assert r.status_code == 201


async def test_cors_from_the_allowlist(client):
    allowed = {"origin": "http://allowed.test", "access-control-request-method": "POST",
               "access-control-request-headers": "content-type"}  # fmt: skip
    r = await client.options("/api/register", headers=allowed)
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "http://allowed.test"
    assert "POST" in r.headers["access-control-allow-methods"]
    denied = {**allowed, "origin": "http://evil.test"}
    r = await client.options("/api/register", headers=denied)
    assert r.status_code == 400 and "access-control-allow-origin" not in r.headers
    r = await client.get(
        "/api/users", params={"username": "x"}, headers={"origin": "http://allowed.test"}
    )
    assert r.headers["access-control-allow-origin"] == "http://allowed.test"
    r = await client.get(
        "/api/users", params={"username": "x"}, headers={"origin": "http://evil.test"}
    )
    assert "access-control-allow-origin" not in r.headers


async def test_the_project_config_routes_the_messaging_worker(hearth):
    h = await hearth(ROOT / "wrangler_compat.toml")
    assert (await h.SELF.get("/api/users")).json() == {"error": "Username required"}
    r = await h.SELF.options("/api/register", headers={
        "origin": "http://localhost:8787", "access-control-request-method": "POST"})  # fmt: skip
    assert r.headers["access-control-allow-origin"] == "http://localhost:8787"
