"""Collaboration test helpers: the project's auth and collaboration workers (from
wrangler_compat.toml) in-process or in a real server, with signed-in users, and a WebSocket
client that speaks the room's frames."""

from __future__ import annotations

import asyncio
import json
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

from bindings.testing import ServerProcess, free_port
from tests.auth.conftest import SECRETS, Auth, migrate
from tests.auth.test_processes import seed_user
from tests.conftest import ROOT

ALICE = ("alice@example.com", "alice-password-1")
BOB = ("bob@example.com", "bob-password-1")


def rooms_config(**auth_vars: str) -> dict[str, Any]:
    """The project's auth and collaboration workers, with the repository's migrations, sign-in
    rate limits off (tests sign in many times from one address) and frame limits loose (test
    clients send as fast as acknowledgements come; the limit has a test of its own)."""
    doc = tomllib.loads((ROOT / "wrangler_compat.toml").read_text())
    chosen = [w for w in doc["workers"] if w["name"] in ("auth", "collaboration")]
    for worker in chosen:
        for db in worker.get("d1_databases", []):
            db["migrations_dir"] = str(ROOT / "migrations")
        if worker["name"] == "auth":
            worker["vars"] = {**worker.get("vars", {}), "AUTH_RATE_LIMIT": "false", **auth_vars}
        else:
            worker["vars"] = {**worker.get("vars", {}), "FRAMES_PER_SECOND": 100_000}
    return {"compatibility_date": doc["compatibility_date"], "workers": chosen}


def write_config(folder: Path, **auth_vars: str) -> Path:
    """``rooms_config`` as a file, with the auth secrets in .dev.vars beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "wrangler.json"
    path.write_text(json.dumps(rooms_config(**auth_vars)))
    (folder / ".dev.vars").write_text("".join(f"{k}={v}\n" for k, v in SECRETS.items()))
    return path


def insert(base: int, position: int, text: str) -> dict[str, Any]:
    """An ``operation`` frame inserting ``text``, made at version ``base``."""
    return {"type": "operation", "baseVersion": base,
            "operation": {"type": "insert", "position": position, "text": text}}  # fmt: skip


def delete(base: int, position: int, length: int) -> dict[str, Any]:
    """An ``operation`` frame deleting ``length`` characters, made at version ``base``."""
    return {"type": "operation", "baseVersion": base,
            "operation": {"type": "delete", "position": position, "length": length}}  # fmt: skip


# -- in-process ---------------------------------------------------------------------------------


@pytest.fixture
async def site(hearth, tmp_path) -> Auth:
    """Both workers in-process, migrated, with users alice and bob (``site.h`` is the Hearth)."""
    h = await hearth(write_config(tmp_path / "config"))
    await migrate(h.env("auth").DB)
    a = Auth(h)
    for email, password in (ALICE, BOB):
        await a.user(email, password, name=email.split("@")[0].title())
    return a


# -- a real server ------------------------------------------------------------------------------


class Running:
    """A real server with signed-in users: ``token[email]``, ``cookie[email]``."""

    def __init__(self, proc: Any, state: Path, config: Path) -> None:
        self.proc, self.state, self.config = proc, state, config
        self.url = proc.url
        self.token: dict[str, str] = {}
        self.cookie: dict[str, str] = {}
        self.opened: list[Peer] = []

    def sign_in(self, email: str, password: str) -> None:
        response = httpx.post(f"{self.url}/api/auth/sign-in/email",
                              json={"email": email, "password": password}, timeout=30)  # fmt: skip
        response.raise_for_status()
        self.token[email] = response.json()["token"]
        self.cookie[email] = "; ".join(f"{k}={v}" for k, v in response.cookies.items())

    def ws_url(self, room: str, token: str | None = None) -> str:
        query = f"?token={token}" if token else ""
        return self.url.replace("http://", "ws://") + f"/rooms/{room}/ws{query}"

    async def connect(self, room: str, email: str = ALICE[0], **kw: Any) -> Peer:
        """A socket to ``room`` as ``email`` (by token), with its ``document_state`` read."""
        ws = await ws_connect(self.ws_url(room, self.token[email]), max_size=None, **kw)
        peer = Peer(ws)
        self.opened.append(peer)
        peer.state = await peer.expect("document_state")
        return peer

    def get(self, path: str, email: str = ALICE[0]) -> httpx.Response:
        headers = {"authorization": f"Bearer {self.token[email]}"}
        return httpx.get(self.url + path, headers=headers, timeout=30)


class Peer:
    """A test's socket: ``send(frame)``, ``recv()``, ``expect(type)``."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.state: dict[str, Any] = {}

    @property
    def session(self) -> str:
        return str(self.state["sessionId"])

    async def send(self, frame: dict[str, Any] | str) -> None:
        await self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    async def recv(self, timeout: float = 10) -> dict[str, Any]:
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))  # type: ignore[no-any-return]

    async def expect(self, kind: str) -> dict[str, Any]:
        frame = await self.recv()
        assert frame["type"] == kind, frame
        return frame

    async def close(self) -> None:
        await self.ws.close()


def prepare(folder: Path, users: tuple[tuple[str, str], ...] = (ALICE, BOB)) -> Running:
    """Config, state with the ``users`` created, and a server process for them (not started:
    ``with running.proc:`` runs it; ``stop()``/``kill()`` and ``start()`` again restart it)."""
    port = free_port()
    config = write_config(folder / "config", BETTER_AUTH_URL=f"http://127.0.0.1:{port}")
    state = folder / "state"
    for email, password in users:
        seed_user(config, state, email, password)
    return Running(ServerProcess(config, state, port=port), state, config)


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One real server for the socket tests, alice and bob signed in."""
    running = prepare(tmp_path_factory.mktemp("collab"))
    with running.proc:
        for email, password in (ALICE, BOB):
            running.sign_in(email, password)
        yield running


@pytest.fixture
async def srv(live: Running) -> AsyncIterator[Running]:
    """The shared server; the sockets a test opened are closed after it."""
    yield live
    opened, live.opened = live.opened, []
    for peer in opened:
        await peer.close()
