"""Real servers: twenty launches of one profile, spread over two server processes sharing the
state folder, give exactly one lock holder."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from bindings.testing import server
from tests.auth.conftest import ORIGIN, cookie_header
from tests.auth.test_processes import seed_user
from tests.profiles.conftest import PASSWORD, config_doc, write_dev_vars

pytestmark = pytest.mark.e2e


async def test_twenty_launches_across_two_processes(tmp_path):
    folder = tmp_path / "config"
    folder.mkdir()
    config = folder / "wrangler.json"
    config.write_text(json.dumps(config_doc()))
    write_dev_vars(folder)
    state = tmp_path / "state"
    seed_user(config, state, "ops@example.com", PASSWORD)  # also applies the migrations
    with server(config, state) as one, server(config, state) as two:
        async with httpx.AsyncClient(timeout=30) as http:
            signed = await http.post(
                f"{one.url}/api/auth/sign-in/email",
                json={"email": "ops@example.com", "password": PASSWORD},
            )
            made = await http.post(
                f"{one.url}/api/auth/api-key/create",
                json={"rateLimitMax": 1000},
                headers={"cookie": cookie_header(signed), "origin": ORIGIN},
            )
            key = {"x-api-key": made.json()["key"]}
            profile = await http.post(
                f"{two.url}/api/profiles",
                json={"name": "shared", "templateId": "linux-chrome"},
                headers=key,
            )
            assert profile.status_code == 201, profile.text
            pid = profile.json()["id"]
            launches = await asyncio.gather(
                *(
                    http.post(
                        f"{(one, two)[i % 2].url}/api/profiles/{pid}/launch",
                        headers={**key, "x-client-id": f"client-{i}"},
                    )
                    for i in range(20)
                )
            )
            assert sorted(r.status_code for r in launches) == [200] + [409] * 19
            winner = next(r for r in launches if r.status_code == 200)
            holder = winner.json()["profile"]["locked_by"]
            assert all(r.json()["lastActive"] for r in launches if r.status_code == 409)
            shown = await http.get(f"{one.url}/api/profiles/{pid}", headers=key)
            assert shown.json()["locked_by"] == holder and shown.json()["launch_count"] == 1
