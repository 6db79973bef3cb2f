"""The profiles worker under test: the repository's own ``auth`` and ``profiles`` blocks of
wrangler_compat.toml (so the real config is exercised), migrated, with users made the way the
auth worker's tests make them and API keys created over its HTTP API."""

from __future__ import annotations

import asyncio
import inspect
import json
import shutil
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bindings.clock import ManualClock
from bindings.env import current_worker
from tests.auth.conftest import ORIGIN, SECRETS, cookie_header
from tests.queues.conftest import until

ROOT = Path(__file__).resolve().parent.parent.parent
NOW = 1_800_000_000.0  # 2027-01-15, on a ManualClock
WEBHOOK_SECRET = "whsec_test_0123456789abcdef0123456789abcdef"
PROXY_KEY = "test-proxy-credentials-key-0123456789abcdef"
PASSWORD = "fleet-password-1"
ALICE = "alice@example.com"
BOB = "bob@example.com"
CAROL = "carol@example.com"


def config_doc(profile_vars: dict[str, Any] | None = None) -> dict[str, Any]:
    """The repository's auth and profiles workers, migrations from the repository."""
    doc = tomllib.loads((ROOT / "wrangler_compat.toml").read_text())
    workers = [w for w in doc["workers"] if w["name"] in ("auth", "profiles")]
    assert len(workers) == 2
    for w in workers:
        for db in w.get("d1_databases", []):
            db["migrations_dir"] = str(ROOT / "migrations")
        if w["name"] == "auth":
            w["vars"]["AUTH_RATE_LIMIT"] = "false"  # many sign-ins from one address
        else:
            w["vars"].update(profile_vars or {})
            for consumer in w["queues"]["consumers"]:
                consumer["max_batch_timeout"] = 0  # deliver at once rather than after 1 s
    doc["workers"] = workers
    doc["hearth"] = {"queues": {"poll_interval": 0.01}}
    return doc


def write_dev_vars(folder: Path, **extra: str) -> None:
    values = {
        **SECRETS,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "PROXY_CREDENTIALS_KEY": PROXY_KEY,
        **extra,
    }
    (folder / ".dev.vars").write_text("".join(f"{k}={v}\n" for k, v in values.items()))


class Client:
    """Requests as one API key (no cookies), optionally in one team."""

    def __init__(self, fleet: Fleet, key: str, user: dict[str, Any], email: str) -> None:
        self.fleet, self.key, self.user, self.email = fleet, key, user, email
        self.id = user["id"]

    async def request(
        self, method: str, path: str, *, team: str | None = None, **kw: Any
    ) -> httpx.Response:
        headers = {"x-api-key": self.key, **(kw.pop("headers", None) or {})}
        if team:
            headers["x-team-id"] = team
        return await self.fleet.request(method, path, headers=headers, **kw)

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        return await self.request("POST", path, json=json, **kw)

    async def put(self, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        return await self.request("PUT", path, json=json, **kw)

    async def delete(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("DELETE", path, **kw)

    async def profile(self, name: str = "Shop 1", **fields: Any) -> dict[str, Any]:
        team = fields.pop("team", None)
        body = {"name": name, "templateId": "windows-chrome", **fields}
        response = await self.post("/api/profiles", body, team=team)
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]


class Fleet:
    """The started workers, a clock, and helpers to make users and keys."""

    def __init__(self, h: Any, clock: ManualClock) -> None:
        self.h = h
        self.clock = clock
        self.env = h.env("profiles")
        self.auth_env = h.env("auth")
        self.module = h.worker("profiles").main.module
        self.seeded: dict[str, tuple[dict[str, Any], str]] = {}

    async def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        self.h.SELF.cookies.clear()
        return await self.h.SELF.request(method, path, **kw)

    async def in_worker(self, name: str, make: Callable[[], Any]) -> Any:
        """Run code as the worker ``name`` would (its clock, its waitUntil)."""
        token = current_worker.set(self.h.worker(name))
        try:
            result = make()
            return await result if inspect.isawaitable(result) else result
        finally:
            current_worker.reset(token)

    async def user(self, email: str, name: str = "User") -> dict[str, Any]:
        from workers.auth.accounts import create_account
        from workers.auth.store import Store

        store = Store(self.auth_env.DB)
        return await self.in_worker(  # type: ignore[no-any-return]
            "auth",
            lambda: create_account(store, email=email, name=name, password=PASSWORD, role="user"),
        )

    async def key(self, email: str, **body: Any) -> str:
        """An API key of ``email`` (signed in over HTTP, key created by the auth worker)."""
        signed = await self.request(
            "POST", "/api/auth/sign-in/email", json={"email": email, "password": PASSWORD}
        )
        assert signed.status_code == 200, signed.text
        made = await self.request(
            "POST",
            "/api/auth/api-key/create",
            json={"rateLimitMax": 1000, **body},
            headers={"cookie": cookie_header(signed), "origin": ORIGIN},
        )
        assert made.status_code == 200, made.text
        return str(made.json()["key"])

    async def client(self, email: str, name: str = "User", **key: Any) -> Client:
        user = await self.user(email, name)
        return Client(self, await self.key(email, **key), user, email)

    async def rows(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        result = await self.env.DB.prepare(sql).bind(*params).all()
        return [dict(r) for r in result["results"]]

    until = staticmethod(until)  # wait for the queue consumer (or anything) to get there


@pytest.fixture(scope="session")
def seeded(tmp_path_factory) -> tuple[Path, dict[str, tuple[dict[str, Any], str]]]:
    """A migrated state folder holding ALICE and BOB with an API key each, made once per
    session (scrypt makes every user cost a tenth of a second); each test starts from a copy."""
    folder = tmp_path_factory.mktemp("profiles-seed")
    write_dev_vars(folder)

    async def build() -> dict[str, tuple[dict[str, Any], str]]:
        from bindings.d1 import migrations
        from bindings.testing import Hearth

        async with Hearth(config_doc(), folder / "state", clock=ManualClock(NOW)) as h:
            await migrations.apply(h.env("profiles").DB, ROOT / "migrations")
            fleet = Fleet(h, ManualClock(NOW))
            made = {}
            for email, name in ((ALICE, "Alice"), (BOB, "Bob")):
                made[email] = (await fleet.user(email, name), await fleet.key(email))
            return made

    return folder / "state", asyncio.run(build())


@pytest.fixture
def start(hearth, tmp_path, seeded) -> Callable[..., Any]:
    """``fleet = await start(vars={...}, secrets={...})``: both workers on a copy of the seeded
    state (migrated; ALICE and BOB with their keys in ``fleet.seeded``)."""

    async def make(
        *, vars: dict[str, Any] | None = None, secrets: dict[str, str] | None = None
    ) -> Fleet:
        write_dev_vars(tmp_path, **(secrets or {}))
        state = tmp_path / "state"
        shutil.copytree(seeded[0], state)
        clock = ManualClock(NOW)
        fleet = Fleet(await hearth(config_doc(vars), clock=clock, state_dir=state), clock)
        fleet.seeded = seeded[1]
        return fleet

    return make


@pytest.fixture
async def fleet(start) -> Fleet:
    return await start()  # type: ignore[no-any-return]


@pytest.fixture
async def alice(fleet: Fleet) -> Client:
    user, key = fleet.seeded[ALICE]
    return Client(fleet, key, user, ALICE)


@pytest.fixture
async def bob(fleet: Fleet) -> Client:
    user, key = fleet.seeded[BOB]
    return Client(fleet, key, user, BOB)


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()
