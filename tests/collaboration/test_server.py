"""The room over real WebSockets: refused upgrades, presence, acknowledgements and transformed
operations, cursors, bad frames, 1009, the D1 log, and clients editing at random that end with
the server's text."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import sqlite3

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.collaboration.conftest import ALICE, BOB, delete, insert
from workers.collaboration import ot
from workers.collaboration.client import ClientState

pytestmark = pytest.mark.e2e

_rooms = itertools.count()


def fresh_room(prefix: str = "room") -> str:
    return f"{prefix}-{random.getrandbits(32):08x}-{next(_rooms)}"


def relayed(sent: dict, version: int, sender) -> dict:
    """The ``operation`` frame others receive for ``sent`` applied as ``version``."""
    return {"type": "operation", "operation": sent["operation"], "version": version,
            "sessionId": sender.session}  # fmt: skip


async def refused(url: str, **kw) -> int:
    with pytest.raises(InvalidStatus) as info:
        async with ws_connect(url, **kw):
            pass
    return info.value.response.status_code


async def test_upgrades_without_a_valid_caller_are_refused_before_the_upgrade(srv):
    room = fresh_room()
    assert await refused(srv.ws_url(room)) == 401
    assert await refused(srv.ws_url(room, "A" * 32)) == 401
    assert await refused(srv.ws_url(room, "not.a.jwt")) == 401
    assert await refused(srv.ws_url("bad name", srv.token[ALICE[0]])) == 400
    cookie = srv.cookie[ALICE[0]]
    # A session cookie is only good from this origin (cross-site WebSocket hijacking).
    evil = {"cookie": cookie, "origin": "https://evil.example"}
    assert await refused(srv.ws_url(room), additional_headers=evil) == 403
    own = {"cookie": cookie, "origin": srv.url}
    async with ws_connect(srv.ws_url(room), additional_headers=own) as ws:
        assert json.loads(await ws.recv())["type"] == "document_state"


async def test_document_state_and_presence(srv):
    room = fresh_room()
    alice = await srv.connect(room, ALICE[0])
    state = alice.state
    assert state["document"] == {"content": "", "version": 0}
    assert [p["sessionId"] for p in state["present"]] == [alice.session]
    assert state["user"]["sessionId"] == alice.session and state["user"]["color"].startswith("#")
    bob = await srv.connect(room, BOB[0])
    assert [p["sessionId"] for p in bob.state["present"]] == [alice.session, bob.session]
    assert bob.state["present"][0]["userId"] != bob.state["present"][1]["userId"]
    joined = await alice.expect("presence")
    assert (joined["action"], joined["user"]["sessionId"]) == ("join", bob.session)
    again = await srv.connect(room, BOB[0])  # a second tab: a session of its own
    assert again.session != bob.session
    assert (await alice.expect("presence"))["user"]["sessionId"] == again.session
    await bob.expect("presence")
    await again.close()
    left = await alice.expect("presence")
    assert (left["action"], left["user"]["sessionId"]) == ("leave", again.session)
    assert (await bob.expect("presence"))["action"] == "leave"


async def test_an_operation_is_acknowledged_and_others_get_it_transformed(srv):
    room = fresh_room()
    alice = await srv.connect(room, ALICE[0])
    await alice.send(insert(0, 0, "hello"))
    assert await alice.recv() == {"type": "ack", "version": 1}
    bob = await srv.connect(room, BOB[0])
    assert bob.state["document"] == {"content": "hello", "version": 1}
    await alice.expect("presence")
    # Both edit version 1 at once; alice's reaches the server first.
    await alice.send(insert(1, 5, " world"))
    assert await alice.recv() == {"type": "ack", "version": 2}
    await bob.send(delete(1, 0, 1))
    assert await bob.recv() == relayed(insert(1, 5, " world"), 2, alice)
    assert await bob.recv() == {"type": "ack", "version": 3}
    moved = await alice.recv()  # bob's delete, made before alice's insert: nothing to move
    assert moved == relayed(delete(1, 0, 1), 3, bob)
    # Bob, still at version 1, inserts at the end of "hello", where alice inserted " world"
    # at that version: the tie-break decides which goes first.
    await bob.send(insert(1, 5, "!"))
    transformed = await alice.expect("operation")
    expected = 4 if bob.session < alice.session else 10  # before or after " world", minus "h"
    assert transformed["operation"] == {"type": "insert", "position": expected, "text": "!"}
    assert await bob.recv() == {"type": "ack", "version": 4}
    document = srv.get(f"/rooms/{room}/document").json()
    text = "ello! world" if bob.session < alice.session else "ello world!"
    assert document == {"room": room, "content": text, "version": 4}


async def test_a_delete_over_an_insert_splits_and_keeps_the_insert(srv):
    room = fresh_room()
    alice = await srv.connect(room, ALICE[0])
    await alice.send(insert(0, 0, "abcdef"))
    await alice.expect("ack")
    bob = await srv.connect(room, BOB[0])
    await alice.expect("presence")
    await alice.send(insert(1, 3, "XY"))
    await alice.expect("ack")
    await bob.send(delete(1, 1, 4))
    await bob.expect("operation")
    assert await bob.recv() == {"type": "ack", "version": 4}  # two deletes: two versions
    parts = [(await alice.expect("operation"))["operation"] for _ in range(2)]
    assert parts == [{"type": "delete", "position": 1, "length": 2},
                     {"type": "delete", "position": 3, "length": 2}]  # fmt: skip
    assert srv.get(f"/rooms/{room}/document").json()["content"] == "aXYf"


async def test_cursors_are_moved_to_the_current_version_and_relayed(srv):
    room = fresh_room()
    alice = await srv.connect(room, ALICE[0])
    bob = await srv.connect(room, BOB[0])
    await alice.expect("presence")
    await alice.send(insert(0, 0, "hello"))
    await alice.expect("ack")
    await bob.expect("operation")
    await bob.send({"type": "cursor", "cursor": {"position": 0}, "version": 0})
    relayed = await alice.expect("cursor")
    assert relayed == {"type": "cursor", "sessionId": bob.session,
                       "cursor": {"position": 0, "end": 0}, "version": 1}  # fmt: skip
    await bob.send({"type": "cursor", "cursor": {"position": 2, "end": 4}, "version": 1})
    assert (await alice.expect("cursor"))["cursor"] == {"position": 2, "end": 4}
    await bob.send({"type": "cursor", "cursor": {"position": 9}, "version": 1})
    assert (await bob.expect("error"))["code"] == "invalid_cursor"
    await bob.send({"type": "cursor", "cursor": {"position": "2"}, "version": 1})
    assert (await bob.expect("error"))["code"] == "malformed"
    await bob.send({"type": "user_info", "user": {"color": "#00AA11"}})
    info = await alice.expect("user_info")
    assert info["user"]["sessionId"] == bob.session and info["user"]["color"] == "#00aa11"
    await bob.send({"type": "user_info", "user": {"color": "red; x"}})
    assert (await bob.expect("error"))["code"] == "malformed"
    late = await srv.connect(room, ALICE[0])  # the new colour is part of the presence list
    assert {p["sessionId"]: p["color"] for p in late.state["present"]}[bob.session] == "#00aa11"


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "malformed"),
        ("[1, 2]", "malformed"),
        ('{"type": 5}', "malformed"),
        ("[" * 50_000, "malformed"),
        ('{"type": "shout"}', "unknown_type"),
    ],
)
async def test_malformed_frames_get_an_error_and_the_socket_stays_open(srv, frame, code):
    peer = await srv.connect(fresh_room())
    await peer.send(frame)
    assert (await peer.expect("error"))["code"] == code
    await peer.ws.send(b"\x00binary")
    assert (await peer.expect("error"))["code"] == "malformed"
    await peer.send(insert(0, 0, "still here"))
    assert await peer.recv() == {"type": "ack", "version": 1}


@pytest.mark.parametrize(
    ("operation", "base", "code"),
    [
        ({"type": "insert", "position": 4, "text": "x"}, 1, "invalid_operation"),
        ({"type": "delete", "position": 1, "length": 3}, 1, "invalid_operation"),
        ({"type": "insert", "position": -1, "text": "x"}, 1, "invalid_operation"),
        ({"type": "insert", "position": 0, "text": ""}, 1, "invalid_operation"),
        ({"type": "insert", "position": 0, "text": "a\r\nb"}, 1, "invalid_operation"),
        ({"type": "insert", "position": 0, "text": "\ud83d"}, 1, "invalid_operation"),
        ({"type": "move", "position": 0}, 1, "invalid_operation"),
        ({"type": "insert", "position": 0, "text": "x"}, 2, "bad_version"),
        ({"type": "insert", "position": 0, "text": "x"}, "1", "invalid_operation"),
    ],
)
async def test_refused_operations_get_an_error_and_the_document_again(srv, operation, base, code):
    peer = await srv.connect(fresh_room())
    await peer.send(insert(0, 0, "abc"))
    await peer.expect("ack")
    await peer.send({"type": "operation", "baseVersion": base, "operation": operation})
    assert (await peer.expect("error"))["code"] == code
    state = await peer.expect("document_state")
    assert state["document"] == {"content": "abc", "version": 1}
    assert state["sessionId"] == peer.session


async def test_a_frame_over_64_kib_closes_the_socket_with_1009(srv):
    room = fresh_room()
    peer = await srv.connect(room)
    other = await srv.connect(room, BOB[0])
    await peer.expect("presence")
    text = "é" * (33 * 1024)  # under 64 KiB of characters, over 64 KiB of UTF-8
    await peer.send(insert(0, 0, text))
    with pytest.raises(ConnectionClosed) as info:
        await peer.recv()
    assert info.value.rcvd.code == 1009
    assert (await other.expect("presence"))["action"] == "leave"
    assert srv.get(f"/rooms/{room}/document").json()["version"] == 0


async def test_operations_are_logged_to_d1(srv):
    room = fresh_room("logged")
    peer = await srv.connect(room)
    for n, text in enumerate(["a", "b", "c"]):
        await peer.send(insert(n, n, text))
        await peer.expect("ack")
    rows: list = []
    for _ in range(400):  # written by a waitUntil task, after the acknowledgements
        with sqlite3.connect(srv.state / "d1" / "hearth.sqlite") as db:
            rows = db.execute(
                "SELECT version, session_id, operation_type, operation_data FROM "
                "document_operations WHERE room = ? ORDER BY version",
                (room,),
            ).fetchall()
        if len(rows) == 3:
            break
        await asyncio.sleep(0.05)
    assert [(r[0], r[1], r[2]) for r in rows] == [(v, peer.session, "insert") for v in (1, 2, 3)]
    assert json.loads(rows[2][3]) == {"type": "insert", "position": 2, "text": "c"}


async def test_clients_editing_at_random_end_with_the_servers_text(srv):
    """Four clients running the page's algorithm type, delete and paste at random, all at once,
    with their frames interleaving on the wire however they do."""
    room = fresh_room("busy")
    rng = random.Random(7)
    peers = [await srv.connect(room, (ALICE, BOB)[i % 2][0]) for i in range(4)]
    states = [ClientState() for _ in peers]
    for peer, state in zip(peers, states, strict=True):
        state.handle(peer.state)

    async def reader(i: int) -> None:
        while True:
            frame = await peers[i].recv(timeout=60)
            states[i].handle(frame)
            if frame["type"] == "ack":
                send(i)

    def send(i: int) -> None:
        frame = states[i].outgoing()
        if frame is not None:
            asyncio.get_running_loop().create_task(peers[i].send(frame))

    async def editor(i: int) -> None:
        for _ in range(40):
            state = states[i]
            size = len(state.content)
            if size > 3 and rng.random() < 0.4:
                position = rng.randrange(size - 1)
                state.edit(ot.Delete(position, rng.randint(1, min(5, size - position))))
            else:
                state.edit(ot.Insert(rng.randint(0, size), rng.choice(["x", "yz", "😀", "\n"])))
            send(i)
            await asyncio.sleep(rng.random() * 0.01)

    readers = [asyncio.create_task(reader(i)) for i in range(len(peers))]
    await asyncio.gather(*(editor(i) for i in range(len(peers))))
    for _ in range(1200):  # until nobody has anything to send and everyone has every version
        if all(s.settled for s in states) and len({s.version for s in states}) == 1:
            break
        await asyncio.sleep(0.05)
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    document = srv.get(f"/rooms/{room}/document").json()
    assert document["version"] > 100
    for state in states:
        assert state.settled
        assert (state.content, state.version) == (document["content"], document["version"])
