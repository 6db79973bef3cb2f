"""The output gate: what a Durable Object sends out leaves only after its writes commit.

While a Durable Object handles an event, it is the *current gate* (a context variable, so tasks
the event starts inherit it). Whatever lets data leave asks the current gate first:

- ``await gates.wait()`` before an asynchronous output (an outbound fetch, a service binding or
  another Durable Object's stub): it resolves when the object's pending writes have committed,
  in the same group commit as every other write of that turn of the event loop;
- ``gates.release()`` before a synchronous one (a WebSocket message): it commits now.

Outside a Durable Object there is no gate and both cost one context-variable lookup.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable
from typing import Protocol


class Gate(Protocol):
    """A Durable Object with possibly uncommitted writes."""

    def flush(self) -> None:
        """Commit pending writes now (not inside an explicit transaction); never raises."""

    def confirmed(self) -> Awaitable[None] | None:
        """What to await until pending writes commit, or None when nothing is pending."""


_current: contextvars.ContextVar[Gate | None] = contextvars.ContextVar(
    "hearth_output_gate", default=None
)


def current() -> Gate | None:
    return _current.get()


def enter(gate: Gate) -> contextvars.Token[Gate | None]:
    """Make ``gate`` current for the event being handled (undo with ``leave``)."""
    return _current.set(gate)


def leave(token: contextvars.Token[Gate | None]) -> None:
    _current.reset(token)


async def wait() -> None:
    """Before an asynchronous output: wait until the current object's writes commit."""
    gate = _current.get()
    if gate is not None:
        confirmed = gate.confirmed()
        if confirmed is not None:
            await confirmed


def release(gate: Gate | None = None) -> None:
    """Before a synchronous output: commit the writes of ``gate`` (or the current one) now."""
    gate = gate or _current.get()
    if gate is not None:
        gate.flush()
