"""``python -m bindings r2 object ...``: wrangler's R2 object verbs on Hearth's local state.

::

    r2 object put    <bucket>/<key> [--file F | --pipe] [--content-type T] [--cache-control C] ...
    r2 object get    <bucket>/<key> [--file F | --pipe]     (stdout without --file)
    r2 object delete <bucket>/<key>
    r2 object list   <bucket> [--prefix P]                  (a JSON array, every page)

The bucket is the config's ``bucket_name`` (stored as that entry says: files or S3); a name the
config does not declare gets the default store (``[hearth.r2]``, else files under the state
folder), as ``wrangler r2 object ... --local`` does. Bodies stream: a file of any size works.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import mimetypes
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import nullcontext
from typing import IO, Any

from bindings.cli import run, state_dir
from bindings.config import load
from bindings.r2.bucket import R2Bucket
from bindings.r2.errors import R2Error
from bindings.r2.objects import R2ObjectBody

CHUNK_BYTES = 1024 * 1024
_HTTP_OPTIONS = [
    ("--content-type", "--ct", "contentType"),
    ("--content-disposition", "--cd", "contentDisposition"),
    ("--content-encoding", "--ce", "contentEncoding"),
    ("--content-language", "--cl", "contentLanguage"),
    ("--cache-control", "--cc", "cacheControl"),
]


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add ``r2 object put|get|delete|list`` to the command line."""
    r2 = sub.add_parser("r2", help="R2 buckets on local state")
    kinds = r2.add_subparsers(dest="r2_command", required=True)
    verbs = kinds.add_parser("object", help="objects of a bucket").add_subparsers(
        dest="verb", required=True
    )
    local = argparse.ArgumentParser(add_help=False, parents=[common])
    local.add_argument("--local", action="store_true", help="accepted: state is always local")

    put = verbs.add_parser("put", parents=[local], help="store a file or stdin as an object")
    put.add_argument("path", metavar="BUCKET/KEY")
    source = put.add_mutually_exclusive_group()
    source.add_argument("--file", "-f", help="read the value from this file")
    source.add_argument("--pipe", "-p", action="store_true", help="read the value from stdin")
    for long, short, field in _HTTP_OPTIONS:
        put.add_argument(long, short, dest=field, help=f"httpMetadata.{field}")
    put.add_argument("--expires", help="httpMetadata.cacheExpiry, an HTTP date")
    put.set_defaults(func=lambda a: run(_put(a)))

    get = verbs.add_parser("get", parents=[local], help="write an object to a file or stdout")
    get.add_argument("path", metavar="BUCKET/KEY")
    target = get.add_mutually_exclusive_group()
    target.add_argument("--file", "-f", help="write the value to this file")
    target.add_argument("--pipe", "-p", action="store_true", help="write the value to stdout")
    get.set_defaults(func=lambda a: run(_get(a)))

    delete = verbs.add_parser("delete", parents=[local], help="delete an object")
    delete.add_argument("path", metavar="BUCKET/KEY")
    delete.set_defaults(func=lambda a: run(_delete(a)))

    listing = verbs.add_parser("list", parents=[local], help="list objects as JSON")
    listing.add_argument("bucket")
    listing.add_argument("--prefix", default="")
    listing.set_defaults(func=lambda a: run(_list(a)))


def _split(path: str) -> tuple[str, str]:
    bucket, _, key = path.partition("/")
    if not bucket or not key:
        raise SystemExit(f"error: expected BUCKET/KEY, got {path!r}")
    return bucket, key


async def _with_bucket(
    args: argparse.Namespace, name: str, action: Callable[[R2Bucket], Awaitable[int]]
) -> int:
    from bindings.r2.plugin import R2Plugin
    from bindings.runtime import Runtime

    config = load(args.config, args.env)
    plugin = R2Plugin(Runtime(config, state_dir=state_dir(args, config)))
    try:
        return await action(await plugin.bucket(name))
    except R2Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        await plugin.close()


async def _read(stream: IO[bytes]) -> AsyncIterator[bytes]:
    while chunk := await asyncio.to_thread(stream.read, CHUNK_BYTES):
        yield chunk


async def _put(args: argparse.Namespace) -> int:
    bucket_name, key = _split(args.path)
    http = {field: getattr(args, field) for _, _, field in _HTTP_OPTIONS if getattr(args, field)}
    if args.file and "contentType" not in http:
        guessed, _ = mimetypes.guess_type(args.file)
        if guessed:
            http["contentType"] = guessed
    if args.expires:
        from bindings.r2.conditionals import http_date

        expiry = http_date(args.expires)
        if expiry is None:
            raise SystemExit(f"error: --expires is not an HTTP date: {args.expires!r}")
        http["cacheExpiry"] = expiry

    async def put(bucket: R2Bucket) -> int:
        if args.file:
            with await asyncio.to_thread(open, args.file, "rb") as source:
                obj = await bucket.put(key, _read(source), httpMetadata=http)
        else:
            obj = await bucket.put(key, _read(sys.stdin.buffer), httpMetadata=http)
        assert obj is not None
        print(f"Uploaded {bucket_name}/{key} ({obj.size} bytes, etag {obj.etag})", file=sys.stderr)
        return 0

    return await _with_bucket(args, bucket_name, put)


async def _get(args: argparse.Namespace) -> int:
    bucket_name, key = _split(args.path)

    async def get(bucket: R2Bucket) -> int:
        obj = await bucket.get(key)
        if not isinstance(obj, R2ObjectBody):
            print(f"error: no object {bucket_name}/{key}", file=sys.stderr)
            return 1
        if args.file:
            target: Any = await asyncio.to_thread(open, args.file, "wb")
        else:
            target = nullcontext(sys.stdout.buffer)
        with target as out:
            async for chunk in obj.body:
                await asyncio.to_thread(out.write, chunk)
            out.flush()
        return 0

    return await _with_bucket(args, bucket_name, get)


async def _delete(args: argparse.Namespace) -> int:
    bucket_name, key = _split(args.path)

    async def delete(bucket: R2Bucket) -> int:
        await bucket.delete(key)
        print(f"Deleted {bucket_name}/{key}", file=sys.stderr)
        return 0

    return await _with_bucket(args, bucket_name, delete)


async def _list(args: argparse.Namespace) -> int:
    async def listing(bucket: R2Bucket) -> int:
        objects: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = await bucket.list(prefix=args.prefix, cursor=cursor)
            objects += [
                {"key": o.key, "size": o.size, "etag": o.etag,
                 "uploaded": o.uploaded.isoformat(timespec="milliseconds")}
                for o in page.objects
            ]  # fmt: skip
            if not page.truncated:
                break
            cursor = page.cursor
        print(json.dumps(objects, indent=2, ensure_ascii=False))
        return 0

    return await _with_bucket(args, args.bucket, listing)
