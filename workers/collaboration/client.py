"""The client side of the protocol's OT, as the room page's JavaScript runs it (``static/
room.js``, function for function), for tests, benchmarks and Python clients.

A client keeps the document as it sees it, the server version it has caught up with, at most
one operation *in flight* (sent, not yet acknowledged) and a buffer of *pending* local edits
made since. Local edits apply at once. An operation from someone else arrives made against the
server's text, which has neither the in-flight nor the pending edits: it is transformed
against both (which also rebases them over it) before it is applied. An ``ack`` ends the
flight; the next pending edit then leaves, made against the version the client is at. The
server transforms the in-flight operation against exactly the operations the client received
before the ack, in the same order and with the same tie-break, so both sides agree.
"""

from __future__ import annotations

from typing import Any

from workers.collaboration import ot
from workers.collaboration.ot import Op, Ops


class ClientState:
    """One client's view of a room: text, version, in-flight and pending operations."""

    def __init__(self, session: str = "", content: str = "", version: int = 0) -> None:
        self.session = session
        self.content = content
        self.version = version
        self.inflight: Ops | None = None  # None: nothing awaits an ack ([] : it vanished)
        self.pending: Ops = []

    def reset(self, session: str, content: str, version: int) -> None:
        """A ``document_state``: start again from the server's text (unsent edits are lost)."""
        self.session, self.content, self.version = session, content, version
        self.inflight, self.pending = None, []

    def edit(self, op: Op) -> None:
        """A local edit: applied now, sent later (a long insert in frame-sized pieces)."""
        for piece in ot.pieces(op):
            ot.check(piece, len(self.content))
            self.content = ot.apply(self.content, piece)
            ot.merge(self.pending, piece)

    def outgoing(self) -> dict[str, Any] | None:
        """The next ``operation`` frame to send, if one may leave now."""
        if self.inflight is not None or not self.pending:
            return None
        op = self.pending.pop(0)
        self.inflight = [op]
        return {"type": "operation", "operation": op.to_json(), "baseVersion": self.version}

    def acknowledge(self, version: int) -> None:
        """An ``ack``: the in-flight operation is applied on the server as ``version``."""
        self.inflight = None
        self.version = version

    def receive(self, op: Op, version: int, session: str) -> Ops:
        """Someone else's operation (the server's ``version``): rebase the local operations
        over it, apply it, and return what was applied here (for carets and the screen)."""
        first = session < self.session
        ops = [op]
        if self.inflight:
            ops, self.inflight = ot.transform(ops, self.inflight, first)
        if self.pending:
            ops, self.pending = ot.transform(ops, self.pending, first)
        for each in ops:
            self.content = ot.apply(self.content, each)
        self.version = version
        return ops

    @property
    def settled(self) -> bool:
        """Whether the text is the server's at ``version`` (no local edit awaits the server)."""
        return self.inflight is None and not self.pending

    def handle(self, frame: dict[str, Any]) -> Ops:
        """Apply a server frame (``document_state``, ``ack``, ``operation``); returns the
        operations applied to the text by it (none for the others)."""
        kind = frame.get("type")
        if kind == "document_state":
            document = frame["document"]
            self.reset(frame["sessionId"], document["content"], document["version"])
        elif kind == "ack":
            self.acknowledge(frame["version"])
        elif kind == "operation":
            return self.receive(ot.from_json(frame["operation"]), frame["version"],
                                frame["sessionId"])  # fmt: skip
        return []
