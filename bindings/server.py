"""``serve``: the production server — one process, or N processes behind a reverse proxy.

Process ``i`` of ``N`` listens publicly on ``port + i`` (what nginx balances over) and on an
admin socket ``admin_port + i`` (metrics and process-to-process calls; never proxied). With
``--workers N`` and no ``--process-index``, this module supervises the N processes itself;
under systemd each process is one instance of the template unit (deploy/hearth@.service).

Shutdown on SIGTERM: stop accepting, close WebSockets with 1001 (going away), let in-flight
requests finish, then the runtime drains waitUntil work and queue batches and closes bindings.
With several processes the admin listener stays open until this process has finished its own
requests and waitUntil work and no peer still drains: a peer's request in flight may still
need a Durable Object owned here (see ``HearthServer.shutdown``).

Processes talk to each other only with the internal token (``bindings.peers``): the supervisor
makes one when ``HEARTH_INTERNAL_TOKEN`` is not set; processes started one by one must be given
the same one.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import uvicorn

from bindings.config import load
from bindings.host import Host
from bindings.logs import AccessLog, setup_logging
from bindings.peers import MIN_TOKEN_LENGTH, PHASE_PATH, TOKEN_ENV, peers_of
from bindings.runtime import Runtime
from bindings.types import Receive, Scope, Send

log = logging.getLogger("hearth")

GRACEFUL_SECONDS = 30
WS_IMPL = "bindings.ws_protocol:WebSocketProtocol"  # uvicorn's sans-I/O one, writes per loop turn
WS_MAX_SIZE = 16 * 1024 * 1024
DRAIN_SETTLE = 0.5  # seconds a drained process keeps its admin listener for peers stopping too
DRAIN_POLL = 0.1


class HearthServer(uvicorn.Server):
    """uvicorn's server, closing WebSockets with 1001 before its own shutdown (which says 1012),
    and with several processes keeping its admin listener for peers until they are done."""

    def __init__(self, config: uvicorn.Config, host: Host) -> None:
        super().__init__(config)
        self.host = host
        self.phase = "running"  # then "draining", then "drained" (what peers ask at PHASE_PATH)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        runtime = self.host.runtime
        several = runtime.process_count > 1
        for server in self.servers:
            if not (several and _port_of(server) == runtime.admin_port):
                server.close()  # stop accepting first
        self.phase = "draining"
        await self.host.close_websockets(1001)
        if several:
            spent = await self._drain_alongside_peers()
            await self.host.close_websockets(1001)  # relays opened to this process meanwhile
            # One budget for the whole drain: uvicorn's own wait gets what is left of it.
            self.config.timeout_graceful_shutdown = max(1, round(GRACEFUL_SECONDS - spent))
        await super().shutdown(sockets)

    async def _drain_alongside_peers(self) -> float:
        """Finish this process's own requests and waitUntil work while the admin listener
        still takes peers' calls to the objects owned here; then wait while any peer is still
        draining (it may yet call them). Peers that keep running (a rolling restart) are not
        waited for: their calls wait for this process to be back (``remote.OWNER_WAIT``).
        Returns the seconds spent."""
        runtime = self.host.runtime
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + GRACEFUL_SECONDS

        def public() -> list[object]:
            return [c for c in self.server_state.connections
                    if getattr(c, "server", (None, None))[1] != runtime.admin_port]  # fmt: skip

        for connection in public():
            connection.shutdown()  # type: ignore[attr-defined]
        while public() and loop.time() < deadline:  # noqa: ASYNC110 - uvicorn has no event
            await asyncio.sleep(0.05)
        await runtime.tasks.drain(max(0.0, deadline - loop.time()))
        self.phase = "drained"
        peers = peers_of(runtime)
        while loop.time() < deadline:
            draining = "draining" in await peers.phases()
            if not draining and loop.time() >= started + DRAIN_SETTLE:
                break
            await asyncio.sleep(DRAIN_POLL)
        return loop.time() - started

    async def phase_route(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /__hearth/phase`` (admin, internal token): this process's shutdown phase."""
        body = f'{{"phase":"{self.phase}","pid":{os.getpid()}}}'.encode()
        headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(body)).encode())]  # fmt: skip
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _port_of(server: asyncio.base_events.Server) -> int | None:
    sockets = server.sockets
    return int(sockets[0].getsockname()[1]) if sockets else None


def bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def admin_port_of(args: argparse.Namespace) -> int:
    return int(args.admin_port) if args.admin_port else int(args.port) + 1000


def run_process(args: argparse.Namespace) -> int:
    """Serve as process ``args.process_index`` of ``args.workers`` (0 of 1 by default)."""
    setup_logging(args.log_level, json_lines=True)
    index, count = args.process_index or 0, max(1, args.workers)
    config = load(args.config, args.env)
    state_dir = Path(args.persist_to).resolve() if args.persist_to else None
    runtime = Runtime(config, state_dir=state_dir, mode="serve")
    if args.access_log and runtime.access_log is None:
        runtime.access_log = AccessLog()
    admin_base = admin_port_of(args)
    runtime.admin_port = admin_base + index
    runtime.process_index, runtime.process_count = index, count
    runtime.peers = [f"http://127.0.0.1:{admin_base + i}" for i in range(count) if i != index]
    if count > 1:
        token = os.environ.get(TOKEN_ENV, "")
        if len(token) < MIN_TOKEN_LENGTH:
            log.error(
                "%s must be set to the same secret of at least %d characters in every server "
                "process (e.g. openssl rand -hex 32)",
                TOKEN_ENV,
                MIN_TOKEN_LENGTH,
            )
            return 2
        runtime.internal_token = token
    host = Host(runtime)
    sockets = [bind(args.host, args.port + index), bind("127.0.0.1", runtime.admin_port)]
    server_config = uvicorn.Config(
        host,
        lifespan="on",
        log_level=(args.log_level or "warning").lower(),
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=args.forwarded_allow_ips,
        ws_max_size=WS_MAX_SIZE,
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
        ws=WS_IMPL,
        log_config=None,
    )
    hearth_server = HearthServer(server_config, host)
    if count > 1:
        phase = peers_of(runtime).guard(hearth_server.phase_route)
        runtime.add_route(PHASE_PATH, phase, admin=True)
    hearth_server.run(sockets=sockets)
    return 0


def supervise(args: argparse.Namespace) -> int:
    """Run N processes; forward SIGTERM/SIGINT to them; restart one that dies unexpectedly."""
    setup_logging(args.log_level, json_lines=True)
    # This very command line, re-run once per process with its index added.
    argv = [sys.executable, "-m", "bindings", "serve", *sys.argv[2:]]
    env = os.environ.copy()
    if not env.get(TOKEN_ENV):
        env[TOKEN_ENV] = secrets.token_urlsafe(32)  # this deployment's, for its processes alone
    children: dict[int, subprocess.Popen[bytes]] = {}
    started: dict[int, float] = {}
    quick_deaths = 0
    stopping = False

    def start(i: int) -> None:
        children[i] = subprocess.Popen([*argv, "--process-index", str(i)], env=env)
        started[i] = time.monotonic()

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for i in range(args.workers):
        start(i)
    last = args.port + args.workers - 1
    log.info("serving %d processes on ports %d-%d", args.workers, args.port, last)
    while not stopping:
        time.sleep(0.2)
        for i, child in list(children.items()):
            if child.poll() is None or stopping:
                continue
            quick_deaths += time.monotonic() - started[i] < 5
            if quick_deaths > 3:
                log.error("processes keep failing at start; stopping")
                stop(signal.SIGTERM, None)
                break
            log.error("process %d exited with %s; restarting it", i, child.returncode)
            start(i)
    deadline = time.monotonic() + GRACEFUL_SECONDS + 10
    for child in children.values():
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    return 1 if quick_deaths > 3 else 0


def serve(args: argparse.Namespace) -> int:
    if args.workers > 1 and args.process_index is None:
        return supervise(args)
    return run_process(args)
