"""The room object in-process, with sockets from a WebSocketPair: editors and their identity
survive hibernation, the document survives eviction, limits on frames and sockets, and the
ping auto-response."""

from __future__ import annotations

import json

import pytest

from bindings.testing import runInDurableObject
from tests.collaboration.conftest import insert, rooms_config
from tests.messaging.test_inbox import Socket as MessagingSocket
from workers.collaboration import room
from workers.collaboration.room import ROOM_HEADER, USER_HEADER


class Socket(MessagingSocket):
    """The client end of a pair, in-process (frames in a queue), with ``expect(type)``."""

    async def expect(self, kind):
        frame = await self.recv()
        assert frame.get("type") == kind, frame
        return frame

    def send(self, frame):
        self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))


@pytest.fixture
async def h(hearth):
    config = rooms_config()
    (collab,) = (w for w in config["workers"] if w["name"] == "collaboration")
    collab["vars"] = {"FRAMES_PER_SECOND": 5}  # bursts of 10
    return await hearth(config)


def upgrade(room_name: str, user: str = "u1") -> dict[str, str]:
    """The headers the worker sends with an upgrade it forwards."""
    return {"upgrade": "websocket", ROOM_HEADER: room_name,
            USER_HEADER: json.dumps({"id": user, "name": user.upper()})}  # fmt: skip


async def join(h, name="notes", user="u1"):
    response = (
        await h.env("collaboration")
        .ROOMS.getByName(name)
        .fetch("https://rooms.test/ws", headers=upgrade(name, user))
    )
    assert response.status == 101
    socket = Socket(response.web_socket)
    socket.state = await socket.expect("document_state")
    return socket


async def test_who_is_who_and_the_text_survive_eviction(h):
    alice = await join(h, user="alice")
    bob = await join(h, user="bob")
    await alice.expect("presence")
    alice.send(insert(0, 0, "kept"))
    assert await alice.recv() == {"type": "ack", "version": 1}
    await bob.expect("operation")
    stub = h.env("collaboration").ROOMS.getByName("notes")
    before = await runInDurableObject(stub, lambda instance, ctx: id(instance))
    await stub._host.evict_idle(0)  # only hibernatable sockets are left: the instance goes
    bob.send(insert(1, 4, "!"))
    assert await bob.recv() == {"type": "ack", "version": 2}
    relayed = await alice.expect("operation")
    assert relayed["sessionId"] == bob.state["sessionId"]  # from the attachment
    assert await runInDurableObject(stub, lambda instance, ctx: id(instance)) != before
    assert (await stub.read("notes"))["content"] == "kept!"
    bob.ws.close(1000)
    left = await alice.expect("presence")
    assert (left["action"], left["user"]["userId"], left["user"]["name"]) == ("leave", "bob", "BOB")


async def test_a_socket_over_its_frame_rate_is_told_and_resynchronised(h):
    peer = await join(h)
    for _ in range(10):  # the burst
        peer.send({"type": "cursor", "cursor": {"position": 0}, "version": 0})
    peer.send(insert(0, 0, "x"))
    error = await peer.expect("error")
    assert error["code"] == "rate_limited"
    assert (await peer.expect("document_state"))["document"] == {"content": "", "version": 0}
    peer.send({"type": "shout"})  # other frames are only refused
    assert (await peer.expect("error"))["code"] == "rate_limited"
    assert peer.frames.empty()


async def test_a_full_room_refuses_more_sockets(h, monkeypatch):
    monkeypatch.setattr(room, "MAX_SOCKETS", 2)
    await join(h)
    await join(h)
    stub = h.env("collaboration").ROOMS.getByName("notes")
    refused = await stub.fetch("https://rooms.test/ws", headers=upgrade("notes"))
    assert refused.status == 503 and (await refused.json()) == {"error": "This room is full"}


async def test_only_upgrades_from_the_worker_are_accepted(h):
    stub = h.env("collaboration").ROOMS.getByName("notes")
    plain = await stub.fetch("https://rooms.test/ws")
    assert plain.status == 426
    no_user = await stub.fetch("https://rooms.test/ws", headers={"upgrade": "websocket"})
    assert no_user.status == 426
    bad_room = await stub.fetch("https://rooms.test/ws", headers=upgrade("../x"))
    assert bad_room.status == 400


async def test_ping_is_answered_without_the_object(h):
    peer = await join(h)
    peer.send('{"type":"ping"}')
    assert await peer.recv() == {"type": "pong"}
