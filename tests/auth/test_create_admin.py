"""scripts/create-admin: the password from stdin, the checks, and the account it writes."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from bindings.testing import server
from tests.auth.conftest import ROOT, write_config

pytestmark = pytest.mark.e2e
SCRIPT = str(ROOT / "scripts" / "create-admin")


def run(config, state, *args, password="a-good-password"):
    return subprocess.run(
        [sys.executable, SCRIPT, "--config", str(config), "--persist-to", str(state), *args],
        input=password + "\n", capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_create_admin_then_sign_in(tmp_path):
    config = write_config(tmp_path / "config")
    state = tmp_path / "state"
    done = run(config, state, "--email", "Root@Example.com", "--name", "Root")
    assert done.returncode == 0, done.stderr
    assert "created admin root@example.com" in done.stdout
    assert "applied migration 0001_auth_better_auth.sql" in done.stdout
    again = run(config, state, "--email", "root@example.com", "--name", "Root")
    assert again.returncode == 1 and "User already exists" in again.stderr
    short = run(config, state, "--email", "x@example.com", "--name", "X", password="short")
    assert short.returncode == 1 and "8 to 128" in short.stderr
    bad_email = run(config, state, "--email", "nope", "--name", "X")
    assert bad_email.returncode == 1 and "Invalid email" in bad_email.stderr
    missing = run(tmp_path / "nope.toml", state, "--email", "a@b.co", "--name", "X")
    assert missing.returncode == 2
    with server(config, state) as s:
        response = httpx.post(
            f"{s.url}/api/auth/sign-in/email",
            json={"email": "root@example.com", "password": "a-good-password"},
        )
        assert response.status_code == 200 and response.json()["user"]["role"] == "admin"
