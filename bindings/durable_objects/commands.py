"""``python -m bindings do list <BINDING>`` and ``do get <BINDING> <name|id> [key]``.

Both read the state folder directly (read-only, no lock), so they work while a server runs.
Values print as JSON; bytes as ``{"$bytes": "<base64>"}``, datetimes in ISO 8601.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from bindings.cli import state_dir
from bindings.clone import deserialize
from bindings.config import Config, load
from bindings.durable_objects.config import DurableObjectDecl, migrations_of
from bindings.durable_objects.ids import IdFactory
from bindings.durable_objects.index import INDEX_FILE, read_names
from bindings.durable_objects.plugin import STATE_FOLDER
from bindings.durable_objects.sqlite import snapshot
from bindings.errors import ConfigError, JsException


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    do = sub.add_parser("do", help="inspect Durable Object state")
    verbs = do.add_subparsers(dest="verb", required=True)
    listing = verbs.add_parser(
        "list", parents=[common], help="objects with storage: ids, names, sizes"
    )
    listing.add_argument("binding", help="a durable_objects binding name, e.g. COUNTER")
    listing.add_argument("--worker", help="the worker declaring the binding, if several do")
    listing.set_defaults(func=cmd_list)
    get = verbs.add_parser("get", parents=[common], help="an object's stored keys, or one value")
    get.add_argument("binding")
    get.add_argument("object", help="a name (as idFromName) or a 64-hex id")
    get.add_argument("key", nargs="?", help="one key to print")
    get.add_argument("--worker", help="the worker declaring the binding, if several do")
    get.set_defaults(func=cmd_get)


def _resolve(args: argparse.Namespace) -> tuple[Path, IdFactory]:
    """The state folder and id factory of the class behind ``args.binding``."""
    config: Config = load(args.config, args.env)
    for worker in config.workers:
        if args.worker and worker.name != args.worker:
            continue
        for _, decl in worker.bindings:
            if isinstance(decl, DurableObjectDecl) and decl.name == args.binding:
                script = decl.script_name or worker.name
                try:
                    target = config.worker(script)
                except KeyError:
                    raise ConfigError(config.file, f"{decl.key}.script_name",
                                      f"no worker named {script!r}") from None  # fmt: skip
                name = migrations_of(target).storage_name(decl.class_name)
                folder = state_dir(args, config) / STATE_FOLDER / f"{script}-{name}"
                return folder, IdFactory(f"{script}-{name}")
    where = f" in worker {args.worker!r}" if args.worker else ""
    raise ConfigError(config.file, "durable_objects", f"no binding named {args.binding!r}{where}")


def cmd_list(args: argparse.Namespace) -> int:
    folder, _ = _resolve(args)
    names = read_names(folder)
    files = sorted(p for p in folder.glob("*.sqlite") if p.name != INDEX_FILE)
    if not files:
        print(f"no objects with storage in {folder}")
        return 0
    print(f"{'id':64}  {'name':24}  bytes")
    for path in files:
        size = sum(
            f.stat().st_size for f in (path, path.with_name(path.name + "-wal")) if f.exists()
        )
        print(f"{path.stem:64}  {names.get(path.stem, '-'):24}  {size}")
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    folder, ids = _resolve(args)
    try:
        if len(args.object) == 64 and all(c in "0123456789abcdefABCDEF" for c in args.object):
            id = ids.idFromString(args.object)
        else:
            id = ids.idFromName(args.object)
    except JsException as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    path = folder / f"{id.toString()}.sqlite"
    if not path.exists():
        print(f"error: object {id.toString()} has no storage", file=sys.stderr)
        return 1
    rows, alarm, tables = snapshot(path, args.key)
    if args.key is not None:
        if not rows:
            print(f"error: no key {args.key!r} in object {id.toString()}", file=sys.stderr)
            return 1
        print(_json(deserialize(rows[0][1])))
        return 0
    name = id.name or read_names(folder).get(id.toString())
    out = {"id": id.toString(), "name": name, "alarm": alarm, "tables": tables,
           "kv": {k: deserialize(v) for k, v in rows}}  # fmt: skip
    print(_json(out))
    return 0


def _json(value: Any) -> str:
    def default(v: Any) -> Any:
        if isinstance(v, bytes | bytearray | memoryview):
            return {"$bytes": base64.b64encode(bytes(v)).decode()}
        if isinstance(v, dt.date | dt.time):
            return v.isoformat()
        if isinstance(v, set | frozenset):
            return sorted(v, key=repr)
        return repr(v)

    return json.dumps(value, indent=2, ensure_ascii=False, default=default)
