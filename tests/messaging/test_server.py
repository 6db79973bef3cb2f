"""The messaging worker through a real server: two clients talking end to end, what a third
user cannot do, forged and missing authentication, consent, bad frames, and store-and-forward
across a restart."""

import asyncio
import json
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from bindings.testing import ServerProcess
from tests.messaging.conftest import befriend, reconnect, state_bytes, write_config
from workers.messaging.client import ChatClient, Identity, ServerError
from workers.messaging.e2e import CannotOpen, open_sealed
from workers.messaging.protocol import auth_message, b64decode, b64encode

pytestmark = pytest.mark.e2e


def ws_url(srv, username="", **query):
    params = "&".join(f"{k}={v}" for k, v in {"username": username, **query}.items())
    return srv.url.replace("http://", "ws://") + "/ws?" + params


async def recv(ws):
    return json.loads(await asyncio.wait_for(ws.recv(), 10))


async def closed_with(ws):
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await asyncio.wait_for(ws.recv(), 10)
    return info.value.rcvd.code, info.value.rcvd.reason


async def answer(ws, identity, *, host="127.0.0.1", key=None, username=None):
    challenge = b64decode((await recv(ws))["challenge"])
    name = username or identity.username
    signature = (key or identity.signing).sign(auth_message(host, name, challenge))
    await ws.send(json.dumps({"type": "authenticate", "username": name,
                              "signature": b64encode(signature)}))  # fmt: skip
    return challenge, signature


async def test_two_clients_exchange_messages_end_to_end(users):
    alice, bob, carol = await users("alice", "bob", "carol")
    await befriend(alice, bob)
    sent = await alice.send([bob.identity.username], "hello bob")
    assert sent["recipients"] == {bob.identity.username: "delivered"}
    got = await bob.next()
    assert (got.kind, got.sender, got.text) == ("message", alice.identity.username, "hello bob")
    await bob.send([alice.identity.username], "hi alice")
    assert (await alice.next()).text == "hi alice"
    await befriend(alice, carol)
    names = [bob.identity.username, carol.identity.username]
    await alice.send(names, "hello both")
    for reader in (bob, carol):
        got = await reader.next()
        assert got.text == "hello both" and got.frame["plaintext"]["to"] == names


async def test_every_socket_of_a_user_gets_the_message(users, chat_server):
    alice, bob = await users("alice", "bob")
    await befriend(alice, bob)
    async with ChatClient(chat_server.url, bob.identity) as second:
        await second.connect()
        await alice.send([bob.identity.username], "to all of bob")
        assert (await bob.next()).text == "to all of bob"
        assert (await second.next()).text == "to all of bob"


async def test_a_third_user_cannot_read_or_inject(users, chat_server):
    alice, bob, mallory = await users("alice", "bob", "mallory")
    await befriend(alice, bob)
    a, b, m = (c.identity.username for c in (alice, bob, mallory))
    await alice.send([b], "for bob only")
    frame = (await bob.next()).frame
    # Mallory got nothing (a round trip of hers comes back before anything sent earlier).
    with pytest.raises(ServerError):
        await mallory.accept(a)
    assert mallory.events.empty()
    # The ciphertext does not open for her, whatever name she puts on it.
    alice_key = b64decode((await mallory.lookup(a))["encryptionKey"])
    with pytest.raises(CannotOpen):
        open_sealed(frame["data"], a, alice_key, m, mallory.identity.agreement)
    # She cannot send to bob, nor pass as alice in a frame or on a socket.
    with pytest.raises(ServerError) as info:
        await mallory.send([b], "hi bob")
    assert info.value.code == "not_connected"
    forged = {"type": "encrypted_message", "from": a, "recipients": [b], "encryptedData": "x"}
    with pytest.raises(ServerError) as info:
        await mallory.call(forged)
    assert info.value.code == "not_connected"
    async with ws_connect(ws_url(chat_server, a)) as ws:
        await answer(ws, alice.identity, key=mallory.identity.signing)
        assert await closed_with(ws) == (1008, "authentication failed")
    # Her request reaches bob as a request, nothing more; accepting needs one to accept.
    await mallory.request(b)
    request = await bob.next()
    assert (request.kind, request.sender) == ("connection_request", m)
    with pytest.raises(ServerError) as info:
        await mallory.send([b], "now?")
    assert info.value.code == "not_connected"
    assert bob.events.empty()


async def test_forged_authentication_closes_with_1008(users, chat_server):
    (alice,) = await users("alice", connect=False)
    me = alice.identity
    async with ws_connect(ws_url(chat_server, me.username)) as ws:
        await answer(ws, me, key=Ed25519PrivateKey.generate())  # not the registered key
        assert await closed_with(ws) == (1008, "authentication failed")
    async with ws_connect(ws_url(chat_server, me.username)) as ws:
        await answer(ws, me, host="evil.example")  # signed for another server
        assert (await closed_with(ws))[0] == 1008
    async with ws_connect(ws_url(chat_server, me.username)) as ws:
        _, signature = await answer(ws, me)  # valid: a proof for this connection only
        assert (await recv(ws))["type"] == "authenticated"
    async with ws_connect(ws_url(chat_server, me.username)) as ws:
        await recv(ws)  # a new challenge; replaying the old signature fails
        await ws.send(json.dumps({"type": "authenticate", "username": me.username,
                                  "signature": b64encode(signature)}))  # fmt: skip
        assert (await closed_with(ws))[0] == 1008
    async with ws_connect(ws_url(chat_server, me.username)) as ws:
        await recv(ws)
        await ws.send(json.dumps({"type": "authenticate", "username": me.username,
                                  "signature": "%%%"}))  # fmt: skip
        assert (await closed_with(ws))[0] == 1008


async def test_nothing_but_authenticate_before_authenticating(users, chat_server):
    (alice,) = await users("alice", connect=False)
    async with ws_connect(ws_url(chat_server, alice.identity.username)) as ws:
        challenge = await recv(ws)
        for frame in (
            {"type": "connect_request", "target": "someone"},
            {"type": "encrypted_message", "recipients": ["x"], "encryptedData": "y"},
            {"type": "accept_connection", "target": "someone", "ref": "r1"},
        ):
            await ws.send(json.dumps(frame))
            error = await recv(ws)
            assert error["type"] == "error" and error["code"] == "not_authenticated"
        assert error["ref"] == "r1"
        await ws.send('{"type":"ping"}')
        assert await recv(ws) == {"type": "pong"}
        # The connection is still there, and its challenge still good.
        me = alice.identity
        signature = me.signing.sign(
            auth_message("127.0.0.1", me.username, b64decode(challenge["challenge"]))
        )
        await ws.send(json.dumps({"type": "authenticate", "username": me.username,
                                  "signature": b64encode(signature)}))  # fmt: skip
        assert (await recv(ws))["type"] == "authenticated"


async def test_consent_is_required_both_ways(users):
    alice, bob = await users("alice", "bob")
    a, b = alice.identity.username, bob.identity.username
    for sender, recipient in ((alice, b), (bob, a)):
        with pytest.raises(ServerError) as info:
            await sender.send([recipient], "hi?")
        assert info.value.code == "not_connected"
    with pytest.raises(ServerError) as info:
        await bob.accept(a)  # nothing to accept yet
    assert info.value.code == "no_request"
    assert (await alice.request(b))["status"] == "pending"
    assert (await bob.next()).kind == "connection_request"
    with pytest.raises(ServerError) as info:
        await alice.send([b], "asked, not yet accepted")
    assert info.value.code == "not_connected"
    await bob.accept(a)
    assert (await alice.next()).kind == "connection_accepted"
    assert (await alice.send([b], "now"))["recipients"] == {b: "delivered"}
    assert (await bob.next()).text == "now"
    with pytest.raises(ServerError) as info:
        await alice.request(b)
    assert info.value.code == "already_connected"


async def test_unknown_users(users):
    (alice,) = await users("alice")
    with pytest.raises(ServerError) as info:
        await alice.call({"type": "encrypted_message", "recipients": ["nobody_here"],
                          "encryptedData": "opaque"})  # fmt: skip
    assert info.value.code == "unknown_recipient"
    assert info.value.frame["recipients"] == ["nobody_here"]
    with pytest.raises(ServerError) as info:
        await alice.request("nobody_here")
    assert info.value.code == "unknown_user"


async def test_malformed_frames_get_an_error_and_keep_the_connection(users):
    alice, bob = await users("alice", "bob")
    for bad in ("{not json", "[1, 2]", '{"no": "type"}', '{"type": 5}', b"\x00\x01binary"):
        await alice.send_raw(bad)
        error = (await alice.next()).frame
        assert error["type"] == "error" and error["code"] == "malformed"
    for frame, code in (
        ({"type": "dance"}, "unknown_type"),
        ({"type": "connect_request"}, "malformed"),
        ({"type": "connect_request", "target": alice.identity.username}, "malformed"),
        ({"type": "encrypted_message", "recipients": "bob", "encryptedData": "x"}, "malformed"),
        ({"type": "encrypted_message", "recipients": [bob.identity.username]}, "malformed"),
        ({"type": "authenticate", "username": "x", "signature": "y"}, "already_authenticated"),
    ):
        with pytest.raises(ServerError) as info:
            await alice.call(frame)
        assert info.value.code == code
    await befriend(alice, bob)  # still connected, still working
    await alice.send([bob.identity.username], "fine")
    assert (await bob.next()).text == "fine"


async def test_frames_over_64_kib_close_with_1009(users):
    alice, bob = await users("alice", "bob")
    await befriend(alice, bob)
    big = {"type": "encrypted_message", "recipients": [bob.identity.username],
           "encryptedData": "x" * 60_000}  # fmt: skip
    assert (await alice.call(big))["recipients"] == {bob.identity.username: "delivered"}
    assert len((await bob.next()).frame["data"]) == 60_000
    await alice.send_raw("x" * (64 * 1024 + 1))
    closed = await alice.next()
    assert (closed.kind, closed.frame["code"]) == ("closed", 1009)


async def test_frames_are_rate_limited_per_socket(users):
    (alice,) = await users("alice")
    for n in range(1000):  # far beyond 100/s with bursts of 200, however slow the machine
        await alice.send_raw(json.dumps({"type": "dance", "n": n}))
    codes = [(await alice.next()).frame["code"] for _ in range(1000)]
    assert "rate_limited" in codes and "unknown_type" in codes


async def test_upgrades_that_are_refused(users, chat_server):
    (alice,) = await users("alice", connect=False)
    for url, headers, status in (
        (ws_url(chat_server), {}, 400),
        (ws_url(chat_server, "Not-A-Name"), {}, 400),
        (ws_url(chat_server, "nobody_at_all"), {}, 404),
        (ws_url(chat_server, alice.identity.username), {"Origin": "http://evil.test"}, 403),
    ):
        with pytest.raises(InvalidStatus) as info:
            async with ws_connect(url, additional_headers=headers):
                pass
        assert info.value.response.status_code == status
    allowed = {"Origin": "http://allowed.test"}
    async with ws_connect(
        ws_url(chat_server, alice.identity.username), additional_headers=allowed
    ) as ws:
        assert (await recv(ws))["type"] == "challenge"


async def test_only_ciphertext_crosses_or_stays_on_the_server(users, chat_server):
    alice, bob = await users("alice", "bob", transcript=True)
    await befriend(alice, bob)
    await bob.disconnect()
    secret = f"the eagle lands at midnight {uuid.uuid4()}"
    assert (await alice.send([bob.identity.username], secret))["recipients"] == {
        bob.identity.username: "queued"}  # fmt: skip
    stored = state_bytes(chat_server.state)
    assert secret.encode() not in stored
    sent = [json.loads(text) for way, text in alice.transcript if way == "out"]
    box = json.loads(sent[-1]["encryptedData"])["boxes"][bob.identity.username]
    assert box.encode() in stored  # what is kept is the sender's ciphertext, as it was sent
    welcome = await reconnect(bob)
    assert welcome["queued"] == 1
    assert (await bob.next()).text == secret  # only the recipient's client can read it
    assert not [frame for _, frame in alice.transcript + bob.transcript if "eagle" in frame]
    assert "eagle" not in chat_server.output()


async def test_messages_for_an_offline_user_arrive_in_order_after_a_restart(tmp_path):
    alice, bob, dave = (Identity.generate(n) for n in ("alice", "bob", "dave"))
    config = write_config(tmp_path)
    with ServerProcess(config, tmp_path / "state") as srv:
        async with (
            ChatClient(srv.url, alice) as a,
            ChatClient(srv.url, bob) as b,
            ChatClient(srv.url, dave) as d,
        ):
            for client in (a, b, d):
                await client.register()
            await a.connect()
            await b.connect()
            await befriend(a, b)
            await b.disconnect()
            for n in range(5):
                sent = await a.send(["bob"], f"message {n}")
                assert sent["recipients"] == {"bob": "queued"}
            assert (await a.request("dave"))["status"] == "pending"  # dave was never online
    with ServerProcess(config, tmp_path / "state") as srv:  # the same state, a new process
        async with ChatClient(srv.url, bob) as b, ChatClient(srv.url, dave) as d:
            assert (await b.connect())["queued"] == 5
            assert [(await b.next()).text for _ in range(5)] == [f"message {n}" for n in range(5)]
            assert (await reconnect(b))["queued"] == 0  # delivered once, then deleted
            welcome = await d.connect()
            assert welcome["contacts"] == {"alice": "incoming"}
            assert (await d.next()).kind == "connection_request"
