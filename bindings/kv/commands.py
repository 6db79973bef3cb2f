"""``python -m bindings kv ...``: wrangler's KV verbs, on the namespaces of the local config.

```
python -m bindings kv key put    <BINDING> <KEY> [VALUE] [--path FILE] [--ttl S]
                                 [--expiration S] [--metadata JSON]
python -m bindings kv key get    <BINDING> <KEY> [--text]
python -m bindings kv key list   <BINDING> [--prefix P]
python -m bindings kv key delete <BINDING> <KEY>
python -m bindings kv bulk put   <BINDING> <FILE.json>
```

``<BINDING>`` is a ``kv_namespaces`` binding name; ``--worker`` picks the worker when several
declare that name for different namespaces. Writes go through the same validation as
``env.KV.put``, so a key or TTL the binding would refuse is refused here too.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bindings.cli import run, state_dir
from bindings.config import load
from bindings.errors import ConfigError, JsException
from bindings.jsobj import JsDict
from bindings.kv.namespace import KVNamespace
from bindings.kv.plugin import KVDecl, KVPlugin
from bindings.runtime import Runtime

EXIT_FAILED = 1


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add ``kv key ...`` and ``kv bulk ...`` to the command line."""
    kv = sub.add_parser("kv", help="read and write KV namespaces (wrangler kv)")
    groups = kv.add_subparsers(dest="kv_group", required=True)

    target = argparse.ArgumentParser(add_help=False, parents=[common])
    target.add_argument("binding", help="the kv_namespaces binding name, e.g. KV")
    target.add_argument("--worker", default=None, help="the worker whose binding to use")

    key = groups.add_parser("key", help="one key at a time").add_subparsers(
        dest="kv_verb", required=True
    )
    put = key.add_parser("put", parents=[target], help="write a value")
    put.add_argument("key")
    put.add_argument("value", nargs="?", help="the value (or use --path)")
    put.add_argument("--path", help="read the value from this file")
    put.add_argument("--ttl", type=int, help="expirationTtl in seconds")
    put.add_argument("--expiration", type=int, help="expiration, seconds since the epoch")
    put.add_argument("--metadata", help="metadata as JSON")
    put.set_defaults(func=_command(_key_put))

    get = key.add_parser("get", parents=[target], help="print a value")
    get.add_argument("key")
    get.add_argument("--text", action="store_true", help="decode the value as UTF-8 text")
    get.set_defaults(func=_command(_key_get))

    listing = key.add_parser("list", parents=[target], help="print every key as JSON")
    listing.add_argument("--prefix", default=None)
    listing.set_defaults(func=_command(_key_list))

    delete = key.add_parser("delete", parents=[target], help="delete a key")
    delete.add_argument("key")
    delete.set_defaults(func=_command(_key_delete))

    bulk = groups.add_parser("bulk", help="many keys from a JSON file").add_subparsers(
        dest="kv_verb", required=True
    )
    bulk_put = bulk.add_parser("put", parents=[target], help="write [{key, value, ...}]")
    bulk_put.add_argument("file", help="wrangler's bulk format: [{key, value, expiration?, "
                          "expiration_ttl?, metadata?, base64?}]")  # fmt: skip
    bulk_put.set_defaults(func=_command(_bulk_put))


Action = Callable[[KVNamespace, argparse.Namespace], Awaitable[int]]


def _command(action: Action) -> Callable[[argparse.Namespace], int]:
    """Wrap ``action`` with: load the config, open the namespace, report binding errors."""

    def func(args: argparse.Namespace) -> int:
        return run(_with_namespace(action, args))

    return func


async def _with_namespace(action: Action, args: argparse.Namespace) -> int:
    config = load(args.config, args.env)
    runtime = Runtime(config, state_dir=state_dir(args, config))
    runtime.state_dir.mkdir(parents=True, exist_ok=True)
    try:
        await runtime.open_plugins()
        plugin = runtime.plugin(KVPlugin)
        assert isinstance(plugin, KVPlugin)
        namespace = plugin.namespace(_decl(plugin, args))
        return await action(namespace, args)
    except JsException as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        await runtime.stop()


def _decl(plugin: KVPlugin, args: argparse.Namespace) -> KVDecl:
    found = [
        (worker, decl)
        for worker, decl in plugin.decls()
        if decl.name == args.binding and args.worker in (None, worker)
    ]
    if not found:
        where = f" in worker {args.worker!r}" if args.worker else ""
        raise ConfigError(args.config, "kv_namespaces", f"no binding {args.binding!r}{where}")
    if len({decl.id for _, decl in found}) > 1:
        workers = ", ".join(worker for worker, _ in found)
        raise ConfigError(
            args.config,
            "kv_namespaces",
            f"binding {args.binding!r} names different namespaces in workers {workers}; "
            "choose one with --worker",
        )
    return found[0][1]


async def _key_put(kv: KVNamespace, args: argparse.Namespace) -> int:
    if (args.value is None) == (args.path is None):
        print("error: give either a VALUE or --path FILE", file=sys.stderr)
        return EXIT_FAILED
    value: str | bytes = args.value
    if args.path is not None:
        value = await asyncio.to_thread(Path(args.path).read_bytes)
    metadata = None if args.metadata is None else json.loads(args.metadata)
    await kv.put(
        args.key, value, expirationTtl=args.ttl, expiration=args.expiration, metadata=metadata
    )
    print(f"Wrote key {args.key!r} to {args.binding}.")
    return 0


async def _key_get(kv: KVNamespace, args: argparse.Namespace) -> int:
    value = await kv.get(args.key, "arrayBuffer")
    if value is None:
        print("Value not found", file=sys.stderr)
        return EXIT_FAILED
    if args.text:
        print(bytes(value).decode("utf-8", "replace"))
    else:
        sys.stdout.buffer.write(value)
        sys.stdout.flush()
    return 0


async def _key_list(kv: KVNamespace, args: argparse.Namespace) -> int:
    keys: list[JsDict] = []
    cursor = None
    while True:
        page = await kv.list(prefix=args.prefix, cursor=cursor)
        keys += page["keys"]
        if page["list_complete"]:
            break
        cursor = page["cursor"]
    print(json.dumps(keys, indent=2, ensure_ascii=False))
    return 0


async def _key_delete(kv: KVNamespace, args: argparse.Namespace) -> int:
    await kv.delete(args.key)
    print(f"Deleted key {args.key!r} from {args.binding}.")
    return 0


async def _bulk_put(kv: KVNamespace, args: argparse.Namespace) -> int:
    try:
        items = json.loads(await asyncio.to_thread(Path(args.file).read_text, encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        print(f"error: cannot read {args.file}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    problem = _bulk_problem(items)
    if problem:
        print(f"error: {args.file}: {problem}", file=sys.stderr)
        return EXIT_FAILED
    for i, item in enumerate(items):
        value = base64.b64decode(item["value"]) if item.get("base64") else item["value"]
        try:
            await kv.put(
                item["key"],
                value,
                expiration=item.get("expiration"),
                expirationTtl=item.get("expiration_ttl"),
                metadata=item.get("metadata"),
            )
        except JsException as exc:
            print(f"error: {args.file}[{i}] ({item['key']!r}): {exc}", file=sys.stderr)
            print(f"{i} of {len(items)} keys were written before it.", file=sys.stderr)
            return EXIT_FAILED
    print(f"Success! Wrote {len(items)} keys to {args.binding}.")
    return 0


def _bulk_problem(items: Any) -> str | None:
    """What is wrong with a bulk file, checked before anything is written."""
    if not isinstance(items, list):
        return "must be a JSON array of {key, value, ...} objects"
    allowed = {"key", "value", "expiration", "expiration_ttl", "metadata", "base64"}
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            return f"[{i}] must be an object"
        if not isinstance(item.get("key"), str) or not isinstance(item.get("value"), str):
            return f"[{i}] needs a string key and a string value"
        unknown = set(item) - allowed
        if unknown:
            return f"[{i}] has unknown field {sorted(unknown)[0]!r}"
        if item.get("base64"):
            try:
                base64.b64decode(item["value"], validate=True)
            except binascii.Error:
                return f"[{i}].value is not valid base64"
    return None
