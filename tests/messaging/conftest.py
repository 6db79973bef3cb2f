"""Messaging test helpers: the worker's config (in-process, with chosen limits), one real server
for the socket tests, and registered users with connected clients."""

from __future__ import annotations

import itertools
import json
import os
import tomllib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bindings.testing import ServerProcess, server
from tests.conftest import ROOT
from workers.messaging.client import ChatClient, Identity

# The worker as the project configures it, with limits loose enough for a run that registers
# and connects many users from 127.0.0.1 (the limits themselves are tested with low values).
TEST_VARS = {
    "CORS_ORIGINS": ["http://allowed.test"],
    "REGISTRATIONS_PER_HOUR": 100_000,
    "CONNECTIONS_PER_MINUTE": 100_000,
    "FRAMES_PER_SECOND": 100,
}
_names = itertools.count()


def messaging_config(**vars: Any) -> dict[str, Any]:
    """The project's messaging worker alone, its vars replaced by TEST_VARS and ``vars``."""
    doc = tomllib.loads((ROOT / "wrangler_compat.toml").read_text())
    (worker,) = (w for w in doc["workers"] if w["name"] == "messaging")
    worker["vars"] = {**worker["vars"], **TEST_VARS, **vars}
    return {"compatibility_date": doc["compatibility_date"], "workers": [worker]}


def write_config(folder: Path, **vars: Any) -> Path:
    """``messaging_config`` as a file for a server process."""
    path = folder / "wrangler.json"
    path.write_text(json.dumps(messaging_config(**vars)))
    return path


def fresh(prefix: str) -> str:
    """A username no other test (or earlier run against the same server) has taken."""
    return f"{prefix}_{os.getpid() % 10_000}_{next(_names)}"


@pytest.fixture(scope="session")
def chat_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One real server for the socket tests; ``.state`` is its state folder."""
    state = tmp_path_factory.mktemp("messaging")
    with server(write_config(tmp_path_factory.mktemp("config")), state) as s:
        s.state = state  # type: ignore[attr-defined]
        yield s


Users = Callable[..., Awaitable[list[ChatClient]]]


@pytest.fixture
async def users(chat_server: ServerProcess) -> AsyncIterator[Users]:
    """``alice, bob = await users("alice", "bob", connect=True)``: fresh registered users
    (the prefix names them), connected unless ``connect=False``; closed after the test."""
    made: list[ChatClient] = []

    async def make(
        *prefixes: str, connect: bool = True, transcript: bool = False
    ) -> list[ChatClient]:
        clients = []
        for prefix in prefixes:
            client = ChatClient(chat_server.url, Identity.generate(fresh(prefix)),
                                transcript=[] if transcript else None)  # fmt: skip
            made.append(client)
            await client.register()
            if connect:
                await client.connect()
            clients.append(client)
        return clients

    yield make
    for client in made:
        await client.close()


async def befriend(a: ChatClient, b: ChatClient) -> None:
    """``a`` asks, ``b`` accepts; both see it happen."""
    await a.request(b.identity.username)
    assert (await b.next()).kind == "connection_request"
    await b.accept(a.identity.username)
    assert (await a.next()).kind == "connection_accepted"


async def reconnect(client: ChatClient) -> dict[str, Any]:
    """Close ``client``'s socket and connect again; the ``authenticated`` frame."""
    await client.disconnect()
    return await client.connect()


def state_bytes(folder: Path) -> bytes:
    """Every byte the server keeps on disk (databases, their WAL and journals)."""
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())
