"""A room under ``serve --workers 2``: its object lives in one process, and editors who reach
either process (WebSocket upgrades relayed to the owner with the authenticated caller) edit the
same text; HTTP reads and saves reach it from both."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.auth.test_processes import seed_user
from tests.collaboration.conftest import ALICE, BOB, insert, write_config
from tests.processes import Cluster

pytestmark = pytest.mark.e2e


def test_editors_on_both_processes_share_one_room(tmp_path):
    config = write_config(tmp_path / "config")
    state = tmp_path / "state"
    for who in (ALICE, BOB):
        seed_user(config, state, *who)
    with Cluster(state, config=config, workers=2) as cluster:
        tokens = []
        for i, (email, password) in enumerate((ALICE, BOB)):
            body = {"email": email, "password": password}
            signed = httpx.post(cluster.url(i) + "/api/auth/sign-in/email", json=body, timeout=30)
            tokens.append(signed.json()["token"])
        asyncio.run(edit_across(cluster, tokens))
        bearer = [{"authorization": f"Bearer {token}"} for token in tokens]
        saved = httpx.post(cluster.url(1) + "/rooms/shared/save", json={"content": "reset"},
                           headers=bearer[1], timeout=30)  # fmt: skip
        assert saved.json()["version"] == 4
        read = httpx.get(cluster.url(0) + "/rooms/shared/document", headers=bearer[0], timeout=30)
        assert read.json() == {"room": "shared", "content": "reset", "version": 4}


async def edit_across(cluster: Cluster, tokens: list[str]) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with ws_connect(cluster.ws(1, "/rooms/shared/ws")):
            pass
    assert refused.value.response.status_code == 401
    url = [cluster.ws(i, f"/rooms/shared/ws?token={tokens[i]}") for i in range(2)]
    async with ws_connect(url[0]) as alice, ws_connect(url[1]) as bob:
        first = json.loads(await alice.recv())
        second = json.loads(await bob.recv())
        assert [p["sessionId"] for p in second["present"]] == [first["sessionId"],
                                                               second["sessionId"]]  # fmt: skip
        assert json.loads(await alice.recv())["action"] == "join"
        await alice.send(json.dumps(insert(0, 0, "hi ")))
        await bob.send(json.dumps(insert(0, 0, "there")))
        frames = [json.loads(await asyncio.wait_for(ws.recv(), 10))
                  for ws in (alice, alice, bob, bob)]  # fmt: skip
        assert {f["type"] for f in frames} == {"ack", "operation"}
        await bob.send("x" * (65 * 1024))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(bob.recv(), 10)
        assert closed.value.rcvd.code == 1009  # the owner's close crosses the relay
        assert json.loads(await asyncio.wait_for(alice.recv(), 10))["action"] == "leave"
