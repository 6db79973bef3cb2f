"""The request-auth helper from another worker: over a service binding, and from the shared D1."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.auth.conftest import ADMIN, BINDINGS, USER, worker

SHOP = Path(__file__).with_name("shop_worker.py")

SHOP_WORKER = worker(
    "shop", str(SHOP), ["/shop/*"], '\n[[workers.services]]\nbinding = "AUTH"\nservice = "auth"\n'
)
# Another worker with no AUTH binding: it resolves callers from the shared D1 itself.
DIRECT_WORKER = worker("direct", str(SHOP), ["/direct/*"], BINDINGS)


@pytest.fixture
async def a(auth):
    a = await auth(vars={"AUTH_RATE_LIMIT": "false"}, extra=SHOP_WORKER)
    await a.user(*ADMIN, role="admin", name="Admin")
    await a.user(*USER, name="User")
    return a


async def test_session_cookie_bearer_and_jwt_through_the_service_binding(a):
    assert (await a.get("/shop/me")).json() is None
    signed_in, cookie = await a.sign_in(*USER)
    by_cookie = (await a.get("/shop/me", cookie=cookie)).json()
    assert by_cookie["email"] == USER[0] and by_cookie["via"] == "session"
    assert by_cookie["roles"] == ["user"] and by_cookie["scopes"] == ["*"]
    bearer = signed_in.headers["set-auth-token"]
    by_bearer = (await a.get("/shop/me", headers={"authorization": f"Bearer {bearer}"})).json()
    assert by_bearer["via"] == "bearer" and by_bearer["session_id"] == by_cookie["session_id"]
    tokens = (await a.post("/auth/login", {"email": USER[0], "password": USER[1]})).json()
    jwt_auth = {"authorization": f"Bearer {tokens['accessToken']}"}
    by_jwt = (await a.get("/shop/me", headers=jwt_auth)).json()
    assert by_jwt["via"] == "jwt" and by_jwt["user_id"] == by_cookie["user_id"]
    forged = {"authorization": f"Bearer {tokens['accessToken'][:-4]}AAAA"}
    assert (await a.get("/shop/me", headers=forged)).json() is None


async def test_require_user_and_role_answer_401_and_403_json(a):
    anonymous = await a.get("/shop/admin")
    assert anonymous.status_code == 401
    assert anonymous.json() == {"error": "Authentication required"}
    _, user_cookie = await a.sign_in(*USER)
    forbidden = await a.get("/shop/admin", cookie=user_cookie)
    assert forbidden.status_code == 403 and forbidden.json() == {
        "error": "Insufficient permissions"
    }
    _, admin_cookie = await a.sign_in(*ADMIN)
    assert (await a.get("/shop/admin", cookie=admin_cookie)).json() == {"admin": ADMIN[0]}


async def test_direct_mode_reads_the_shared_d1(auth):
    a = await auth(vars={"AUTH_RATE_LIMIT": "false"}, extra=DIRECT_WORKER)
    await a.user(*USER, name="User")
    _, cookie = await a.sign_in(*USER)
    who = (await a.get("/direct/me", cookie=cookie)).json()
    assert who["email"] == USER[0] and who["via"] == "session"


async def websocket(h, path: str, query: str = "", headers=()):
    """Drive one WebSocket connection through the host; returns what the server sent."""
    inbox: asyncio.Queue = asyncio.Queue()
    await inbox.put({"type": "websocket.connect"})
    sent = []

    async def receive():
        return await inbox.get()

    async def send(message):
        sent.append(message)
        if message["type"] in ("websocket.close", "websocket.http.response.body"):
            await inbox.put({"type": "websocket.disconnect", "code": 1000})

    scope = {
        "type": "websocket", "asgi": {"version": "3.0"}, "scheme": "ws", "path": path,
        "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8787"), *headers], "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8787), "subprotocols": [],
    }  # fmt: skip
    await asyncio.wait_for(h.host(scope, receive, send), 10)
    return sent


async def test_websocket_upgrade_with_query_token_or_cookie(a):
    signed_in, cookie = await a.sign_in(*USER)
    token = signed_in.headers["set-auth-token"]
    from urllib.parse import quote

    sent = await websocket(a.h, "/shop/ws", f"token={quote(token)}")
    assert sent[0]["type"] == "websocket.accept"
    assert '"user":"user@example.com"' in sent[1]["text"].replace(" ", "")
    sent = await websocket(a.h, "/shop/ws", headers=[(b"cookie", cookie.encode())])
    assert '"via":"session"' in sent[1]["text"].replace(" ", "")
    refused = await websocket(a.h, "/shop/ws")
    assert refused[0]["type"] == "websocket.close" and refused[0]["code"] == 1008
