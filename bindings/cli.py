"""Hearth's command line: ``dev``, ``serve``, ``check`` and wrangler's binding verbs on local state.

Binding modules add their own verbs (``d1``, ``kv``, ``r2``, ``do``, ``queues``): each module in
``COMMANDS`` has ``register(subparsers, common)`` that adds a subparser whose ``func(args)``
returns the exit status.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import os
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from bindings.config import DEFAULT_CONFIG, ENV_FILE_VARIABLE, Config, load
from bindings.env import Env
from bindings.errors import ConfigError

# Modules that add subcommands; a binding issue adds its line here.
COMMANDS: list[str] = [
    "bindings.kv.commands",
    "bindings.queues.cli",
    "bindings.durable_objects.commands",
    "bindings.r2.cli",
    "bindings.d1.commands",
]

EXIT_CONFIG = 2


def common_options() -> argparse.ArgumentParser:
    """--config, --env and --persist-to: every command that reads a config takes them."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", "-c", default=DEFAULT_CONFIG, help="wrangler_compat.toml, "
                        "or a single worker's wrangler.toml / wrangler.jsonc")  # fmt: skip
    common.add_argument("--env", "-e", default=None, help="use [env.NAME] overrides")
    common.add_argument("--persist-to", default=None, help="state folder (default "
                        ".hearth/state beside the config)")  # fmt: skip
    common.add_argument("--env-file", default=None, help="secrets file in dotenv syntax "
                        "(default .dev.vars beside the config)")  # fmt: skip
    return common


def state_dir(args: argparse.Namespace, config: Config) -> Path:
    if args.persist_to:
        return Path(args.persist_to).resolve()
    return config.base_dir / ".hearth" / "state"


def build_parser() -> argparse.ArgumentParser:
    common = common_options()
    parser = argparse.ArgumentParser(prog="python -m bindings", description="Hearth")
    sub = parser.add_subparsers(dest="command", required=True)

    server = argparse.ArgumentParser(add_help=False, parents=[common])
    server.add_argument("--host", default="127.0.0.1")
    server.add_argument("--port", type=int, default=8787)
    server.add_argument("--log-level", default=None)

    dev = sub.add_parser("dev", parents=[server], help="serve every worker, reload on change")
    dev.add_argument("--no-reload", action="store_true", help="do not watch files")
    dev.set_defaults(func=cmd_dev)

    serve = sub.add_parser("serve", parents=[server], help="serve for production")
    serve.add_argument("--workers", type=int, default=1, help="server processes")
    serve.add_argument("--access-log", action="store_true", help="JSON access-log lines "
                       "(also [hearth] access_log = true)")  # fmt: skip
    serve.add_argument("--process-index", type=int, default=None, help="run only process I of N")
    serve.add_argument("--admin-port", type=int, default=None, help="admin listener of process 0 "
                       "(default port+1000; process i uses admin-port+i)")  # fmt: skip
    serve.add_argument("--forwarded-allow-ips", default="127.0.0.2", help="proxies whose "
                       "X-Forwarded-For/-Proto are honoured (deploy/nginx.conf connects from "
                       "127.0.0.2, so a local client on 127.0.0.1 is not trusted)")  # fmt: skip
    serve.set_defaults(func=cmd_serve)

    check = sub.add_parser("check", parents=[common], help="validate config and mains")
    check.set_defaults(func=cmd_check)

    for name in COMMANDS:
        importlib.import_module(name).register(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    env_file = getattr(args, "env_file", None)
    if env_file:  # set before any config is read; server processes inherit it
        os.environ[ENV_FILE_VARIABLE] = str(Path(env_file).resolve())
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG


def _export_settings(args: argparse.Namespace, mode: str) -> None:
    os.environ["HEARTH_CONFIG"] = str(Path(args.config).resolve())
    os.environ["HEARTH_MODE"] = mode
    if args.env:
        os.environ["HEARTH_ENV"] = args.env
    if args.persist_to:
        os.environ["HEARTH_PERSIST_TO"] = str(Path(args.persist_to).resolve())
    if args.log_level:
        os.environ["HEARTH_LOG_LEVEL"] = args.log_level


def cmd_dev(args: argparse.Namespace) -> int:
    import uvicorn

    from bindings.server import WS_IMPL, WS_MAX_SIZE

    config = load(args.config, args.env)  # fail fast, before uvicorn, with file/key/problem
    _export_settings(args, "dev")
    reload = not args.no_reload
    uvicorn.run(
        "bindings.host:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        reload=reload,
        reload_dirs=[str(config.base_dir)] if reload else None,
        reload_includes=["*.py", "*.toml", "*.jsonc", ".dev.vars*"] if reload else None,
        log_level=(args.log_level or "info").lower(),
        access_log=True,
        ws=WS_IMPL,
        ws_max_size=WS_MAX_SIZE,
    )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from bindings.server import serve

    load(args.config, args.env)  # fail fast with file/key/problem
    return serve(args)


def cmd_check(args: argparse.Namespace) -> int:
    from bindings.runtime import Runtime

    config = load(args.config, args.env)
    runtime = Runtime(config, state_dir=state_dir(args, config), mode="check")
    runtime.load()
    for worker in config.workers:
        kinds = ", ".join(f"{d.name} ({p.kind})" for p, d in worker.bindings) or "no bindings"
        print(f"{worker.name}: {worker.main} — routes {worker.routes or '[]'} — {kinds}")
    print(f"{config.file}: OK")
    return 0


@contextlib.asynccontextmanager
async def worker_env(args: argparse.Namespace, worker: str) -> AsyncIterator[Env]:
    """One worker's env on a started runtime over local state, its D1 migrations applied first
    (for operator scripts such as create-admin and seed)."""
    from bindings.d1 import D1Plugin
    from bindings.runtime import Runtime

    config = load(args.config, args.env)
    if worker not in {w.name for w in config.workers}:
        raise ConfigError(config.file, "workers", f"no worker named {worker!r}")
    async with Runtime(config, state_dir=state_dir(args, config), mode="check") as runtime:
        d1 = runtime.plugins.get(D1Plugin)
        if isinstance(d1, D1Plugin):
            await d1.migrate(print)
        yield runtime.worker(worker).env


def run(coro: object) -> int:
    """Run a command's coroutine and return its exit status."""
    return int(asyncio.run(coro))  # type: ignore[arg-type]
