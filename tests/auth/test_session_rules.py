"""Time rules on an injected clock: refresh after updateAge, freshness, expiry, rate limits."""

from __future__ import annotations

import pytest

from bindings.clock import ManualClock
from tests.auth.conftest import NOW, USER
from workers.auth.dates import iso

DAY = 86_400


@pytest.fixture
async def a(auth):
    a = await auth(clock=ManualClock(NOW))
    await a.user(*USER)
    return a


async def test_get_session_refreshes_after_update_age(a):
    _, cookie = await a.sign_in(*USER)
    created = iso(int(NOW * 1000))
    a.h.runtime.clock.advance(DAY - 1)
    early = await a.get("/api/auth/get-session", cookie=cookie)
    assert early.headers.get("set-cookie") is None
    assert early.json()["session"]["expiresAt"] == iso(int((NOW + 7 * DAY) * 1000))
    a.h.runtime.clock.advance(1)
    refreshed = await a.get("/api/auth/get-session", cookie=cookie)
    session = refreshed.json()["session"]
    assert session["expiresAt"] == iso(int((NOW + 8 * DAY) * 1000))
    assert session["updatedAt"] == iso(int((NOW + DAY) * 1000))
    assert session["createdAt"] == created  # freshness counts from sign-in
    assert "Max-Age=604800" in refreshed.headers["set-cookie"]
    assert refreshed.headers["set-auth-token"]
    skip = await a.get("/api/auth/get-session?disableRefresh=true", cookie=cookie)
    assert skip.headers.get("set-cookie") is None


async def test_list_sessions_needs_a_fresh_session(a):
    _, cookie = await a.sign_in(*USER)
    a.h.runtime.clock.advance(DAY - 1)
    assert (await a.get("/api/auth/list-sessions", cookie=cookie)).status_code == 200
    a.h.runtime.clock.advance(1)
    await a.get("/api/auth/get-session", cookie=cookie)  # a refresh does not make it fresh
    stale = await a.get("/api/auth/list-sessions", cookie=cookie)
    assert stale.status_code == 403
    assert stale.json() == {"message": "Session is not fresh", "code": "SESSION_NOT_FRESH"}


async def test_expired_sessions_are_deleted_and_cookies_cleared(a):
    _, cookie = await a.sign_in(*USER)
    a.h.runtime.clock.advance(7 * DAY + 1)
    response = await a.get("/api/auth/get-session", cookie=cookie)
    assert response.text == "null" and len(response.headers.get_list("set-cookie")) == 3
    count = await a.env.DB.prepare('SELECT count(*) AS n FROM "session"').first("n")
    assert count == 0


async def test_remember_me_false_sessions_last_a_day_and_never_refresh(a):
    _, cookie = await a.sign_in(*USER, rememberMe=False)
    assert "better-auth.dont_remember=" in cookie
    a.h.runtime.clock.advance(DAY - 10)
    kept = await a.get("/api/auth/get-session", cookie=cookie)
    assert kept.json()["session"]["expiresAt"] == iso(int((NOW + DAY) * 1000))
    assert kept.headers.get("set-cookie") is None
    a.h.runtime.clock.advance(11)
    assert (await a.get("/api/auth/get-session", cookie=cookie)).text == "null"


async def test_sign_in_rate_limit_three_per_ten_seconds(a):
    statuses = []
    for _ in range(5):
        response = await a.post("/api/auth/sign-in/email", {"email": USER[0], "password": "bad"})
        statuses.append(response.status_code)
    assert statuses == [401, 401, 401, 429, 429]
    assert response.json() == {"message": "Too many requests. Please try again later."}
    assert response.headers["x-retry-after"] == "10"
    other_path = await a.post("/auth/login", {"email": USER[0], "password": USER[1]})
    assert other_path.status_code == 200  # buckets are per path
    a.h.runtime.clock.advance(4)
    still = await a.post("/api/auth/sign-in/email", {"email": USER[0], "password": USER[1]})
    assert still.status_code == 429 and still.headers["x-retry-after"] == "6"
    a.h.runtime.clock.advance(6)
    again = await a.post("/api/auth/sign-in/email", {"email": USER[0], "password": USER[1]})
    assert again.status_code == 200
    not_limited = await a.get("/api/auth/get-session")
    assert not_limited.status_code == 200


async def test_an_expired_ban_is_lifted_at_sign_in(auth):
    a = await auth(clock=ManualClock(NOW), vars={"AUTH_RATE_LIMIT": "false"})
    user = await a.user(*USER)
    await a.user("boss@example.com", "boss-password", role="admin")
    _, boss = await a.sign_in("boss@example.com", "boss-password")
    banned = await a.post(
        "/api/auth/admin/ban-user", {"userId": user["id"], "banExpiresIn": 60}, cookie=boss
    )
    assert banned.json()["user"]["banExpires"] == iso(int((NOW + 60) * 1000))
    refused = await a.post("/api/auth/sign-in/email", {"email": USER[0], "password": USER[1]})
    assert refused.status_code == 403
    a.h.runtime.clock.advance(61)
    response, _ = await a.sign_in(*USER)
    assert response.json()["user"]["banned"] is False
    assert response.json()["user"]["banExpires"] is None
