"""Convergence, property-tested: N clients running the page's client algorithm
(``ClientState``) edit at once against the server's ``Document``, with random interleavings of
who edits, who sends, and which frame is delivered next; in the end every client holds exactly
the server's text and version."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workers.collaboration import document as document_mod
from workers.collaboration import ot
from workers.collaboration.client import ClientState
from workers.collaboration.document import Document, Rejected

SESSIONS = ["9f", "3a", "c1", "3b", "70"]  # unordered on purpose: the tie-break sorts them
ACTIONS = ["edit", "edit", "send", "serve", "deliver"]


class Network:
    """A server ``Document`` and clients linked by FIFO queues, as sockets are."""

    def __init__(self, clients: int, text: str = "") -> None:
        self.server = Document(text)
        self.clients = [ClientState(SESSIONS[i], text, 0) for i in range(clients)]
        self.up: list[deque[dict[str, Any]]] = [deque() for _ in range(clients)]
        self.down: list[deque[dict[str, Any]]] = [deque() for _ in range(clients)]

    def send(self, i: int) -> None:
        frame = self.clients[i].outgoing()
        if frame is not None:
            self.up[i].append(frame)

    def serve(self, i: int) -> None:
        """The server handles client ``i``'s oldest frame, as the room does."""
        frame = self.up[i].popleft()
        session = self.clients[i].session
        try:
            applied = self.server.receive(
                ot.from_json(frame["operation"]), frame["baseVersion"], session
            )
        except Rejected:  # a stale client gets the whole document again
            document = {"content": self.server.content, "version": self.server.version}
            self.down[i].append(
                {"type": "document_state", "sessionId": session, "document": document}
            )
            return
        for entry in applied:
            for j in range(len(self.clients)):
                if j != i:
                    frame = {"type": "operation", "operation": entry.op.to_json(),
                             "version": entry.version, "sessionId": session}  # fmt: skip
                    self.down[j].append(frame)
        self.down[i].append({"type": "ack", "version": self.server.version})

    def deliver(self, i: int) -> None:
        self.clients[i].handle(self.down[i].popleft())

    def act(self, action: str, i: int, make_edit: Callable[[ClientState], ot.Op]) -> None:
        """One step of a random run: client ``i`` edits or sends, or one of its frames is
        served or delivered (if one is waiting)."""
        if action == "edit":
            self.clients[i].edit(make_edit(self.clients[i]))
        elif action == "send":
            self.send(i)
        elif action == "serve" and self.up[i]:
            self.serve(i)
        elif action == "deliver" and self.down[i]:
            self.deliver(i)

    def settle(self) -> None:
        """Run every queue dry, sending whatever the clients still hold."""
        while True:
            for i in range(len(self.clients)):
                self.send(i)
            busy = [i for i in range(len(self.clients)) if self.up[i] or self.down[i]]
            if not busy:
                return
            for i in busy:
                while self.up[i]:
                    self.serve(i)
                while self.down[i]:
                    self.deliver(i)


def edit(draw: Any, client: ClientState) -> ot.Op:
    size = len(client.content)
    if size and draw(st.integers(0, 2)) == 0:
        position = draw(st.integers(0, size - 1))
        return ot.Delete(position, draw(st.integers(1, min(4, size - position))))
    text = draw(st.text("ab\n😀", min_size=1, max_size=3))
    return ot.Insert(draw(st.integers(0, size)), text)


def check_converged(net: Network) -> None:
    for client in net.clients:
        assert client.content == net.server.content
        assert client.version == net.server.version
        assert client.inflight is None and not client.pending


@settings(max_examples=200, deadline=None)
@given(st.data(), st.integers(2, 5), st.sampled_from(["", "hello\nworld"]))
def test_random_concurrent_edits_converge(data, clients, text):
    run_scenario(data, Network(clients, text))


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_clients_too_far_behind_are_resent_the_document(data):
    """With a tail of 3 operations, a client that falls further behind is refused and sent the
    document; everyone still converges (its unsent edits are dropped)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(document_mod, "MAX_HISTORY_OPS", 3)
        run_scenario(data, Network(3))


def run_scenario(data: Any, net: Network) -> None:
    """Random edits, sends and deliveries, then everything settles and has converged."""
    clients = len(net.clients)
    for _ in range(data.draw(st.integers(1, 60))):
        i = data.draw(st.integers(0, clients - 1))
        action = data.draw(st.sampled_from(ACTIONS))
        net.act(action, i, lambda client: edit(data.draw, client))
    net.settle()
    check_converged(net)


def test_two_clients_typing_at_one_place_keep_both_texts():
    net = Network(2, "ab")
    first, second = net.clients  # sessions "9f" and "3a": "3a" wins the tie
    first.edit(ot.Insert(1, "X"))
    second.edit(ot.Insert(1, "Y"))
    net.settle()
    check_converged(net)
    assert net.server.content == "aYXb"


def test_a_delete_over_someone_elses_typing_keeps_the_typing():
    net = Network(2, "hello world")
    net.clients[0].edit(ot.Delete(0, 11))
    net.clients[1].edit(ot.Insert(5, ", dear"))
    net.settle()
    check_converged(net)
    assert net.server.content == ", dear"


def test_a_stale_operation_is_refused_and_the_client_starts_again():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(document_mod, "MAX_HISTORY_OPS", 3)
        net = Network(2, "abc")
        late, busy = net.clients
        late.edit(ot.Insert(0, "lost "))
        for n in range(4):
            busy.edit(ot.Insert(3 + n, str(n)))
            net.send(1)
            net.serve(1)
            net.deliver(1)
        net.send(0)
        net.serve(0)  # made at version 0; the server keeps versions 2-4 only
        assert net.down[0][-1]["type"] == "document_state"
        net.settle()
        check_converged(net)
        assert net.server.content == "abc0123"
