"""A room keeps its text across restarts: a clean stop, and a kill -9 right after the
acknowledgements (with enough operations that a snapshot and a replayed tail both count)."""

from __future__ import annotations

import asyncio

import pytest

from tests.collaboration.conftest import ALICE, Running, delete, insert, prepare
from workers.collaboration.storage import SNAPSHOT_EVERY

pytestmark = pytest.mark.e2e


async def type_text(running: Running, room: str, text: str) -> None:
    """Type ``text`` at the end, one acknowledged operation per character, then delete the
    first character."""
    peer = await running.connect(room)
    version = peer.state["document"]["version"]
    position = len(peer.state["document"]["content"])
    for char in text:
        await peer.send(insert(version, position, char))
        version = (await peer.expect("ack"))["version"]
        position += 1
    await peer.send(delete(version, 0, 1))
    await peer.expect("ack")
    await peer.close()


async def reconnected(running: Running, room: str) -> dict:
    peer = await running.connect(room)
    await peer.close()
    return peer.state["document"]


def test_a_room_survives_a_stop_and_a_kill(tmp_path):
    running = prepare(tmp_path, users=(ALICE,))
    first = "x" + "a" * (SNAPSHOT_EVERY + 20)  # a snapshot at version 100, then a tail to replay
    with running.proc:
        running.sign_in(*ALICE)
        asyncio.run(type_text(running, "kept", first))
        expected = {"room": "kept", "content": first[1:], "version": len(first) + 1}
        assert running.get("/rooms/kept/document").json() == expected

        running.proc.stop()
        running.proc.start()
        assert running.get("/rooms/kept/document").json() == expected
        state = asyncio.run(reconnected(running, "kept"))
        assert state == {"content": expected["content"], "version": expected["version"]}

        asyncio.run(type_text(running, "kept", "b" * 30))
        running.proc.kill()  # no shutdown: what was acknowledged must be on disk
        running.proc.start()
        document = running.get("/rooms/kept/document").json()
        assert document["content"] == first[2:] + "b" * 30
        assert document["version"] == expected["version"] + 31
