"""``python -m bindings queues list | peek <queue> | dlq <queue> [--replay]`` on local state.

The commands read the same store the server uses (the SQLite file or Redis), so they work
while it runs. ``peek`` never leases or changes a message; ``dlq --replay`` moves dead letters
that are not being handled back to the queue they failed on, with attempts reset.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from bindings.cli import run, state_dir
from bindings.config import load
from bindings.queues import codec
from bindings.queues.backend import Peeked
from bindings.queues.plugin import QueueDecl, QueuesPlugin

EXIT_NOT_FOUND = 1


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add ``queues`` and its verbs to the command line."""
    queues = sub.add_parser("queues", help="inspect local queues and dead letters")
    verbs = queues.add_subparsers(dest="verb", required=True)
    listing = verbs.add_parser("list", parents=[common], help="every queue and its backlog")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=lambda a: _run(a, _list))
    peek = verbs.add_parser("peek", parents=[common], help="messages of a queue, unconsumed")
    peek.add_argument("queue")
    peek.add_argument("--limit", type=int, default=20)
    peek.add_argument("--json", action="store_true", help="print JSON")
    peek.set_defaults(func=lambda a: _run(a, _peek))
    dlq = verbs.add_parser("dlq", parents=[common], help="inspect or replay dead letters")
    dlq.add_argument("queue", help="a queue (its dead-letter queue is shown) or a DLQ itself")
    dlq.add_argument("--limit", type=int, default=20)
    dlq.add_argument("--replay", action="store_true", help="send them back to their queue")
    dlq.add_argument("--id", action="append", dest="ids", help="only this message (repeatable)")
    dlq.add_argument("--json", action="store_true", help="print JSON")
    dlq.set_defaults(func=lambda a: _run(a, _dlq))


Command = Callable[[argparse.Namespace, QueuesPlugin, int], Awaitable[int]]


def _run(args: argparse.Namespace, command: Command) -> int:
    from bindings.runtime import Runtime

    config = load(args.config, args.env)
    runtime = Runtime(config, state_dir=state_dir(args, config), mode="check")
    plugin = runtime.plugin(QueuesPlugin)
    assert isinstance(plugin, QueuesPlugin)

    async def main() -> int:
        await runtime.open_plugins()
        try:
            return await command(args, plugin, int(runtime.clock() * 1000))
        finally:
            await runtime.stop()

    return run(main())


def configured(plugin: QueuesPlugin) -> dict[str, dict[str, Any]]:
    """Queues named by the config: who produces, who consumes, which DLQ."""
    out: dict[str, dict[str, Any]] = {}
    for wc in plugin.runtime.config.workers:
        for _, decl in wc.bindings:
            if isinstance(decl, QueueDecl):
                out.setdefault(decl.queue, {}).setdefault("producers", []).append(wc.name)
    for consumer in plugin.consumer_settings().values():
        entry = out.setdefault(consumer.queue, {})
        entry["consumer"] = consumer.worker
        entry["dead_letter_queue"] = consumer.dead_letter_queue
        if consumer.dead_letter_queue:
            out.setdefault(consumer.dead_letter_queue, {})
    return out


async def _list(args: argparse.Namespace, plugin: QueuesPlugin, now: int) -> int:
    known = configured(plugin)
    names = set(known)
    for kind in {plugin.settings.backend, *plugin.settings.backends.values()}:
        names.update(await plugin.store(kind).queues())
    rows = []
    for name in sorted(names):
        stats = await plugin.backend(name).stats(name, now)
        info = known.get(name, {})
        rows.append(
            {
                "queue": name,
                "backend": plugin.settings.backend_for(name),
                "messages": stats.metrics.count,
                "ready": stats.ready,
                "delayed": stats.delayed,
                "in_flight": stats.in_flight,
                "bytes": stats.metrics.bytes,
                "oldest": _iso(stats.metrics.oldest),
                "consumer": info.get("consumer"),
                "dead_letter_queue": info.get("dead_letter_queue"),
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no queues")
        return 0
    header = ["queue", "backend", "messages", "ready", "delayed", "in flight", "bytes",
              "oldest", "consumer", "dlq"]  # fmt: skip
    _table(header, [[r[k] for k in r] for r in rows])
    return 0


async def _peek(args: argparse.Namespace, plugin: QueuesPlugin, now: int) -> int:
    items = await plugin.backend(args.queue).peek(args.queue, args.limit, now)
    _show(args, items)
    return 0


async def _dlq(args: argparse.Namespace, plugin: QueuesPlugin, now: int) -> int:
    consumers = plugin.consumer_settings()
    own = consumers.get(args.queue)
    if own is not None and own.dead_letter_queue:
        dlq, origins = own.dead_letter_queue, [args.queue]
    else:
        origins = [c.queue for c in consumers.values() if c.dead_letter_queue == args.queue]
        dlq = args.queue
        if not origins:
            print(f"error: queue {args.queue!r} has no dead-letter queue, and no consumer uses "
                  "it as one", file=sys.stderr)  # fmt: skip
            return EXIT_NOT_FOUND
    backend = plugin.backend(dlq)
    if not args.replay:
        if not args.json:
            print(f"dead-letter queue {dlq!r} (of {', '.join(map(repr, origins))}):")
        _show(args, await backend.peek(dlq, args.limit, now))
        return 0
    fallback = origins[0] if len(origins) == 1 else None
    moved = await backend.replay(dlq, args.ids, fallback, now)
    for target in sorted({t for _, t in moved}):
        plugin.notify(target)
    if args.json:
        print(json.dumps([{"id": i, "queue": q} for i, q in moved], indent=2))
    else:
        for msg_id, target in moved:
            print(f"replayed {msg_id} -> {target}")
        print(f"{len(moved)} message(s) replayed")
    return 0


def _show(args: argparse.Namespace, items: list[Peeked]) -> None:
    rows = []
    for item in items:
        m = item.message
        rows.append(
            {
                "id": m.id,
                "state": item.state,
                "attempts": m.attempts,
                "timestamp": _iso(m.timestamp),
                "visible_at": _iso(item.visible_at) if item.state == "delayed" else None,
                "contentType": m.content_type,
                "bytes": len(m.body),
                "origin": m.origin,
                "body": _preview(m.body, m.content_type),
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        print("no messages")
        return
    _table(list(rows[0]), [[r[k] for k in r] for r in rows])


def _preview(data: bytes, kind: str, width: int = 60) -> str:
    try:
        body = codec.decode(data, kind)
        text = body if isinstance(body, str) else repr(bytes(body) if kind == "bytes" else body)
    except Exception as exc:  # a body this version cannot read: say so, keep listing
        text = f"<unreadable: {exc}>"
    return text if len(text) <= width else text[: width - 1] + "…"


def _iso(ms: int | None) -> str | None:
    if not ms:
        return None
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="milliseconds")


def _table(header: list[str], rows: list[list[Any]]) -> None:
    cells = [header, *[["" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for n, row in enumerate(cells):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))
