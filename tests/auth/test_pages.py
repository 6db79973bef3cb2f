"""The pages' CSRF and origin defences, and non-admins, without a browser."""

from __future__ import annotations

import re

import pytest

from tests.auth.conftest import ADMIN, ORIGIN, USER, cookie_header


@pytest.fixture
def a(seeded):
    return seeded


async def login_form(a):
    page = await a.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return token, cookie_header(page)


async def test_login_needs_the_double_submit_token(a):
    token, cookie = await login_form(a)
    form = {"email": ADMIN[0], "password": ADMIN[1], "csrf": "forged"}
    forged = await a.post("/login", data=form, cookie=cookie)
    assert forged.status_code == 403 and "expired" in forged.text
    no_cookie = await a.post("/login", data={**form, "csrf": token})
    assert no_cookie.status_code == 403
    ok = await a.post("/login", data={**form, "csrf": token}, cookie=cookie)
    assert ok.status_code == 303 and ok.headers["location"] == "/dashboard"
    assert "better-auth.session_token=" in ok.headers["set-cookie"]


async def test_login_refuses_a_foreign_origin(a):
    token, cookie = await login_form(a)
    response = await a.post(
        "/login",
        data={"email": ADMIN[0], "password": ADMIN[1], "csrf": token},
        cookie=cookie,
        headers={"origin": "https://evil.example"},
    )
    assert response.status_code == 403 and "Invalid origin" in response.text


async def test_dashboard_posts_need_the_session_bound_token(a):
    _, cookie = await a.sign_in(*ADMIN)
    page = await a.get("/dashboard", cookie=cookie)
    assert page.status_code == 200 and "Users (2)" in page.text
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    body = {"name": "N", "email": "n@example.com", "password": "password-1", "role": "user"}
    forged = await a.post("/dashboard/users", data={**body, "csrf": "x"}, cookie=cookie)
    assert forged.status_code == 403
    foreign = await a.post(
        "/dashboard/users", data={**body, "csrf": token}, cookie=cookie,
        headers={"origin": "https://evil.example"},
    )  # fmt: skip
    assert foreign.status_code == 403
    made = await a.post("/dashboard/users", data={**body, "csrf": token}, cookie=cookie)
    assert (
        made.status_code == 303 and made.headers["location"] == "/dashboard?created=n%40example.com"
    )
    dup = await a.post("/dashboard/users", data={**body, "csrf": token}, cookie=cookie)
    assert dup.status_code == 400 and "User already exists" in dup.text
    assert ORIGIN  # the helper sends the page's own origin on cookie posts


async def test_non_admins_and_strangers(a):
    assert (await a.get("/dashboard")).headers["location"] == "/login"
    _, cookie = await a.sign_in(*USER)
    page = await a.get("/dashboard", cookie=cookie)
    assert page.status_code == 403 and "for administrators" in page.text
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    refused = await a.post(
        "/dashboard/users",
        data={"name": "N", "email": "n@example.com", "password": "password-1", "csrf": token},
        cookie=cookie,
    )
    assert refused.status_code == 403
    out = await a.post("/logout", data={"csrf": token}, cookie=cookie)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert (await a.get("/api/auth/get-session", cookie=cookie)).text == "null"
    escaped = await a.user("html@example.com", "password-x", name="<b>x</b>")
    assert escaped
    _, admin = await a.sign_in(*ADMIN)
    listing = (await a.get("/dashboard", cookie=admin)).text
    assert "<b>x</b>" not in listing and "&lt;b&gt;x&lt;/b&gt;" in listing


async def test_login_page_same_answer_for_unknown_email_and_wrong_password(a):
    answers = []
    for email in (USER[0], "nobody@example.com"):
        token, cookie = await login_form(a)
        response = await a.post(
            "/login", data={"email": email, "password": "wrong-password", "csrf": token},
            cookie=cookie,
        )  # fmt: skip
        error = re.search(r'role="alert">([^<]*)<', response.text).group(1)
        answers.append((response.status_code, error))
    assert answers[0] == answers[1] == (401, "Invalid email or password")


async def test_oversized_form_is_413(a):
    _, cookie = await login_form(a)
    response = await a.post("/login", data={"email": "x" * 70_000}, cookie=cookie)
    assert response.status_code == 413 and response.json() == {"error": "Request body is too large"}
