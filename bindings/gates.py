"""The output gate: nothing leaves the process before pending Durable Object writes commit.

Cloudflare holds every outgoing message of a Durable Object (a response, a fetch, a WebSocket
message) until the object's writes are confirmed. Hearth gets the same guarantee cheaply: a
Durable Object's storage registers here when a write opens its implicit transaction, and
whatever lets data leave calls ``release()`` first, committing every pending transaction.
Committing another object's writes early is harmless (they would commit at its next await
anyway), so there is no need to know which object is "current".
"""

from __future__ import annotations

from typing import Protocol


class Pending(Protocol):
    """Storage with uncommitted writes: ``flush`` commits them (then calls ``done``) unless an
    explicit transaction is open, and never raises."""

    def flush(self) -> None: ...


_pending: set[Pending] = set()


def hold(storage: Pending) -> None:
    """Register ``storage`` until its writes commit (it calls ``done`` when they have)."""
    _pending.add(storage)


def done(storage: Pending) -> None:
    """``storage`` has nothing left to commit."""
    _pending.discard(storage)


def release() -> None:
    """Commit every pending write before something leaves (cheap when nothing is pending)."""
    if _pending:
        for storage in tuple(_pending):
            storage.flush()
