"""Shared helpers of the auth worker's tests: a migrated auth worker, seeding, requests without
a shared cookie jar, and the official JS client's folder with a Node runner."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bindings.env import current_worker

JS_DIR = Path(__file__).parent / "js"


def node_ready() -> bool:
    """Node and the pinned npm packages (``npm ci`` in tests/auth/js) are installed."""
    return shutil.which("node") is not None and (JS_DIR / "node_modules" / "better-auth").is_dir()


def node(*args: str, timeout: float = 60) -> str:
    """Run ``node <args>`` in tests/auth/js and return its stdout (raises on failure)."""
    done = subprocess.run(
        ["node", *args], cwd=JS_DIR, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise AssertionError(
            f"node {args[0]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    return done.stdout


# -- a running auth worker ------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent.parent
ORIGIN = "http://127.0.0.1:8787"
SECRETS = {
    "BETTER_AUTH_SECRET": "test-better-auth-secret-0123456789abcdef",
    "JWT_SECRET": "test-jwt-secret-0123456789abcdef0123456789",
}
ADMIN = ("admin@example.com", "admin-password-1")
USER = ("user@example.com", "user-password-1")
NOW = 1_800_000_000.0  # a fixed "now" for tests on a ManualClock (2027-01-15)

# The auth worker's bindings: the shared D1 database and the KV namespace of its counters.
BINDINGS = f"""
[[workers.d1_databases]]
binding = "DB"
database_name = "hearth"
database_id = "hearth"
migrations_dir = "{ROOT / "migrations"}"

[[workers.kv_namespaces]]
binding = "AUTH_KV"
id = "auth-limits"
"""


def worker(name: str, main: str, routes: list[str], body: str = "") -> str:
    """One ``[[workers]]`` table of a wrangler_compat.toml."""
    quoted = ", ".join(f'"{r}"' for r in routes)
    return f'\n[[workers]]\nname = "{name}"\nmain = "{main}"\nroutes = [{quoted}]\n{body}'


AUTH_ROUTES = ["/api/auth/*", "/auth/*", "/login", "/logout", "/dashboard", "/dashboard/*"]


def write_config(folder: Path, *, vars: dict[str, str] | None = None, extra: str = "") -> Path:
    """A wrangler_compat.toml with the auth worker (plus ``extra`` TOML) and its .dev.vars."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = "".join(f'{k} = "{v}"\n' for k, v in (vars or {}).items())
    auth = worker("auth", "workers.auth.app", AUTH_ROUTES, f"\n[workers.vars]\n{lines}{BINDINGS}")
    text = 'compatibility_date = "2026-11-01"\n' + auth + extra
    (folder / "wrangler_compat.toml").write_text(text)
    (folder / ".dev.vars").write_text("".join(f"{k}={v}\n" for k, v in SECRETS.items()))
    return folder / "wrangler_compat.toml"


async def migrate(db: Any) -> None:
    """Apply the repository's D1 migrations (the ``hearth`` fixture runs in test mode)."""
    from bindings.d1 import migrations

    await migrations.apply(db, ROOT / "migrations")


class Auth:
    """A started auth worker with helpers: requests without a shared cookie jar, seeding."""

    def __init__(self, hearth: Any) -> None:
        self.h = hearth
        self.env = hearth.env("auth")

    async def run(self, make: Callable[[], Awaitable[Any]]) -> Any:
        """Run worker code as if inside the worker (its clock, waitUntil)."""
        token = current_worker.set(self.h.worker("auth"))
        try:
            return await make()
        finally:
            current_worker.reset(token)

    async def user(self, email: str, password: str | None, *, role: str = "user", name: str = "U"):
        from workers.auth.accounts import create_account
        from workers.auth.store import Store

        return await self.run(
            lambda: create_account(
                Store(self.env.DB), email=email, name=name, password=password, role=role
            )
        )

    async def request(
        self, method: str, path: str, *, cookie: str | None = None, origin: bool = True, **kw: Any
    ) -> httpx.Response:
        headers = dict(kw.pop("headers", {}) or {})
        if cookie is not None:
            headers["cookie"] = cookie
            if origin and method != "GET":
                headers.setdefault("origin", ORIGIN)
        self.h.SELF.cookies.clear()
        try:
            return await self.h.SELF.request(method, path, headers=headers, **kw)
        finally:
            self.h.SELF.cookies.clear()

    async def post(self, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        if json is not None:
            kw["json"] = json
        return await self.request("POST", path, **kw)

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("GET", path, **kw)

    async def sign_in(self, email: str, password: str, **body: Any) -> tuple[httpx.Response, str]:
        """Sign in; returns the response and a Cookie header carrying its cookies."""
        response = await self.post(
            "/api/auth/sign-in/email", {"email": email, "password": password, **body}
        )
        assert response.status_code == 200, response.text
        return response, cookie_header(response)


def cookie_header(response: httpx.Response) -> str:
    """The Cookie header a browser would send back after ``response``."""
    pairs = []
    for line in response.headers.get_list("set-cookie"):
        pair = line.split(";")[0]
        if "Max-Age=0" not in line:
            pairs.append(pair)
    return "; ".join(pairs)


@pytest.fixture
async def auth(hearth, tmp_path) -> AsyncIterator[Callable[..., Awaitable[Auth]]]:
    """``a = await auth(clock=..., vars=..., extra=...)``: the auth worker, migrated."""

    async def make(*, vars: dict[str, str] | None = None, extra: str = "", **options: Any) -> Auth:
        config = write_config(tmp_path / "config", vars=vars, extra=extra)
        h = await hearth(config, **options)
        await migrate(h.env("auth").DB)
        return Auth(h)

    yield make


@pytest.fixture
async def seeded(auth: Callable[..., Awaitable[Auth]]) -> Auth:
    """The auth worker (rate limits off) with the ADMIN and USER accounts."""
    a = await auth(vars={"AUTH_RATE_LIMIT": "false"})
    await a.user(*ADMIN, role="admin", name="Admin")
    await a.user(*USER, name="User")
    return a
