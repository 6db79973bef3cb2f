"""API keys: the plugin's paths and shapes, hashed storage, scopes, per-key limits, last use."""

from __future__ import annotations

import re

import pytest

from bindings.clock import ManualClock
from tests.auth.conftest import NOW, USER
from tests.auth.test_identify import SHOP_WORKER
from workers.auth.crypto import sha256_b64url


@pytest.fixture
async def a(auth):
    a = await auth(vars={"AUTH_RATE_LIMIT": "false"}, extra=SHOP_WORKER, clock=ManualClock(NOW))
    a.owner = await a.user(*USER, name="User")
    _, a.cookie = await a.sign_in(*USER)
    return a


async def create(a, **body):
    response = await a.post("/api/auth/api-key/create", body, cookie=a.cookie)
    assert response.status_code == 200, response.text
    return response.json()


async def test_create_shows_the_secret_once_and_stores_its_hash(a):
    key = await create(a, name="ci", prefix="hk_", expiresIn=86_400 * 30, metadata={"env": "ci"})
    assert re.fullmatch(r"hk_[A-Za-z]{64}", key["key"])
    assert key["start"] == key["key"][:6] and key["prefix"] == "hk_" and key["name"] == "ci"
    assert key["referenceId"] == a.owner["id"] and key["enabled"] is True
    assert key["rateLimitMax"] == 100 and key["rateLimitTimeWindow"] == 60_000
    assert key["metadata"] == {"env": "ci"} and key["permissions"] is None
    row = (
        await a.env.DB.prepare('SELECT "key" FROM "apikey" WHERE "id" = ?').bind(key["id"]).first()
    )
    assert row["key"] == sha256_b64url(key["key"]) and key["key"] not in row.values()
    listed = (await a.get("/api/auth/api-key/list", cookie=a.cookie)).json()
    assert listed["total"] == 1 and "key" not in listed["apiKeys"][0]
    one = (await a.get(f"/api/auth/api-key/get?id={key['id']}", cookie=a.cookie)).json()
    assert one["id"] == key["id"] and "key" not in one


async def test_create_errors(a):
    anonymous = await a.post("/api/auth/api-key/create", {})
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "UNAUTHORIZED_SESSION"
    cases = [
        ({"prefix": "bad prefix!"}, "VALIDATION_ERROR"),
        ({"name": "x" * 33}, "INVALID_NAME_LENGTH"),
        ({"prefix": "p" * 33}, "INVALID_PREFIX_LENGTH"),
        ({"expiresIn": 60}, "EXPIRES_IN_IS_TOO_SMALL"),
        ({"expiresIn": 86_400 * 400}, "EXPIRES_IN_IS_TOO_LARGE"),
        ({"metadata": "text"}, "INVALID_METADATA_TYPE"),
        ({"rateLimitMax": 0}, "INVALID_RATE_LIMIT"),
        ({"permissions": {"products": "write"}}, "INVALID_PERMISSIONS"),
    ]
    for body, code in cases:
        response = await a.post("/api/auth/api-key/create", body, cookie=a.cookie)
        assert (response.status_code, response.json()["code"]) == (400, code), body


async def test_keys_authenticate_with_scopes(a):
    narrow = await create(a, permissions={"products": ["read"]})
    wide = await create(a, permissions={"products": ["read", "write"]})
    anything = await create(a)
    for key, status in ((narrow, 403), (wide, 200), (anything, 200)):
        response = await a.post("/shop/products", headers={"x-api-key": key["key"]})
        assert response.status_code == status, key["permissions"]
    who = (await a.get("/shop/me", headers={"authorization": f"Bearer {narrow['key']}"})).json()
    assert who["via"] == "api_key" and who["api_key_id"] == narrow["id"]
    assert who["scopes"] == ["products:read"] and who["email"] == USER[0]
    assert (await a.get("/shop/me", headers={"x-api-key": "hk_" + "A" * 64})).json() is None


async def test_per_key_rate_limit_and_last_use(a):
    key = await create(a, rateLimitMax=2)
    headers = {"x-api-key": key["key"]}
    assert (await a.get("/shop/me", headers=headers)).status_code == 200
    assert (await a.get("/shop/me", headers=headers)).status_code == 200
    limited = await a.get("/shop/me", headers=headers)
    assert limited.status_code == 429 and limited.json() == {"error": "Rate limit exceeded."}
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    other = await create(a)  # another key has its own budget
    assert (await a.get("/shop/me", headers={"x-api-key": other["key"]})).status_code == 200
    a.h.runtime.clock.advance(61)
    assert (await a.get("/shop/me", headers=headers)).status_code == 200
    await a.h.runtime.tasks.drain()
    used = (await a.get(f"/api/auth/api-key/get?id={key['id']}", cookie=a.cookie)).json()
    assert used["requestCount"] == 3 and used["lastRequest"] is not None


async def test_delete_revokes(a):
    key = await create(a)
    assert (await a.get("/shop/me", headers={"x-api-key": key["key"]})).json() is not None
    deleted = await a.post("/api/auth/api-key/delete", {"keyId": key["id"]}, cookie=a.cookie)
    assert deleted.json() == {"success": True}
    assert (await a.get("/shop/me", headers={"x-api-key": key["key"]})).json() is None
    again = await a.post("/api/auth/api-key/delete", {"keyId": key["id"]}, cookie=a.cookie)
    assert again.status_code == 404 and again.json()["code"] == "KEY_NOT_FOUND"
    missing = await a.get("/api/auth/api-key/get?id=nope", cookie=a.cookie)
    assert missing.status_code == 404


async def test_keys_of_others_are_invisible_and_expired_keys_fail(a):
    key = await create(a, expiresIn=86_400)
    await a.user("other@example.com", "other-password")
    _, other = await a.sign_in("other@example.com", "other-password")
    assert (await a.get(f"/api/auth/api-key/get?id={key['id']}", cookie=other)).status_code == 404
    delete = await a.post("/api/auth/api-key/delete", {"keyId": key["id"]}, cookie=other)
    assert delete.status_code == 404
    assert (await a.get("/api/auth/api-key/list", cookie=other)).json()["total"] == 0
    a.h.runtime.clock.advance(86_400)
    assert (await a.get("/shop/me", headers={"x-api-key": key["key"]})).json() is None
