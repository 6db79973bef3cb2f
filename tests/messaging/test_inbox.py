"""The inbox object in-process, with sockets from a WebSocketPair and a pinned clock: the
challenge's life, consent at the RPC boundary, queue limits, expiry and hibernation."""

import asyncio
import json

import pytest

from bindings.clock import ManualClock
from bindings.testing import runDurableObjectAlarm, runInDurableObject
from tests.messaging.conftest import messaging_config
from workers.messaging import inbox as inbox_module
from workers.messaging.client import Identity
from workers.messaging.inbox import USER_HEADER, Inbox
from workers.messaging.protocol import QUEUE_TTL_MS, auth_message, b64decode, b64encode
from workers.messaging.registry import Registry

HOST = "chat.test"
DAY = 24 * 3600


class Socket:
    """The client end of a pair, in-process: frames in a queue, closes as {"closed": code}."""

    def __init__(self, ws):
        self.ws = ws
        self.frames: asyncio.Queue = asyncio.Queue()
        ws.accept()
        ws.addEventListener("message", lambda e: self.frames.put_nowait(json.loads(e.data)))
        ws.addEventListener(
            "close", lambda e: self.frames.put_nowait({"closed": e.code, "reason": e.reason})
        )

    async def recv(self):
        return await asyncio.wait_for(self.frames.get(), 5)

    def send(self, frame):
        self.ws.send(json.dumps(frame))


@pytest.fixture
async def h(hearth, monkeypatch):
    clock = ManualClock(1_800_000_000.0)
    monkeypatch.setattr(Inbox, "clock", staticmethod(clock))
    monkeypatch.setattr(Registry, "clock", staticmethod(clock))
    h = await hearth(messaging_config(), clock=clock)
    h.clock = clock
    h.ids = {}
    return h


async def user(h, name):
    identity = Identity.generate(name)
    body = {"username": name, "publicKey": identity.public_key,
            "encryptionKey": identity.encryption_key}  # fmt: skip
    assert (await h.SELF.post("/api/register", json=body)).status_code == 201
    h.ids[name] = identity
    return h.env().INBOX.getByName(name)


async def open_socket(h, name):
    headers = {"upgrade": "websocket", USER_HEADER: name, "host": f"{HOST}:443"}
    response = await h.env().INBOX.getByName(name).fetch(f"https://{HOST}/ws", headers=headers)
    assert response.status == 101
    socket = Socket(response.web_socket)
    challenge = await socket.recv()
    assert challenge["type"] == "challenge" and challenge["expiresIn"] == 30
    socket.challenge = b64decode(challenge["challenge"])
    return socket


def authenticate(h, socket, name):
    signature = h.ids[name].signing.sign(auth_message(HOST, name, socket.challenge))
    socket.send({"type": "authenticate", "username": name, "signature": b64encode(signature)})


async def connect(h, name):
    socket = await open_socket(h, name)
    authenticate(h, socket, name)
    welcome = await socket.recv()
    assert welcome["type"] == "authenticated"
    socket.welcome = welcome
    return socket


async def befriend(*stubs):
    """Make every pair of these inboxes accepted contacts, directly in storage."""
    for stub in stubs:

        def accept_all(instance, ctx, me=stub.name):
            for other in stubs:
                if other.name != me:
                    instance.mail.set_contact(other.name, "accepted", 0)

        await runInDurableObject(stub, accept_all)


async def test_a_challenge_answers_once_and_only_in_time(h):
    await user(h, "alice")
    late = await open_socket(h, "alice")
    h.clock.advance(31)
    authenticate(h, late, "alice")
    assert await late.recv() == {"closed": 1008, "reason": "challenge expired"}
    fresh = await connect(h, "alice")  # a new connection has a new challenge
    assert fresh.challenge != late.challenge


async def test_the_alarm_closes_sockets_that_never_authenticate(h):
    alice = await user(h, "alice")
    idle = await open_socket(h, "alice")
    h.clock.advance(31)
    assert await runDurableObjectAlarm(alice)
    assert await idle.recv() == {"closed": 1008, "reason": "authentication timed out"}


async def test_consent_is_checked_by_the_recipient_too(h):
    alice, bob = await user(h, "alice"), await user(h, "bob")
    assert await bob.deliver("alice", '{"type":"encrypted_message"}') == "refused"
    await runInDurableObject(alice, lambda i, ctx: i.mail.set_contact("bob", "accepted", 0))
    assert await bob.deliver("alice", '{"type":"encrypted_message"}') == "refused"
    assert await bob.receiveAcceptance("mallory") is False  # nobody asked mallory
    assert await runInDurableObject(bob, lambda i, ctx: i.mail.contacts()) == {}


async def test_queued_frames_arrive_in_order_on_authenticate_then_go(h):
    alice, bob = await user(h, "alice"), await user(h, "bob")
    await befriend(alice, bob)
    for n in range(3):
        assert (
            await bob.deliver("alice", json.dumps({"type": "encrypted_message", "n": n}))
            == "queued"
        )
    socket = await connect(h, "bob")
    assert socket.welcome["queued"] == 3 and socket.welcome["contacts"] == {"alice": "accepted"}
    assert [(await socket.recv())["n"] for _ in range(3)] == [0, 1, 2]
    assert await runInDurableObject(bob, lambda i, ctx: i.mail.queued()) == 0
    assert await bob.deliver("alice", '{"type":"encrypted_message","n":3}') == "delivered"
    assert (await socket.recv())["n"] == 3


async def test_at_most_max_queued_per_user(h, monkeypatch):
    monkeypatch.setattr(inbox_module, "MAX_QUEUED", 3)
    alice, bob = await user(h, "alice"), await user(h, "bob")
    await befriend(alice, bob)
    outcomes = [await bob.deliver("alice", f'{{"n":{n}}}') for n in range(4)]
    assert outcomes == ["queued", "queued", "queued", "inbox_full"]


async def test_undelivered_frames_expire_after_seven_days(h):
    alice, bob = await user(h, "alice"), await user(h, "bob")
    await befriend(alice, bob)
    start = h.clock()
    await bob.deliver("alice", '{"n":1}')
    h.clock.advance(3 * DAY)
    await bob.deliver("alice", '{"n":2}')
    alarm = await runInDurableObject(bob, lambda i, ctx: ctx.storage.getAlarm())
    assert alarm == int(start * 1000) + QUEUE_TTL_MS
    h.clock.set(start + 7 * DAY + 1)
    assert await runDurableObjectAlarm(bob)
    assert await runInDurableObject(bob, lambda i, ctx: i.mail.frames()) == [(2, '{"n":2}')]
    alarm = await runInDurableObject(bob, lambda i, ctx: ctx.storage.getAlarm())
    assert alarm == int((start + 3 * DAY) * 1000) + QUEUE_TTL_MS
    h.clock.set(start + 10 * DAY + 1)
    await runDurableObjectAlarm(bob)
    assert await runInDurableObject(bob, lambda i, ctx: i.mail.queued()) == 0
    assert await runInDurableObject(bob, lambda i, ctx: ctx.storage.getAlarm()) is None


async def test_pending_requests_are_capped(h, monkeypatch):
    monkeypatch.setattr(inbox_module, "MAX_PENDING_REQUESTS", 2)
    bob = await user(h, "bob")
    assert [await bob.receiveRequest(f"fan{n}") for n in range(3)] == [
        "requested", "requested", "full"]  # fmt: skip
    assert await bob.receiveRequest("fan0") == "requested"  # asking again is not a new request


async def test_crossing_requests_connect_both_sides(h):
    alice, bob = await user(h, "alice"), await user(h, "bob")
    a, b = await connect(h, "alice"), await connect(h, "bob")
    a.send({"type": "connect_request", "target": "bob", "ref": "a"})
    b.send({"type": "connect_request", "target": "alice", "ref": "b"})
    for socket, ref in ((a, "a"), (b, "b")):
        while (frame := await socket.recv()).get("ref") != ref:  # notifications may come first
            assert frame["type"] in ("connection_request", "connection_accepted")
        assert frame["type"] == "request_sent"
    for stub, peer in ((alice, "bob"), (bob, "alice")):
        contacts = await runInDurableObject(stub, lambda i, ctx: i.mail.contacts())
        assert contacts == {peer: "accepted"}  # however the two requests interleaved


async def test_the_identity_survives_hibernation(h):
    bob = await user(h, "bob")
    socket = await connect(h, "bob")
    before = await runInDurableObject(bob, lambda i, ctx: id(i))
    await bob._host.evict_idle(0)  # what the idle sweep does: only hibernatable sockets left
    socket.send({"type": "accept_connection", "target": "nobody", "ref": "r"})
    reply = await socket.recv()
    assert reply["code"] == "no_request"  # not "not_authenticated": the attachment kept it
    assert await runInDurableObject(bob, lambda i, ctx: id(i)) != before
