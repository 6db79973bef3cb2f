"""Shop customers: /auth/register, /auth/login, /auth/refresh with JWT and rotating tokens."""

from __future__ import annotations

import jwt
import pytest

from bindings.clock import ManualClock
from tests.auth.conftest import NOW, SECRETS, USER
from workers.auth.identity import identify


@pytest.fixture
async def a(auth):
    a = await auth(vars={"AUTH_RATE_LIMIT": "false"}, clock=ManualClock(NOW))
    await a.user(*USER, name="User")
    return a


async def login(a, email=USER[0], password=USER[1]):
    response = await a.post("/auth/login", {"email": email, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


async def test_register_never_reveals_whether_an_email_exists(a):
    new = await a.post("/auth/register", {"email": "Shopper@Example.com", "password": "pw-123456"})
    taken = await a.post("/auth/register", {"email": USER[0], "password": "other-pw-1"})
    assert new.status_code == taken.status_code == 202
    assert new.json() == taken.json() == {"status": "accepted"}
    tokens = await login(a, "shopper@example.com", "pw-123456")
    assert tokens["user"]["email"] == "shopper@example.com" and tokens["user"]["role"] == "user"
    refused = await a.post("/auth/login", {"email": USER[0], "password": "other-pw-1"})
    assert refused.status_code == 401  # the existing account was not touched
    await login(a)


async def test_register_and_login_validation(a):
    cases = [
        ("/auth/register", {"email": "x@example.com", "password": "short"}, 400),
        ("/auth/register", {"email": "nope", "password": "long-enough"}, 400),
        ("/auth/register", {"email": "x@example.com", "password": 12345678}, 400),
        ("/auth/register", {"email": "x@example.com", "password": "long-enough", "name": 5}, 400),
        ("/auth/login", {"email": "x@example.com"}, 400),
        ("/auth/login", ["not", "an", "object"], 400),
        ("/auth/refresh", {}, 400),
    ]
    for path, body, status in cases:
        response = await a.post(path, body)
        assert response.status_code == status, (path, body)
        assert isinstance(response.json()["error"], str)
    malformed = await a.post(
        "/auth/login", content=b"{", headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 400 and malformed.json() == {"error": "Malformed JSON body"}
    form = await a.post("/auth/login", data={"email": "a"})
    assert form.status_code == 415
    huge = await a.post("/auth/login", {"email": "a@b.co", "password": "x" * 70_000})
    assert huge.status_code == 413


async def test_login_same_answer_for_unknown_email_and_wrong_password(a):
    wrong = await a.post("/auth/login", {"email": USER[0], "password": "wrong-password"})
    unknown = await a.post("/auth/login", {"email": "who@example.com", "password": "whatever-1"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"error": "Invalid email or password"}


async def test_access_token_claims_and_expiry(a):
    tokens = await login(a)
    assert tokens["tokenType"] == "Bearer" and tokens["expiresIn"] == 900
    claims = jwt.decode(
        tokens["accessToken"], SECRETS["JWT_SECRET"], algorithms=["HS256"],
        options={"verify_exp": False, "verify_iat": False},
    )  # fmt: skip
    assert claims["sub"] == tokens["user"]["id"] and claims["exp"] == int(NOW) + 900
    bearer = {"authorization": f"Bearer {tokens['accessToken']}"}
    who = await a.run(lambda: identify(a.env, bearer))
    assert who["identity"]["user_id"] == claims["sub"] and who["identity"]["via"] == "jwt"
    a.h.runtime.clock.advance(900)
    expired = await a.run(lambda: identify(a.env, bearer))
    assert expired == {"identity": None}


async def test_refresh_rotates_and_reuse_revokes_the_family(a):
    first = await login(a)
    second = await a.post("/auth/refresh", {"refreshToken": first["refreshToken"]})
    assert second.status_code == 200
    rotated = second.json()
    assert rotated["refreshToken"] != first["refreshToken"]
    third = await a.post("/auth/refresh", {"refreshToken": rotated["refreshToken"]})
    assert third.status_code == 200
    latest = third.json()["refreshToken"]
    replay = await a.post("/auth/refresh", {"refreshToken": first["refreshToken"]})
    assert replay.status_code == 401 and "reuse" in replay.json()["error"]
    after = await a.post("/auth/refresh", {"refreshToken": latest})
    assert after.status_code == 401  # the whole family is revoked
    other_login = await login(a)  # another login (family) is unaffected
    ok = await a.post("/auth/refresh", {"refreshToken": other_login["refreshToken"]})
    assert ok.status_code == 200


async def test_refresh_tokens_are_stored_hashed_and_expire(a):
    tokens = await login(a)
    stored = await a.env.DB.prepare('SELECT "tokenHash" FROM "refresh_token"').all()
    hashes = [r["tokenHash"] for r in stored.results]
    assert tokens["refreshToken"] not in hashes and len(hashes[0]) == 64
    a.h.runtime.clock.advance(30 * 24 * 3600)
    expired = await a.post("/auth/refresh", {"refreshToken": tokens["refreshToken"]})
    assert expired.status_code == 401
    unknown = await a.post("/auth/refresh", {"refreshToken": "not-a-token"})
    assert unknown.status_code == 401


async def test_banned_customers_lose_their_refresh_tokens(a):
    tokens = await login(a)
    await a.user("boss@example.com", "boss-password", role="admin")
    _, cookie = await a.sign_in("boss@example.com", "boss-password")
    ban = await a.post("/api/auth/admin/ban-user", {"userId": tokens["user"]["id"]}, cookie=cookie)
    assert ban.status_code == 200
    refresh = await a.post("/auth/refresh", {"refreshToken": tokens["refreshToken"]})
    assert refresh.status_code == 401
    login_again = await a.post("/auth/login", {"email": USER[0], "password": USER[1]})
    assert login_again.status_code == 403
