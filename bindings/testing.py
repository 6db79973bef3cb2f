"""Testing workers with pytest, as Cloudflare's vitest integration does for JS.

``Hearth`` builds an isolated runtime for a config, with its state in a folder of its own, and
an httpx client bound to the host (``SELF``) — no socket, no lifespan trickery::

    async def test_products(hearth):
        h = await hearth("wrangler_compat.toml")
        assert (await h.SELF.get("/products")).status_code == 200

``hearth`` is a pytest fixture (enable with ``pytest_plugins = ["bindings.testing"]``).
``runInDurableObject`` and ``runDurableObjectAlarm`` reach inside a Durable Object, as
Cloudflare's ``cloudflare:test`` helpers do.
``ServerProcess`` runs the real command line in a subprocess for tests that need sockets,
WebSockets or a ``kill -9``. ``require_service`` skips a test whose service is missing, or fails
it when ``HEARTH_REQUIRE_SERVICES=1`` (CI).
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from bindings import config as config_mod
from bindings.clock import Clock, system_clock
from bindings.config import Config
from bindings.env import Env
from bindings.host import Host
from bindings.runtime import Runtime, Worker

ConfigSource = Config | str | Path | Mapping[str, Any]


def load_config(source: ConfigSource, folder: Path, env: str | None = None) -> Config:
    """A Config from a Config, a path, TOML text, or a dict (written as if at ``folder``)."""
    if isinstance(source, Config):
        return source
    if isinstance(source, Mapping):
        return config_mod.from_document(source, folder / "wrangler_compat.toml", env)
    if isinstance(source, str) and "\n" in source:
        file = folder / "wrangler_compat.toml"
        file.write_text(source)
        return config_mod.load(file, env)
    return config_mod.load(source, env)


class Hearth:
    """An isolated runtime and host for one test; ``SELF`` is an httpx client bound to it."""

    def __init__(
        self,
        config: ConfigSource,
        state_dir: str | Path,
        *,
        env: str | None = None,
        clock: Clock = system_clock,
        base_url: str = "http://127.0.0.1:8787",
    ) -> None:
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.config = load_config(config, self.state_dir.parent, env)
        self.runtime = Runtime(self.config, state_dir=self.state_dir, clock=clock, mode="test")
        self.host = Host(self.runtime)
        self.SELF = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.host), base_url=base_url
        )

    async def __aenter__(self) -> Hearth:
        try:
            await self.host.start()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.SELF.aclose()
        await self.host.stop()

    def worker(self, name: str | None = None) -> Worker:
        """A worker by name, or the only one."""
        if name is None:
            (only,) = self.runtime.workers.values()
            return only
        return self.runtime.worker(name)

    def env(self, name: str | None = None) -> Env:
        """A worker's env, to call bindings directly from the test."""
        return self.worker(name).env


@pytest.fixture
async def hearth(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Hearth]]]:
    """Factory fixture: ``h = await hearth(config, **options)``; closed after the test."""
    made: list[Hearth] = []

    async def make(config: ConfigSource, **options: Any) -> Hearth:
        state = options.pop("state_dir", tmp_path / "state")
        instance = await Hearth(config, state, **options).__aenter__()
        made.append(instance)
        return instance

    yield make
    for instance in reversed(made):
        await instance.aclose()


async def runInDurableObject(stub: Any, fn: Callable[[Any, Any], Any]) -> Any:
    """Run ``fn(instance, ctx)`` inside ``stub``'s live object, as one of its events (the input
    and output gates apply); returns what ``fn`` returns (awaited if it is a coroutine)."""
    return await stub._host.run_in(stub.id, fn)


async def runDurableObjectAlarm(stub: Any) -> bool:
    """Run ``stub``'s object's alarm now if it has one; True if it ran. An error raised by
    ``alarm()`` is raised here (the alarm then stays set)."""
    run = await stub._host.run_alarm(stub.id.toString(), 0, force=True)
    if run.error is not None:
        raise run.error
    return run.outcome in ("ok", "replaced")


def require_service(name: str, available: bool, how: str = "") -> None:
    """Skip when ``name`` is missing; under HEARTH_REQUIRE_SERVICES=1 (CI) fail instead."""
    if available:
        return
    reason = f"{name} is not available{': ' + how if how else ''}"
    if os.environ.get("HEARTH_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (HEARTH_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive free ports, below Linux's ephemeral range.

    Servers with N processes listen on ``port + i``; ports from ``free_port`` sit in the range
    the kernel hands out to outgoing connections, so their neighbours may be taken any moment.
    """
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 32000 - count)
        socks = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError(f"no {count} consecutive free ports found")


NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
DEPLOY_CONF = Path(__file__).resolve().parent.parent / "deploy" / "nginx.conf"


def render(snippet: str, listen: int, first: int, count: int) -> str:
    """deploy/nginx.conf with its upstream ports and listen address replaced."""
    servers = "".join(f"    server 127.0.0.1:{first + i};\n" for i in range(count))
    out, n = re.subn(r"(upstream hearth \{\n)(    server 127\.0\.0\.1:\d+;\n)+",
                     lambda m: m.group(1) + servers, snippet)  # fmt: skip
    assert n == 1, "deploy/nginx.conf: no upstream block to render"
    out, n = re.subn(r"listen 80;", f"listen 127.0.0.1:{listen};", out)
    assert n == 1, "deploy/nginx.conf: no listen line to render"
    return out


class Nginx:
    """deploy/nginx.conf in front of ``serve --workers count`` listening from ``first``; nginx
    in the foreground, unprivileged-friendly: every path it writes is in ``folder``."""

    def __init__(self, folder: Path, first: int, count: int) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "hearth.conf").write_text(
            render(DEPLOY_CONF.read_text(), self.port, first, count)
        )
        kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        temp = "\n".join(f"    {kind}_temp_path {folder}/{kind}_temp;" for kind in kinds)
        # As root the workers would switch to "nobody", who cannot read a private tmp folder.
        user = "user root;\n" if os.geteuid() == 0 else ""
        (folder / "nginx.conf").write_text(
            f"{user}worker_processes 1;\nerror_log {folder}/error.log info;\n"
            "events { worker_connections 1024; }\n"
            f"http {{\n    access_log {folder}/access.log;\n{temp}\n"
            f"    include {folder}/hearth.conf;\n}}\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Nginx:
        self.proc = subprocess.Popen(
            [NGINX, "-p", str(self.folder), "-c", str(self.folder / "nginx.conf"),
             "-e", str(self.folder / "error.log"),
             "-g", f"daemon off; pid {self.folder}/nginx.pid;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 15
        while not port_open("127.0.0.1", self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start:\n{self.log()}")
            time.sleep(0.05)
        return self

    def __enter__(self) -> Nginx:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log(self) -> str:
        path = self.folder / "error.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_healthy(
    url: str, timeout: float = 20.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Poll ``url``/__hearth/health until it answers 200 (or the process exits)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/__hearth/health", timeout=1).status_code == 200:
                return
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not become healthy in {timeout}s")


class ServerProcess:
    """``python -m bindings <command>`` in a subprocess on a free port; waits until healthy."""

    def __init__(
        self,
        config: str | Path,
        persist_to: str | Path,
        *,
        command: str = "dev",
        args: list[str] | None = None,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        cwd: str | Path | None = None,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.argv = [
            sys.executable, "-m", "bindings", command, "--config", str(config),
            "--persist-to", str(persist_to), "--port", str(self.port), *(args or []),
        ]  # fmt: skip
        if command == "dev":
            self.argv.append("--no-reload")
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.cwd = cwd or Path(__file__).resolve().parent.parent
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()

    def start(self, timeout: float = 20.0) -> ServerProcess:
        self.proc = subprocess.Popen(
            self.argv, cwd=self.cwd, env=self.env, stdout=self._log, stderr=subprocess.STDOUT
        )
        try:
            wait_healthy(self.url, timeout, self.proc)
        except (RuntimeError, TimeoutError) as exc:
            self.stop()
            raise type(exc)(f"{exc}:\n{self.output()}") from None
        return self

    def output(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers run (for durability tests)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``; returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._log.close()


@contextlib.contextmanager
def server(config: str | Path, persist_to: str | Path, **options: Any) -> Iterator[ServerProcess]:
    """``with server(config, tmp_path) as s: httpx.get(s.url + "/...")``."""
    with ServerProcess(config, persist_to, **options) as proc:
        yield proc
