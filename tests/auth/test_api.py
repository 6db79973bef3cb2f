"""Better Auth's HTTP API on the auth worker: every endpoint, status and error code."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest

from tests.auth.conftest import ADMIN, ORIGIN, USER, cookie_header
from workers.auth.crypto import hmac_signature

ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
USER_KEYS = [
    "name", "email", "emailVerified", "image", "createdAt", "updatedAt", "role", "banned",
    "banReason", "banExpires", "id",
]  # fmt: skip
SESSION_KEYS = [
    "expiresAt", "token", "createdAt", "updatedAt", "ipAddress", "userAgent", "userId",
    "impersonatedBy", "id",
]  # fmt: skip


@pytest.fixture
def a(seeded):
    return seeded


async def test_sign_in_sets_signed_cookie_and_returns_user(a):
    response, _ = await a.sign_in(*USER)
    body = response.json()
    assert body["redirect"] is False and "url" not in body
    assert re.fullmatch(r"[A-Za-z0-9]{32}", body["token"])
    assert list(body["user"]) == USER_KEYS
    assert body["user"]["email"] == USER[0] and body["user"]["role"] == "user"
    assert ISO.match(body["user"]["createdAt"])
    [cookie] = response.headers.get_list("set-cookie")
    name, _, rest = cookie.partition("=")
    value, _, attributes = rest.partition("; ")
    assert name == "better-auth.session_token"
    assert attributes == "Max-Age=604800; Path=/; HttpOnly; SameSite=Lax"
    token, signature = unquote(value).rsplit(".", 1)
    assert token == body["token"]
    assert signature == hmac_signature("test-better-auth-secret-0123456789abcdef", token)
    # bearer plugin
    assert response.headers["set-auth-token"] == unquote(value)
    assert response.headers["access-control-expose-headers"] == "set-auth-token"


async def test_sign_in_with_callback_url_and_remember_me_false(a):
    response = await a.post(
        "/api/auth/sign-in/email",
        {"email": USER[0], "password": USER[1], "callbackURL": "/dashboard", "rememberMe": False},
    )
    body = response.json()
    assert response.status_code == 200 and body["redirect"] is True and body["url"] == "/dashboard"
    assert response.headers["location"] == "/dashboard"
    session, marker = response.headers.get_list("set-cookie")
    assert "Max-Age" not in session
    assert marker.startswith("better-auth.dont_remember=true.")
    evil = await a.post(
        "/api/auth/sign-in/email",
        {"email": USER[0], "password": USER[1], "callbackURL": "https://evil.example/x"},
    )
    assert evil.status_code == 403 and evil.json()["code"] == "INVALID_CALLBACK_URL"


async def test_unknown_email_and_wrong_password_answer_the_same(a):
    wrong = await a.post("/api/auth/sign-in/email", {"email": USER[0], "password": "nope-nope"})
    unknown = await a.post("/api/auth/sign-in/email", {"email": "x@example.com", "password": "n"})
    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json()
        == unknown.json()
        == {
            "message": "Invalid email or password",
            "code": "INVALID_EMAIL_OR_PASSWORD",
        }
    )
    assert wrong.headers.get("set-cookie") is None and unknown.headers.get("set-cookie") is None
    no_password = await a.user("nopw@example.com", None)
    assert no_password["email"] == "nopw@example.com"
    third = await a.post("/api/auth/sign-in/email", {"email": "nopw@example.com", "password": "x"})
    assert third.json() == wrong.json()


async def test_sign_in_input_errors(a):
    cases = [
        ({"email": "not-an-email", "password": "x"}, 400, "INVALID_EMAIL"),
        ({"email": USER[0], "password": "x" * 129}, 400, "PASSWORD_TOO_LONG"),
        ({"email": USER[0]}, 400, "VALIDATION_ERROR"),
        ({"email": 5, "password": []}, 400, "VALIDATION_ERROR"),
    ]
    for body, status, code in cases:
        response = await a.post("/api/auth/sign-in/email", body)
        assert (response.status_code, response.json()["code"]) == (status, code), body
    missing = await a.post("/api/auth/sign-in/email", {"email": USER[0]})
    assert missing.json()["message"] == (
        "[body.password] Invalid input: expected string, received undefined"
    )
    bad_json = await a.post(
        "/api/auth/sign-in/email", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 400
    assert bad_json.json() == {"message": "Invalid JSON in request body", "code": "BAD_REQUEST"}
    text = await a.post(
        "/api/auth/sign-in/email", content=b"hi", headers={"content-type": "text/plain"}
    )
    assert text.status_code == 415 and text.json()["code"] == "UNSUPPORTED_MEDIA_TYPE"
    huge = await a.post("/api/auth/sign-in/email", {"email": "a@b.co", "password": "x" * 100_000})
    assert huge.status_code == 413 and huge.json()["code"] == "PAYLOAD_TOO_LARGE"
    array = await a.post("/api/auth/sign-in/email", [1, 2])
    assert array.json()["message"] == "[body] Invalid input: expected object, received array"


async def test_sign_in_accepts_a_form_post(a):
    response = await a.post("/api/auth/sign-in/email", data={"email": USER[0], "password": USER[1]})
    assert response.status_code == 200 and response.json()["user"]["email"] == USER[0]


async def test_sign_up_is_disabled_after_schema_validation(a):
    ok_shape = {"email": "new@example.com", "password": "password123", "name": "New"}
    response = await a.post("/api/auth/sign-up/email", ok_shape)
    assert response.status_code == 400
    assert response.json() == {
        "message": "Email and password sign up is not enabled",
        "code": "EMAIL_PASSWORD_SIGN_UP_DISABLED",
    }
    taken = await a.post("/api/auth/sign-up/email", {**ok_shape, "email": USER[0]})
    assert taken.json() == response.json()  # no hint that the email exists
    invalid = await a.post("/api/auth/sign-up/email", {})
    assert invalid.json()["code"] == "VALIDATION_ERROR"
    bad_email = await a.post("/api/auth/sign-up/email", {**ok_shape, "email": "nope"})
    assert bad_email.json()["message"] == "[body.email] Invalid email address"


async def test_get_session_and_sign_out(a):
    signed_in, cookie = await a.sign_in(*USER)
    token = signed_in.json()["token"]
    response = await a.get("/api/auth/get-session", cookie=cookie)
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body = response.json()
    assert list(body["session"]) == SESSION_KEYS and list(body["user"]) == USER_KEYS
    assert body["session"]["token"] == token and body["session"]["impersonatedBy"] is None
    assert all(ISO.match(body["session"][k]) for k in ("expiresAt", "createdAt", "updatedAt"))
    assert response.headers.get("set-cookie") is None  # fresh: no refresh
    anonymous = await a.get("/api/auth/get-session")
    assert anonymous.status_code == 200 and anonymous.text == "null"
    out = await a.post("/api/auth/sign-out", {}, cookie=cookie)
    assert out.json() == {"success": True}
    assert out.headers.get_list("set-cookie") == [
        "better-auth.session_token=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
        "better-auth.session_data=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
        "better-auth.dont_remember=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
    ]
    gone = await a.get("/api/auth/get-session", cookie=cookie)
    assert gone.text == "null" and len(gone.headers.get_list("set-cookie")) == 3
    again = await a.post("/api/auth/sign-out")  # no cookie, no body: still fine
    assert again.status_code == 200 and again.json() == {"success": True}


async def test_tampered_cookie_is_no_session(a):
    _, cookie = await a.sign_in(*USER)
    forged = cookie[:-8] + "AAAA%3D"
    response = await a.get("/api/auth/get-session", cookie=forged)
    assert response.text == "null" and response.headers.get("set-cookie") is None
    post = await a.post("/api/auth/get-session", {}, cookie=cookie)
    assert post.status_code == 405
    assert post.json()["code"] == "METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED"


async def test_bearer_token_signed_or_bare(a):
    signed_in, _ = await a.sign_in(*USER)
    signed = signed_in.headers["set-auth-token"]
    bare = signed_in.json()["token"]
    for value in (signed, bare):
        response = await a.get(
            "/api/auth/get-session", headers={"authorization": f"Bearer {value}"}
        )
        assert response.json()["user"]["email"] == USER[0]
    forged = signed[:-5] + "AAAA="
    response = await a.get("/api/auth/get-session", headers={"authorization": f"Bearer {forged}"})
    assert response.text == "null"
    # a bearer client needs no Origin: the CSRF rule applies to cookies only
    out = await a.post(
        "/api/auth/revoke-other-sessions", {}, headers={"authorization": f"Bearer {signed}"}
    )
    assert out.status_code == 200 and out.json() == {"status": True}


async def test_unknown_paths_methods_and_trailing_slash_are_empty_404s(a):
    for method, path in [
        ("GET", "/api/auth/nope"),
        ("GET", "/api/auth/get-session/"),
        ("GET", "/api/auth/sign-in/email"),
        ("OPTIONS", "/api/auth/get-session"),
        ("DELETE", "/api/auth/sign-out"),
    ]:
        response = await a.request(method, path)
        assert response.status_code == 404 and response.content == b"", (method, path)


async def test_origin_checks_on_cookie_requests(a):
    _, cookie = await a.sign_in(*USER)
    missing = await a.post("/api/auth/revoke-other-sessions", {}, cookie=cookie, origin=False)
    assert missing.status_code == 403
    assert missing.json() == {"message": "Missing or null Origin", "code": "MISSING_OR_NULL_ORIGIN"}
    evil = await a.post(
        "/api/auth/revoke-other-sessions",
        {},
        cookie=cookie,
        headers={"origin": "https://evil.example"},
    )
    assert evil.status_code == 403 and evil.json()["code"] == "INVALID_ORIGIN"
    by_referer = await a.post(
        "/api/auth/revoke-other-sessions",
        {},
        cookie=cookie,
        origin=False,
        headers={"referer": ORIGIN + "/dashboard"},
    )
    assert by_referer.status_code == 200
    cross_nav = await a.post(
        "/api/auth/sign-in/email",
        {"email": USER[0], "password": USER[1]},
        headers={"sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate"},
    )
    assert cross_nav.status_code == 403
    assert cross_nav.json()["code"] == "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED"
    evil_login = await a.post(
        "/api/auth/sign-in/email",
        {"email": USER[0], "password": USER[1]},
        headers={"origin": "https://evil.example"},
    )
    assert evil_login.status_code == 403 and evil_login.json()["code"] == "INVALID_ORIGIN"


async def test_trusted_origins_from_config(auth):
    a = await auth(
        vars={
            "AUTH_RATE_LIMIT": "false",
            "BETTER_AUTH_URL": "https://app.example",
            "BETTER_AUTH_TRUSTED_ORIGINS": "https://shop.example",
        }
    )
    await a.user(*USER)
    ok = await a.post(
        "/api/auth/sign-in/email",
        {"email": USER[0], "password": USER[1]},
        headers={"origin": "https://shop.example"},
    )
    assert ok.status_code == 200
    assert ok.headers["set-cookie"].startswith("__Secure-better-auth.session_token=")
    assert "; Secure; SameSite=Lax" in ok.headers["set-cookie"]
    own = await a.post(
        "/api/auth/sign-in/email",
        {"email": USER[0], "password": USER[1]},
        headers={"origin": ORIGIN},  # the request's own origin is not the configured base URL
    )
    assert own.status_code == 403 and own.json()["code"] == "INVALID_ORIGIN"


async def test_list_and_revoke_sessions(a):
    first, cookie1 = await a.sign_in(*USER)
    second, cookie2 = await a.sign_in(*USER)
    listed = await a.get("/api/auth/list-sessions", cookie=cookie1)
    tokens = [s["token"] for s in listed.json()]
    assert tokens == [first.json()["token"], second.json()["token"]]
    assert all(list(s) == SESSION_KEYS for s in listed.json())
    foreign, _ = await a.sign_in(*ADMIN)
    untouched = await a.post(
        "/api/auth/revoke-session", {"token": foreign.json()["token"]}, cookie=cookie1
    )
    assert untouched.json() == {"status": True}
    admin_session = await a.get(
        "/api/auth/get-session", headers={"authorization": f"Bearer {foreign.json()['token']}"}
    )
    assert admin_session.json() is not None  # not the caller's: nothing deleted
    revoked = await a.post(
        "/api/auth/revoke-session", {"token": second.json()["token"]}, cookie=cookie1
    )
    assert revoked.json() == {"status": True} and revoked.headers.get("set-cookie") is None
    assert (await a.get("/api/auth/get-session", cookie=cookie2)).text == "null"
    own = await a.post("/api/auth/revoke-session", {"token": first.json()["token"]}, cookie=cookie1)
    assert len(own.headers.get_list("set-cookie")) == 3
    assert (await a.get("/api/auth/list-sessions", cookie=cookie1)).status_code == 401


async def test_revoke_sessions_and_revoke_other_sessions(a):
    _, keep = await a.sign_in(*USER)
    _, other = await a.sign_in(*USER)
    assert (await a.post("/api/auth/revoke-other-sessions", {}, cookie=keep)).status_code == 200
    assert (await a.get("/api/auth/get-session", cookie=other)).text == "null"
    assert (await a.get("/api/auth/get-session", cookie=keep)).json() is not None
    everything = await a.post("/api/auth/revoke-sessions", {}, cookie=keep)
    assert everything.json() == {"status": True}
    assert len(everything.headers.get_list("set-cookie")) == 3
    assert (await a.get("/api/auth/get-session", cookie=keep)).text == "null"


async def test_session_endpoints_need_a_session(a):
    for method, path, body in [
        ("GET", "/api/auth/list-sessions", None),
        ("POST", "/api/auth/revoke-session", {"token": "x"}),
        ("POST", "/api/auth/revoke-sessions", {}),
        ("POST", "/api/auth/revoke-other-sessions", {}),
        ("POST", "/api/auth/update-user", {"name": "x"}),
        ("POST", "/api/auth/change-password", {"newPassword": "x", "currentPassword": "y"}),
    ]:
        response = await a.request(method, path, json=body)
        assert response.status_code == 401, path
        assert response.json() == {"message": "Unauthorized", "code": "UNAUTHORIZED"}


async def test_update_user(a):
    _, cookie = await a.sign_in(*USER)
    response = await a.post(
        "/api/auth/update-user", {"name": "Renamed", "image": None}, cookie=cookie
    )
    assert response.json() == {"status": True}
    assert response.headers["set-cookie"].startswith("better-auth.session_token=")
    session = await a.get("/api/auth/get-session", cookie=cookie)
    assert session.json()["user"]["name"] == "Renamed"
    errors = [
        ({"email": "x@example.com"}, 400, "EMAIL_CAN_NOT_BE_UPDATED"),
        ({"role": "admin"}, 400, "FIELD_NOT_ALLOWED"),
        ({"name": 5}, 400, "VALIDATION_ERROR"),
    ]
    for body, status, code in errors:
        bad = await a.post("/api/auth/update-user", body, cookie=cookie)
        assert (bad.status_code, bad.json()["code"]) == (status, code)
    empty = await a.post("/api/auth/update-user", {}, cookie=cookie)
    assert empty.status_code == 400 and empty.json() == {"message": "No fields to update"}
    after = await a.get("/api/auth/get-session", cookie=cookie)
    assert after.json()["user"]["role"] == "user"


async def test_change_password(a):
    customer = (await a.post("/auth/login", {"email": USER[0], "password": USER[1]})).json()
    _, cookie = await a.sign_in(*USER)
    _, other = await a.sign_in(*USER)
    wrong = await a.post(
        "/api/auth/change-password",
        {"currentPassword": "wrong-password", "newPassword": "brand-new-pw"},
        cookie=cookie,
    )
    assert wrong.json() == {"message": "Invalid password", "code": "INVALID_PASSWORD"}
    short = await a.post(
        "/api/auth/change-password",
        {"currentPassword": USER[1], "newPassword": "short"},
        cookie=cookie,
    )
    assert short.json()["code"] == "PASSWORD_TOO_SHORT"
    changed = await a.post(
        "/api/auth/change-password",
        {"currentPassword": USER[1], "newPassword": "brand-new-pw", "revokeOtherSessions": True},
        cookie=cookie,
    )
    body = changed.json()
    assert changed.status_code == 200 and re.fullmatch(r"[A-Za-z0-9]{32}", body["token"])
    assert body["user"]["email"] == USER[0]
    assert (await a.get("/api/auth/get-session", cookie=other)).text == "null"
    assert (await a.get("/api/auth/get-session", cookie=cookie)).text == "null"
    refresh = await a.post("/auth/refresh", {"refreshToken": customer["refreshToken"]})
    assert refresh.status_code == 401
    fresh = cookie_header(changed)
    assert (await a.get("/api/auth/get-session", cookie=fresh)).json() is not None
    old = await a.post("/api/auth/sign-in/email", {"email": USER[0], "password": USER[1]})
    assert old.status_code == 401
    await a.sign_in(USER[0], "brand-new-pw")
    no_revoke = await a.post(
        "/api/auth/change-password",
        {"currentPassword": "brand-new-pw", "newPassword": "another-pw-1"},
        cookie=fresh,
    )
    assert no_revoke.json()["token"] is None


async def test_update_user_body_must_be_an_object(a):
    _, cookie = await a.sign_in(*USER)
    response = await a.post("/api/auth/update-user", ["name"], cookie=cookie)
    assert response.status_code == 400
    assert response.json() == {
        "message": "Body must be an object",
        "code": "BODY_MUST_BE_AN_OBJECT",
    }


async def test_change_password_without_a_credential_account(a):
    from workers.auth.dates import now_ms
    from workers.auth.store import Store

    user = await a.user("sso@example.com", None)
    session = await a.run(
        lambda: Store(a.env.DB).create_session(user["id"], now_ms() + 60_000, "", "")
    )
    response = await a.post(
        "/api/auth/change-password",
        {"currentPassword": "whatever-1", "newPassword": "whatever-2"},
        headers={"authorization": f"Bearer {session['token']}"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "CREDENTIAL_ACCOUNT_NOT_FOUND"
