"""Real servers: the sign-in rate limit holds across two processes sharing the state folder."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from bindings.testing import server
from tests.auth.conftest import ROOT, USER, write_config

pytestmark = pytest.mark.e2e


def seed_user(config, state, email, password, role="user"):
    """create-admin does what an operator would (it also applies the migrations)."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "create-admin"), "--email", email, "--name", "U",
         "--config", str(config), "--persist-to", str(state)],
        input=password + "\n", capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done


def test_rate_limit_counts_across_two_processes(tmp_path):
    config = write_config(tmp_path / "config")
    state = tmp_path / "state"
    seed_user(config, state, *USER)
    with server(config, state) as one, server(config, state) as two:
        statuses = []
        for i in range(5):
            url = (one if i % 2 == 0 else two).url
            response = httpx.post(
                f"{url}/api/auth/sign-in/email",
                json={"email": USER[0], "password": "wrong-password"},
                timeout=30,
            )
            statuses.append(response.status_code)
        assert statuses == [401, 401, 401, 429, 429]
        assert int(response.headers["x-retry-after"]) >= 1
