"""The shop as the project configures it (auth, api and cart workers from wrangler_compat.toml),
in-process through the host, with users, an admin, categories and products made through the
real paths: accounts with the auth worker's own account code, tokens it issues, catalogue
writes through the api over HTTP."""

from __future__ import annotations

import itertools
import tomllib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bindings.env import current_worker
from bindings.testing import Hearth
from tests.conftest import ROOT

SHOP_WORKERS = ("auth", "api", "cart")
SECRETS = {
    "BETTER_AUTH_SECRET": "test-better-auth-secret-0123456789abcdef",
    "JWT_SECRET": "test-jwt-secret-0123456789abcdef0123456789",
}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64  # a PNG signature is all the upload check reads
_emails = itertools.count()


def shop_config(
    api_vars: dict[str, Any] | None = None,
    ai: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
) -> dict:
    """The project's auth, api and cart workers, migrations from the repository;
    ``settings`` is the config's ``[hearth]`` table."""
    doc = tomllib.loads((ROOT / "wrangler_compat.toml").read_text())
    workers = [w for w in doc["workers"] if w["name"] in SHOP_WORKERS]
    for worker in workers:
        for db in worker.get("d1_databases", []):
            db["migrations_dir"] = str(ROOT / "migrations")
        if worker["name"] == "auth":
            worker["vars"] = {**worker.get("vars", {}), "AUTH_RATE_LIMIT": "false"}
        if worker["name"] == "api":
            worker["vars"] = {**worker.get("vars", {}), **(api_vars or {})}
            if ai is not None:
                worker["ai"] = {**worker["ai"], **ai}
    return {
        "compatibility_date": doc["compatibility_date"],
        "workers": workers,
        "hearth": settings or {},
    }


class User:
    """A signed-in caller: ``headers`` carry a customer access token from the auth worker."""

    def __init__(self, row: dict[str, Any], token: str) -> None:
        self.id = row["id"]
        self.email = row["email"]
        self.name = row["name"]
        self.headers = {"authorization": f"Bearer {token}"}


class Shop:
    """A running shop and helpers to call it."""

    def __init__(self, h: Hearth) -> None:
        self.h = h
        self.api = h.env("api")
        self.db = self.api.DB

    async def run(self, make: Callable[[], Awaitable[Any]], worker: str = "auth") -> Any:
        """Run code as if inside ``worker`` (its clock and waitUntil)."""
        token = current_worker.set(self.h.worker(worker))
        try:
            return await make()
        finally:
            current_worker.reset(token)

    async def user(self, *, role: str = "user", name: str = "Shopper") -> User:
        """A new account (the auth worker's create_account) and an access token it issued."""
        from workers.auth.accounts import create_account
        from workers.auth.settings import settings
        from workers.auth.store import Store
        from workers.auth.tokens import issue_access_token

        env = self.h.env("auth")
        email = f"{role}{next(_emails)}@example.com"
        row = await self.run(
            lambda: create_account(Store(env.DB), email=email, name=name, password=None, role=role)
        )
        token = await self.run(
            lambda: _async(issue_access_token(settings(env), row))  # clock of the worker
        )
        return User(row, token)

    async def request(self, method: str, path: str, user: User | None = None, **kw: Any):
        headers = {**(user.headers if user else {}), **kw.pop("headers", {})}
        return await self.h.SELF.request(method, path, headers=headers, **kw)

    async def get(self, path: str, user: User | None = None, **kw: Any) -> httpx.Response:
        return await self.request("GET", path, user, **kw)

    async def post(self, path: str, user: User | None = None, **kw: Any) -> httpx.Response:
        return await self.request("POST", path, user, **kw)

    async def put(self, path: str, user: User | None = None, **kw: Any) -> httpx.Response:
        return await self.request("PUT", path, user, **kw)

    async def delete(self, path: str, user: User | None = None, **kw: Any) -> httpx.Response:
        return await self.request("DELETE", path, user, **kw)

    async def category(self, admin: User, name: str = "Shoes") -> dict[str, Any]:
        response = await self.post("/categories", admin, json={"name": name})
        assert response.status_code == 201, response.text
        return response.json()

    async def product(self, admin: User, category: dict[str, Any], **fields: Any) -> dict:
        """A product created through ``POST /products`` (JSON)."""
        body = {
            "name": f"Product {next(_emails)}",
            "price": 1000,
            "inventory_count": 10,
            "category_id": category["id"],
            **fields,
        }
        response = await self.post("/products", admin, json=body)
        assert response.status_code == 201, response.text
        return response.json()

    async def settle(self) -> None:
        """Let waitUntil work (cache writes, metrics) finish."""
        await self.h.runtime.tasks.drain()


async def _async(value: Any) -> Any:
    return value


async def start_shop(hearth: Callable[..., Awaitable[Hearth]], tmp_path: Path, **config: Any):
    """A started, migrated shop whose state lives in ``tmp_path``."""
    from bindings.d1 import migrations

    (tmp_path / ".dev.vars").write_text("".join(f"{k}={v}\n" for k, v in SECRETS.items()))
    h = await hearth(shop_config(**config), state_dir=tmp_path / "state")
    await migrations.apply(h.env("api").DB, ROOT / "migrations")
    return Shop(h)


@pytest.fixture
async def shop(hearth, tmp_path) -> Shop:
    return await start_shop(hearth, tmp_path)


@pytest.fixture
async def admin(shop: Shop) -> User:
    return await shop.user(role="admin", name="Admin")


@pytest.fixture
async def alice(shop: Shop) -> User:
    return await shop.user(name="Alice")


@pytest.fixture
async def bob(shop: Shop) -> User:
    return await shop.user(name="Bob")


@pytest.fixture
async def goods(shop: Shop, admin: User) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two products: a kite (1250 cents, 5 in stock) and a yoyo (399 cents, 200 in stock)."""
    category = await shop.category(admin)
    kite = await shop.product(admin, category, name="Kite", price=1250, inventory_count=5)
    yoyo = await shop.product(admin, category, name="Yoyo", price=399, inventory_count=200)
    return kite, yoyo
