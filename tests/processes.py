"""``Cluster``: ``python -m bindings serve --workers N`` in a subprocess, every process healthy."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

from bindings.testing import ServerProcess, free_ports, wait_healthy

FIXTURE = Path(__file__).parent / "fixtures" / "multiproc" / "wrangler_compat.toml"

T = TypeVar("T")


def until(predicate: Callable[[], T], timeout: float = 15.0) -> T:
    """Poll ``predicate`` until it returns something true, and return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not reached")


class Cluster:
    """N server processes on ``port .. port+N-1`` (admin listeners on ``admin + i``)."""

    def __init__(self, state: Path, *, config: Path = FIXTURE, workers: int = 3,
                 env: dict[str, str] | None = None) -> None:  # fmt: skip
        self.workers = workers
        self.port = free_ports(workers)
        self.admin = free_ports(workers)
        self.server = ServerProcess(config, state, command="serve", port=self.port, env=env,
                                    args=["--workers", str(workers),
                                          "--admin-port", str(self.admin)])  # fmt: skip
        self.pids: list[int] = []

    def url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.port + i}"

    def ws(self, i: int, path: str) -> str:
        return f"ws://127.0.0.1:{self.port + i}{path}"

    def admin_url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.admin + i}"

    def start(self) -> Cluster:
        self.server.start(timeout=60)
        for i in range(self.workers):
            wait_healthy(self.url(i), 60, self.server.proc)
        self.pids = [httpx.get(self.url(i) + "/__hearth/health").json()["pid"]
                     for i in range(self.workers)]  # fmt: skip
        return self

    def stop(self) -> int | None:
        return self.server.stop(timeout=60)

    def output(self) -> str:
        return self.server.output()

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()  # a graceful stop may take a while: drains finish before the kill
        self.server.__exit__(*exc)
