"""``serve``: the production server — one process, or N processes behind a reverse proxy.

Process ``i`` of ``N`` listens publicly on ``port + i`` (what nginx balances over) and on an
admin socket ``admin_port + i`` (metrics and process-to-process calls; never proxied). With
``--workers N`` and no ``--process-index``, this module supervises the N processes itself;
under systemd each process is one instance of the template unit (deploy/hearth@.service).

Shutdown on SIGTERM: stop accepting, close WebSockets with 1001 (going away), let in-flight
requests finish, then the runtime drains waitUntil work and queue batches and closes bindings.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import uvicorn

from bindings.config import load
from bindings.host import Host
from bindings.logs import setup_logging
from bindings.runtime import Runtime

log = logging.getLogger("hearth")

GRACEFUL_SECONDS = 30


class HearthServer(uvicorn.Server):
    """uvicorn's server, closing WebSockets with 1001 before its own shutdown (which says 1012)."""

    def __init__(self, config: uvicorn.Config, host: Host) -> None:
        super().__init__(config)
        self.host = host

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()  # stop accepting first
        await self.host.close_websockets(1001)
        await super().shutdown(sockets)


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
    admin_base = admin_port_of(args)
    runtime.admin_port = admin_base + index
    runtime.process_index, runtime.process_count = index, count
    runtime.peers = [f"http://127.0.0.1:{admin_base + i}" for i in range(count) if i != index]
    host = Host(runtime)
    sockets = [bind(args.host, args.port + index), bind("127.0.0.1", runtime.admin_port)]
    server_config = uvicorn.Config(
        host,
        lifespan="on",
        log_level=(args.log_level or "warning").lower(),
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=args.forwarded_allow_ips,
        ws_max_size=16 * 1024 * 1024,
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
        log_config=None,
    )
    HearthServer(server_config, host).run(sockets=sockets)
    return 0


def supervise(args: argparse.Namespace) -> int:
    """Run N processes; forward SIGTERM/SIGINT to them; restart one that dies unexpectedly."""
    setup_logging(args.log_level, json_lines=True)
    # This very command line, re-run once per process with its index added.
    argv = [sys.executable, "-m", "bindings", "serve", *sys.argv[2:]]
    children: dict[int, subprocess.Popen[bytes]] = {}
    started: dict[int, float] = {}
    quick_deaths = 0
    stopping = False

    def start(i: int) -> None:
        children[i] = subprocess.Popen([*argv, "--process-index", str(i)], env=os.environ.copy())
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
