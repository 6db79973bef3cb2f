"""WebSockets through a real server: both ways of forwarding an upgrade to a Durable Object,
hibernation (eviction with only hibernated sockets, rebuilt on the next message, attachments
intact), auto-response, broadcast by tag, closing and refusing."""

import json
import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from bindings.testing import server
from tests.conftest import FIXTURES
from tests.processes import until

CONFIG = FIXTURES / "do_ws" / "wrangler_compat.toml"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    with server(CONFIG, tmp_path_factory.mktemp("do_ws")) as s:
        yield s


def ws_url(s, path):
    return s.url.replace("http://", "ws://") + path


def recv_json(ws):
    return json.loads(ws.recv(timeout=10))


def test_default_entrypoint_forwards_the_upgrade(srv):
    with connect(ws_url(srv, "/cf/room/r1?user=ann")) as ws:
        assert recv_json(ws) == {"welcome": "ann"}
        ws.send("whoami")
        me = recv_json(ws)
        assert me["attachment"] == {"user": "ann"}
        assert me["tags"] == ["ann", "everyone"]


def test_starlette_route_forwards_or_refuses_the_upgrade(srv):
    with pytest.raises(InvalidStatus) as info:
        connect(ws_url(srv, "/s/r2?user=eve"))
    assert info.value.response.status_code == 401
    assert json.loads(info.value.response.body) == {"error": "Unauthorized"}
    spoofed = {"x-user": "mallory"}  # the app's header replaces the client's own
    with connect(ws_url(srv, "/s/r2?token=secret&user=bob"), additional_headers=spoofed) as ws:
        assert recv_json(ws) == {"welcome": "bob"}


def test_frames_skip_the_apps_send_layers_while_accept_and_close_pass_them(srv):
    # The app's middleware sees the handshake and the close; the frames in between go to the
    # server directly (bindings.websocket: FRAME_SEND), which is what keeps fan-out cheap.
    before = len(httpx.get(srv.url + "/seen").json())
    with connect(ws_url(srv, "/s/spy?token=secret&user=zed")) as ws:
        assert recv_json(ws) == {"welcome": "zed"}
        ws.send("whoami")
        assert recv_json(ws)["attachment"] == {"user": "zed"}
        ws.send("x" * 2000)  # over the object's limit: it closes the socket with 1009
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd.code == 1009
    seen = httpx.get(srv.url + "/seen").json()[before:]
    assert seen == ["websocket.accept", "websocket.close"]


def test_hibernation_round_trip(srv):
    with connect(ws_url(srv, "/s/hib?token=secret&user=cy")) as ws:
        recv_json(ws)
        ws.send("whoami")
        first = recv_json(ws)["instance"]

        def rebuilt():
            time.sleep(1.0)  # > idle_timeout, without a message in between
            ws.send("whoami")
            me = recv_json(ws)
            return me if me["instance"] != first else None

        # Only hibernatable sockets: the object is evicted (idle_timeout = 0.3 s) and the next
        # message builds a new instance, which still sees the socket and its attachment.
        me = until(rebuilt)
        assert me["attachment"] == {"user": "cy"}
        assert me["tags"] == ["cy", "everyone"]
        assert me["sockets"] == 1


def test_auto_response_does_not_wake_the_object(srv):
    with connect(ws_url(srv, "/cf/room/auto?user=dee")) as ws:
        recv_json(ws)
        time.sleep(1.0)  # > idle_timeout: the object is evicted
        before = httpx.get(srv.url + "/cf/stats").json()["constructed"]
        ws.send("ping")
        assert ws.recv(timeout=10) == "pong"
        assert httpx.get(srv.url + "/cf/stats").json()["constructed"] == before
        ws.send("whoami")
        recv_json(ws)
        assert httpx.get(srv.url + "/cf/stats").json()["constructed"] == before + 1


def test_an_ordinary_socket_keeps_the_object_alive(srv):
    with connect(ws_url(srv, "/cf/room/plain?mode=accept")) as ws:
        ws.send("one")
        first = recv_json(ws)
        assert first["echo"] == "one"
        time.sleep(1.0)  # > idle_timeout
        ws.send("two")
        assert recv_json(ws) == {"echo": "two", "instance": first["instance"]}


def test_broadcast_by_tag(srv):
    with (
        connect(ws_url(srv, "/cf/room/tags?user=a")) as a,
        connect(ws_url(srv, "/cf/room/tags?user=b")) as b,
    ):
        recv_json(a), recv_json(b)
        a.send("tag:everyone:hello all")
        assert a.recv(timeout=10) == "hello all"
        assert b.recv(timeout=10) == "hello all"
        a.send("tag:b:just b")
        assert b.recv(timeout=10) == "just b"
        a.send("whoami")
        assert recv_json(a)["sockets"] == 2  # a got nothing for tag b


def test_close_codes_reach_the_object_and_the_app_can_close_with_1009(srv):
    with connect(ws_url(srv, "/s/closing?token=secret&user=cal")) as ws:
        recv_json(ws)
        ws.send("x" * 100)  # over the room's limit
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=10)
        assert info.value.rcvd.code == 1009
        assert info.value.rcvd.reason == "message too big"
    with connect(ws_url(srv, "/s/closing?token=secret&user=dan")) as ws:
        recv_json(ws)
        ws.close(4000, "bye")

    def closes():
        found = httpx.get(srv.url + "/closes/closing").json()["closes"]
        return found if len(found) == 2 else None

    assert until(closes) == [
        {"code": 1009, "reason": "message too big", "user": "cal"},
        {"code": 4000, "reason": "bye", "user": "dan"},
    ]


def test_a_message_is_sent_only_after_its_write_commits(srv):
    with connect(ws_url(srv, "/s/writes?token=secret&user=eli")) as ws:
        recv_json(ws)
        ws.send("write:value-1")
        assert ws.recv(timeout=10) == "written"
        assert httpx.get(srv.url + "/closes/writes").json()["last"] == "value-1"
