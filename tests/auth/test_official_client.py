"""The official better-auth JS client (npm, pinned in tests/auth/js) against a real server."""

from __future__ import annotations

import json

import pytest

from bindings.testing import free_port, require_service, server
from tests.auth.conftest import ADMIN, node, node_ready, write_config
from tests.auth.test_processes import seed_user

pytestmark = pytest.mark.e2e


def test_official_client_works_unchanged(tmp_path):
    require_service("node + tests/auth/js/node_modules", node_ready(), "npm ci in tests/auth/js")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = write_config(tmp_path / "config", vars={"BETTER_AUTH_URL": base})
    state = tmp_path / "state"
    seed_user(config, state, *ADMIN)
    with server(config, state, port=port):
        out = json.loads(node("official-client.mjs", base, *ADMIN, timeout=120))
    assert out["signUp"]["data"] is None
    assert out["signUp"]["error"]["status"] == 400
    assert out["signUp"]["error"]["code"] == "EMAIL_PASSWORD_SIGN_UP_DISABLED"
    assert out["signIn"]["error"] is None and out["signIn"]["email"] == ADMIN[0]
    assert out["cookies"] == ["better-auth.session_token"]
    session = out["session"]
    assert session["error"] is None and session["token"] == out["signIn"]["token"]
    assert session["role"] == "admin" and session["email"] == ADMIN[0]
    assert session["createdAtIsDate"] and session["expiresAtIsDate"]  # the client's date reviver
    assert out["listSessions"]["tokens"] == [out["signIn"]["token"]]
    assert out["createUser"] == {"error": None, "email": "created.user@example.com", "role": "user"}
    assert out["duplicate"] == {"status": 400, "code": "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL"}
    assert out["listUsers"]["total"] == 2
    assert out["listUsers"]["emails"] == [ADMIN[0], "created.user@example.com"]
    assert out["signOut"]["data"] == {"success": True} and out["signOut"]["cookiesLeft"] == []
    assert out["afterSignOut"] == {"data": None, "error": None}
