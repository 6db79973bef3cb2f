"""WebSocketPair in-process: the JS API, ordering, errors, and the hibernation API's limits."""

import asyncio

import pytest

from bindings.errors import JsException, JsRangeError, JsTypeError
from bindings.testing import runInDurableObject
from bindings.websocket import InvalidAccessError, WebSocketPair, WebSocketRequestResponsePair

SOURCE = """
from workers import DurableObject, Response, WebSocketPair, WorkerEntrypoint

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response("ok")

class Room(DurableObject):
    async def fetch(self, request):
        client, server = WebSocketPair()
        self.ctx.acceptWebSocket(server, ["t"])
        return Response(None, status=101, web_socket=client)

    async def webSocketMessage(self, ws, message):
        ws.send(f"got {message}")
        await self.ctx.storage.put("last", message)

    async def webSocketClose(self, ws, code, reason, wasClean):
        await self.ctx.storage.put("closed", [code, reason, wasClean])

    async def read(self, key):
        return await self.ctx.storage.get(key)
"""


def test_the_pair_is_importable_from_workers_and_js():
    import js

    import workers
    from bindings import websocket

    assert workers.WebSocketPair is js.WebSocketPair is websocket.WebSocketPair
    assert workers.WebSocketRequestResponsePair is js.WebSocketRequestResponsePair
    client, server = js.WebSocketPair.new().object_values()
    assert client._peer is server


async def settle():
    for _ in range(20):
        await asyncio.sleep(0)


async def test_pair_ends_talk_in_order_after_accept():
    client, server = WebSocketPair()
    got = []
    server.addEventListener("message", lambda e: got.append(("server", e.data)))
    client.accept()
    client.addEventListener("message", lambda e: got.append(("client", e.data)))
    client.send("one")  # buffered until the server end accepts
    client.send(b"two")
    await settle()
    assert got == []
    server.accept()
    await settle()
    assert got == [("server", "one"), ("server", b"two")]
    server.send(memoryview(b"back"))
    await settle()
    assert got[-1] == ("client", b"back")


async def test_async_listeners_run_one_message_at_a_time():
    client, server = WebSocketPair()
    order = []

    async def slow(event):
        order.append(f"start {event.data}")
        await asyncio.sleep(0.01)
        order.append(f"end {event.data}")

    server.accept()
    server.addEventListener("message", slow)
    client.accept()
    client.send("a")
    client.send("b")
    await asyncio.sleep(0.1)
    assert order == ["start a", "end a", "start b", "end b"]


async def test_close_handshake_and_codes():
    client, server = WebSocketPair()
    closes = []
    server.accept()
    client.accept()
    server.addEventListener(
        "close", lambda e: closes.append(("server", e.code, e.reason, e.wasClean))
    )
    client.addEventListener(
        "close", lambda e: closes.append(("client", e.code, e.reason, e.wasClean))
    )
    for bad in (999, 1004, 1005, 1006, 1015, 5000):
        with pytest.raises(InvalidAccessError, match=f"^Invalid WebSocket close code: {bad}.$"):
            server.close(bad)
    with pytest.raises(JsException, match=r"123 bytes"):
        server.close(1000, "x" * 124)
    with pytest.raises(InvalidAccessError, match=r"you must also specify a code"):
        server.close(None, "reason")
    server.close(1009, "too big")
    with pytest.raises(JsTypeError, match=r"^Can't call WebSocket send\(\) after close\(\).$"):
        server.send("late")
    server.close(1000)  # a second close is ignored
    await settle()
    assert closes == [("client", 1009, "too big", True), ("server", 1009, "too big", True)]
    assert client.readyState == server.readyState == 3


async def test_send_requires_accept_and_attachment_limits():
    _, server = WebSocketPair()
    with pytest.raises(
        JsTypeError, match=r"You must call one of accept\(\) or state.acceptWebSocket\(\)"
    ):
        server.send("x")
    server.serializeAttachment({"ok": [1, 2]})
    assert server.deserializeAttachment() == {"ok": [1, 2]}
    with pytest.raises(
        JsException,
        match=r"^A WebSocket 'attachment' cannot be larger than 16384 bytes."
        r"'attachment' was \d+ bytes.$",
    ):
        server.serializeAttachment("x" * 20_000)
    assert server.deserializeAttachment() == {"ok": [1, 2]}
    pair = WebSocketPair.new()
    assert pair.object_values() == (pair[0], pair[1])


async def test_auto_response_pair_limits():
    with pytest.raises(
        JsRangeError,
        match=r"^Request cannot be larger than 2048 bytes. A request of size 2049 was provided.$",
    ):
        WebSocketRequestResponsePair("x" * 2049, "y")
    with pytest.raises(JsRangeError, match=r"^Response cannot be larger than 2048 bytes."):
        WebSocketRequestResponsePair("x", "y" * 3000)


async def test_hibernation_api_errors(do_app):
    h = await do_app(SOURCE, bindings={"ROOM": "Room"})
    stub = h.env().ROOM.getByName("errors")

    async def scenario(instance, ctx):
        accepted, _ = WebSocketPair()
        accepted.accept()
        with pytest.raises(JsException, match=r"already accepted via `accept\(\)`"):
            ctx.acceptWebSocket(accepted)
        with pytest.raises(JsException, match=r"^only hibernatable websockets can have tags.$"):
            ctx.getTags(accepted)
        server, client = WebSocketPair()
        client.accept()
        with pytest.raises(JsException, match=r"its pair has already been accepted or used"):
            ctx.acceptWebSocket(server)
        _, fresh = WebSocketPair()
        with pytest.raises(
            JsException, match=r"^a Hibernatable WebSocket cannot have more than 10 tags$"
        ):
            ctx.acceptWebSocket(fresh, [str(i) for i in range(11)])
        with pytest.raises(
            JsException, match=r'^"xxx.*" is longer than the max tag length \(256 characters\).$'
        ):
            ctx.acceptWebSocket(fresh, ["x" * 257])
        ctx.acceptWebSocket(fresh, ["a", "a", "b"])
        assert ctx.getTags(fresh) == ["a", "b"]
        assert ctx.getWebSockets("a") == [fresh] and ctx.getWebSockets("zz") == []
        with pytest.raises(
            JsTypeError, match=r"Can't accept\(\) WebSocket after enabling hibernation"
        ):
            fresh.accept()
        with pytest.raises(JsException, match=r"^Event timeout should not exceed 604800000 ms.$"):
            ctx.setHibernatableWebSocketEventTimeout(604_800_001)
        ctx.setHibernatableWebSocketEventTimeout(5000)
        assert ctx.getHibernatableWebSocketEventTimeout() == 5000
        rule = WebSocketRequestResponsePair("ping", "pong")
        ctx.setWebSocketAutoResponse(rule)
        assert ctx.getWebSocketAutoResponse() is rule
        ctx.setWebSocketAutoResponse()
        assert ctx.getWebSocketAutoResponse() is None

    await runInDurableObject(stub, scenario)


async def test_a_worker_can_talk_to_an_object_over_an_in_process_socket(do_app):
    h = await do_app(SOURCE, bindings={"ROOM": "Room"})
    stub = h.env().ROOM.getByName("inproc")
    response = await stub.fetch("https://room/", headers={"upgrade": "websocket"})
    assert response.status == 101
    ws = response.web_socket
    got = []
    ws.accept()
    ws.addEventListener("message", lambda e: got.append(e.data))
    ws.send("hello")
    for _ in range(200):
        if got:
            break
        await asyncio.sleep(0.005)
    assert got == ["got hello"]
    assert await stub.read("last") == "hello"
    ws.close(4001, "done")
    for _ in range(200):
        if await stub.read("closed"):
            break
        await asyncio.sleep(0.005)
    assert await stub.read("closed") == [4001, "done", True]


async def test_bridge_keeps_order_when_the_transport_pushes_back():
    """A send that suspends (a full transport) queues later messages behind it, in order."""
    client, server = WebSocketPair()
    server.accept()
    inbound: asyncio.Queue = asyncio.Queue()
    await inbound.put({"type": "websocket.connect"})
    sent, gate = [], asyncio.Event()

    async def send(message):
        if message.get("text") == "slow":
            await gate.wait()
        sent.append(message.get("text", message["type"]))

    bridge = asyncio.ensure_future(client._bridge({"type": "websocket"}, inbound.get, send))
    await settle()
    for text in ("a", "slow", "b", "c"):
        server.send(text)
    await settle()
    assert sent == ["websocket.accept", "a"]
    gate.set()
    await settle()
    assert sent == ["websocket.accept", "a", "slow", "b", "c"]
    await inbound.put({"type": "websocket.disconnect", "code": 1000})
    await bridge
    assert server.readyState == 3
