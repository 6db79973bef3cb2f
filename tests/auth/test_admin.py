"""The admin plugin's endpoints: permissions, every error code, and what each does."""

from __future__ import annotations

import pytest

from tests.auth.conftest import ADMIN, USER
from workers.auth.crypto import verify_password_sync


@pytest.fixture
async def a(auth):
    a = await auth(vars={"AUTH_RATE_LIMIT": "false"})
    a.admin = await a.user(*ADMIN, role="admin", name="Admin")
    a.plain = await a.user(*USER, name="User")
    _, a.admin_cookie = await a.sign_in(*ADMIN)
    _, a.user_cookie = await a.sign_in(*USER)
    return a


ENDPOINTS = [
    ("POST", "/api/auth/admin/create-user", {"email": "x@example.com", "name": "X"},
     "YOU_ARE_NOT_ALLOWED_TO_CREATE_USERS"),
    ("GET", "/api/auth/admin/list-users", None, "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS"),
    ("POST", "/api/auth/admin/set-role", {"userId": "x", "role": "admin"},
     "YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE"),
    ("POST", "/api/auth/admin/ban-user", {"userId": "x"}, "YOU_ARE_NOT_ALLOWED_TO_BAN_USERS"),
    ("POST", "/api/auth/admin/unban-user", {"userId": "x"}, "YOU_ARE_NOT_ALLOWED_TO_BAN_USERS"),
    ("POST", "/api/auth/admin/remove-user", {"userId": "x"},
     "YOU_ARE_NOT_ALLOWED_TO_DELETE_USERS"),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "body", "code"), ENDPOINTS)
async def test_admin_endpoints_refuse_others(a, method, path, body, code):
    anonymous = await a.request(method, path, json=body)
    assert anonymous.status_code == 401 and anonymous.content == b""
    user = await a.request(method, path, json=body, cookie=a.user_cookie)
    assert user.status_code == 403 and user.json()["code"] == code


async def test_create_user(a):
    response = await a.post(
        "/api/auth/admin/create-user",
        {"email": "New.Person@Example.com", "password": "password123", "name": "New"},
        cookie=a.admin_cookie,
    )
    user = response.json()["user"]
    assert response.status_code == 200
    assert user["email"] == "new.person@example.com" and user["role"] == "user"
    assert user["banned"] is False and user["emailVerified"] is False
    account = (
        await a.env.DB.prepare(
            'SELECT "accountId", "providerId", "password" FROM "account" WHERE "userId" = ?'
        )
        .bind(user["id"])
        .first()
    )
    assert account["accountId"] == user["id"] and account["providerId"] == "credential"
    assert verify_password_sync(account["password"], "password123")
    await a.sign_in("new.person@example.com", "password123")
    roles = await a.post(
        "/api/auth/admin/create-user",
        {"email": "multi@example.com", "name": "M", "role": ["user", "admin"]},
        cookie=a.admin_cookie,
    )
    assert roles.json()["user"]["role"] == "user,admin"
    no_account = (
        await a.env.DB.prepare('SELECT count(*) AS n FROM "account" WHERE "userId" = ?')
        .bind(roles.json()["user"]["id"])
        .first("n")
    )
    assert no_account == 0


async def test_create_user_errors(a):
    cases = [
        ({"email": USER[0].upper(), "name": "Dup"}, 400, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL"),
        ({"email": "bad", "name": "B"}, 400, "INVALID_EMAIL"),
        ({"email": "long@example.com", "name": "L", "password": "x" * 129}, 400,
         "PASSWORD_TOO_LONG"),
        ({"email": "r@example.com", "name": "R", "role": [1]}, 400, "INVALID_ROLE_TYPE"),
        ({"name": "N"}, 400, "VALIDATION_ERROR"),
    ]  # fmt: skip
    for body, status, code in cases:
        response = await a.post("/api/auth/admin/create-user", body, cookie=a.admin_cookie)
        assert (response.status_code, response.json()["code"]) == (status, code), body


async def test_list_users(a):
    for i in range(3):
        await a.user(f"bulk{i}@example.com", None, name=f"Bulk {i}")
    everyone = await a.get("/api/auth/admin/list-users", cookie=a.admin_cookie)
    body = everyone.json()
    assert body["total"] == 5 and "limit" not in body and "offset" not in body
    assert [u["email"] for u in body["users"]][:2] == [ADMIN[0], USER[0]]
    page = await a.get(
        "/api/auth/admin/list-users?limit=2&offset=1&sortBy=email&sortDirection=desc",
        cookie=a.admin_cookie,
    )
    body = page.json()
    assert (body["total"], body["limit"], body["offset"]) == (5, 2, 1)
    assert [u["email"] for u in body["users"]] == ["bulk2@example.com", "bulk1@example.com"]
    search = await a.get(
        "/api/auth/admin/list-users?searchValue=bulk&searchField=email&searchOperator=starts_with",
        cookie=a.admin_cookie,
    )
    assert search.json()["total"] == 3
    literal = await a.get("/api/auth/admin/list-users?searchValue=%25", cookie=a.admin_cookie)
    assert literal.json()["total"] == 0  # % is literal, not a LIKE wildcard
    role = await a.get(
        "/api/auth/admin/list-users?filterField=role&filterValue=admin", cookie=a.admin_cookie
    )
    assert [u["email"] for u in role.json()["users"]] == [ADMIN[0]]
    bad_sort = await a.get("/api/auth/admin/list-users?sortBy=password", cookie=a.admin_cookie)
    assert bad_sort.status_code == 400


async def test_set_role(a):
    response = await a.post(
        "/api/auth/admin/set-role",
        {"userId": a.plain["id"], "role": "admin"},
        cookie=a.admin_cookie,
    )
    assert response.json()["user"]["role"] == "admin"
    missing = await a.post(
        "/api/auth/admin/set-role", {"userId": "nope", "role": "admin"}, cookie=a.admin_cookie
    )
    assert missing.status_code == 404 and missing.json()["code"] == "USER_NOT_FOUND"
    now_admin = await a.get("/api/auth/admin/list-users", cookie=a.user_cookie)
    assert now_admin.status_code == 200  # roles are read from the database on every request


async def test_ban_and_unban(a):
    ban = await a.post(
        "/api/auth/admin/ban-user",
        {"userId": a.plain["id"], "banReason": "spam", "banExpiresIn": 3600},
        cookie=a.admin_cookie,
    )
    user = ban.json()["user"]
    assert user["banned"] is True and user["banReason"] == "spam" and user["banExpires"]
    assert (await a.get("/api/auth/get-session", cookie=a.user_cookie)).text == "null"
    refused = await a.post("/api/auth/sign-in/email", {"email": USER[0], "password": USER[1]})
    assert refused.status_code == 403 and refused.json()["code"] == "BANNED_USER"
    assert refused.json()["message"].startswith("You have been banned from this application")
    default = await a.post(
        "/api/auth/admin/ban-user", {"userId": a.plain["id"]}, cookie=a.admin_cookie
    )
    assert default.json()["user"]["banReason"] == "No reason"
    assert default.json()["user"]["banExpires"] is None
    self_ban = await a.post(
        "/api/auth/admin/ban-user", {"userId": a.admin["id"]}, cookie=a.admin_cookie
    )
    assert self_ban.status_code == 400 and self_ban.json()["code"] == "YOU_CANNOT_BAN_YOURSELF"
    missing = await a.post("/api/auth/admin/ban-user", {"userId": "nope"}, cookie=a.admin_cookie)
    assert missing.status_code == 404
    unban = await a.post(
        "/api/auth/admin/unban-user", {"userId": a.plain["id"]}, cookie=a.admin_cookie
    )
    assert unban.json()["user"]["banned"] is False and unban.json()["user"]["banReason"] is None
    await a.sign_in(*USER)


async def test_remove_user(a):
    self_remove = await a.post(
        "/api/auth/admin/remove-user", {"userId": a.admin["id"]}, cookie=a.admin_cookie
    )
    assert self_remove.json()["code"] == "YOU_CANNOT_REMOVE_YOURSELF"
    missing = await a.post("/api/auth/admin/remove-user", {"userId": "x"}, cookie=a.admin_cookie)
    assert missing.status_code == 404 and missing.json()["code"] == "USER_NOT_FOUND"
    removed = await a.post(
        "/api/auth/admin/remove-user", {"userId": a.plain["id"]}, cookie=a.admin_cookie
    )
    assert removed.json() == {"success": True}
    assert (await a.get("/api/auth/get-session", cookie=a.user_cookie)).text == "null"
    gone = await a.post("/api/auth/sign-in/email", {"email": USER[0], "password": USER[1]})
    assert gone.status_code == 401
    rows = (
        await a.env.DB.prepare(
            'SELECT (SELECT count(*) FROM "account" WHERE "userId" = ?) AS accounts, '
            '(SELECT count(*) FROM "session" WHERE "userId" = ?) AS sessions'
        )
        .bind(a.plain["id"], a.plain["id"])
        .first()
    )
    assert (rows["accounts"], rows["sessions"]) == (0, 0)
