"""``Env`` (a worker's bindings, vars and secrets), ``ExecutionContext`` and background tasks."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bindings.runtime import Worker

log = logging.getLogger("hearth")

# The worker serving the current request or event; `workers.env` and `workers.wait_until` use it.
current_worker: contextvars.ContextVar[Worker] = contextvars.ContextVar("hearth_worker")


class Env:
    """A worker's env: bindings, vars and secrets as attributes (``env.DB``, ``env.API_KEY``).

    Attribute access only, as Cloudflare's ``_EnvWrapper``; a missing name raises
    AttributeError naming the worker, so ``getattr(env, "X", None)`` works for optional ones.
    """

    def __init__(self, worker: str, values: Mapping[str, Any]) -> None:
        object.__setattr__(self, "__worker__", worker)
        self.__dict__.update(values)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(f"worker {self.__worker__!r} has no binding, var or secret {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("env is read-only")

    def __dir__(self) -> list[str]:
        return sorted(k for k in self.__dict__ if k != "__worker__")

    def __repr__(self) -> str:
        return f"<Env of {self.__worker__!r}: {', '.join(self.__dir__())}>"


class Tasks:
    """Background work started by ``waitUntil``: runs now, logs failures, drained at shutdown."""

    def __init__(self) -> None:
        self._pending: set[asyncio.Future[Any]] = set()

    def spawn(self, awaitable: Awaitable[Any]) -> None:
        future = asyncio.ensure_future(awaitable)
        self._pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: asyncio.Future[Any]) -> None:
        self._pending.discard(future)
        if not future.cancelled() and future.exception() is not None:
            log.error("waitUntil task failed", exc_info=future.exception())

    def __len__(self) -> int:
        return len(self._pending)

    async def drain(self, timeout: float | None = 30.0) -> None:
        """Wait for every pending task (and those they start), cancelling what outlives timeout."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while self._pending:
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                late = set(self._pending)
                for future in late:
                    future.cancel()
                await asyncio.gather(*late, return_exceptions=True)
                return
            await asyncio.wait(set(self._pending), timeout=remaining)


class ExecutionContext:
    """The ``ctx`` handed to entrypoint handlers: ``waitUntil`` and ``passThroughOnException``."""

    __slots__ = ("_tasks", "pass_through", "props")

    def __init__(self, tasks: Tasks, props: Mapping[str, Any] | None = None) -> None:
        self._tasks = tasks
        self.pass_through = False
        self.props = dict(props or {})

    def waitUntil(self, awaitable: Awaitable[Any]) -> None:
        """Keep ``awaitable`` running after the response is sent; its errors are logged."""
        self._tasks.spawn(awaitable)

    def passThroughOnException(self) -> None:
        """Recorded only: there is no origin behind Hearth to fall through to."""
        self.pass_through = True
