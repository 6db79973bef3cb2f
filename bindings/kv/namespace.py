"""Workers KV semantics: ``env.KV`` as Cloudflare's ``KVNamespace``, over any backend.

Everything a user can observe lives here, once: key and option validation in workerd's order
with its exact messages, the limits (module constants, so tests can lower them), expiry against
``runtime.clock``, list pages in UTF-8 byte order with base64 cursors meaning "strictly after",
and the conversion of results to what Cloudflare's Python SDK returns. Backends only store rows
(``bindings.kv.backends``); the read cache is ``bindings.kv.cache``.

Where workerd coerces arguments, so does this module: a number or ``None`` given as a key or
value becomes its JS string (``None`` -> ``"null"``), as Pyodide hands ``None`` to JS as null.
Option numbers are truncated to integers and anything that is not a number counts as 0, which is
why ``expirationTtl="nan"`` fails with "Invalid expiration_ttl of 0".
"""

from __future__ import annotations

import base64
import binascii
import builtins  # the class defines list(); its annotations need the built-in one
import json
import math
from collections.abc import AsyncIterable, Sequence
from typing import Any

from bindings.body import ReadableStream, stream_of
from bindings.clock import Clock
from bindings.errors import JsTypeError
from bindings.jsobj import JsDict, options
from bindings.kv.backends import Entry, KVBackend, Listed
from bindings.kv.cache import ReadCache
from bindings.kv.errors import KVError, KVJSONError
from bindings.metrics import timed

KV_MAX_KEY_BYTES = 512
KV_MAX_VALUE_BYTES = 25 * 1024 * 1024
KV_MAX_METADATA_BYTES = 1024
KV_MIN_EXPIRATION_TTL = 60  # seconds
KV_MIN_CACHE_TTL = 30  # seconds
KV_MAX_LIST_KEYS = 1000
KV_MAX_BULK_KEYS = 100
KV_MAX_BULK_BYTES = 25 * 1024 * 1024  # counted in UTF-16 code units, as JS string lengths

UNKNOWN_TYPE = (
    'Unknown response type. Possible types are "text", "arrayBuffer", "json", and "stream".'
)
BAD_PUT_VALUE = (
    "KV put() accepts only strings, ArrayBuffers, ArrayBufferViews, and ReadableStreams as values."
)

Value = bytes | AsyncIterable[Any]

# One decoder for every read: json.loads() with a hook builds a new one per call.
_parse_json = json.JSONDecoder(object_pairs_hook=JsDict).decode


class KVNamespace:
    """A KV namespace binding: ``get``, ``getWithMetadata``, ``put``, ``delete``, ``list``.

    Bindings with the same namespace id share rows (and, in one process, the read cache).
    ``cache_ttl`` is how long a read may be served from this process's cache (0: never).
    """

    __slots__ = ("_backend", "_cache", "_clock", "_id", "_ttl")

    def __init__(
        self,
        backend: KVBackend,
        namespace_id: str,
        *,
        clock: Clock,
        cache: ReadCache,
        cache_ttl: float = 60.0,
    ) -> None:
        self._backend = backend
        self._id = namespace_id
        self._clock = clock
        self._cache = cache
        self._ttl = cache_ttl

    def __repr__(self) -> str:
        return f"<KVNamespace {self._id!r} ({self._backend.name})>"

    # -- reading ------------------------------------------------------------------------------

    @timed("kv")
    async def get(self, key: Any, *args: Any, **kwargs: Any) -> Any:
        """``get(key, type?)`` or ``get(key, {type, cacheTtl})``; a list of keys reads in bulk."""
        if type(key) is list:
            return await self._get_bulk(key, args, kwargs, with_metadata=False)
        kind, cache_ttl = _get_options(args, kwargs) if args or kwargs else ("text", None)
        entry = await self._read(_checked_key(key, "GET"), cache_ttl)
        return None if entry is None else _decode(entry.value, kind)

    @timed("kv")
    async def getWithMetadata(self, key: Any, *args: Any, **kwargs: Any) -> Any:
        """``{value, metadata, cacheStatus}``; a list of keys reads in bulk."""
        if type(key) is list:
            return await self._get_bulk(key, args, kwargs, with_metadata=True)
        kind, cache_ttl = _get_options(args, kwargs)
        entry = await self._read(_checked_key(key, "GET"), cache_ttl)
        if entry is None:
            return JsDict(value=None, metadata=None, cacheStatus=None)
        value = _decode(entry.value, kind)
        return JsDict(value=value, metadata=_parse_metadata(entry.metadata), cacheStatus=None)

    async def _read(self, key: str, cache_ttl: Any) -> Entry | None:
        ttl = self._ttl if cache_ttl is None else _cache_ttl(cache_ttl, "GET")
        cache = self._cache
        if self._ttl > 0:
            try:
                return cache.items[(self._id, key)][0]  # the hot path: no I/O, no copy
            except KeyError:
                pass
        writes = cache.writes
        entry = await self._backend.get(self._id, key)
        expiration = None if entry is None else entry.expiration
        if expiration is not None and expiration <= self._clock():
            await self._backend.purge(self._id, [(key, expiration)])
            entry = None
        if self._ttl > 0:
            cache.store((self._id, key), entry, ttl, writes)
        return entry

    async def _get_bulk(
        self, keys: list[Any], args: tuple[Any, ...], kwargs: dict[str, Any], with_metadata: bool
    ) -> dict[str, Any]:
        op = "GET_BULK"
        kind, cache_ttl = _get_options(args, kwargs, default=None)
        if kind not in (None, "", "text", "json"):
            raise KVError(op, 400, f'"{kind}" is not a valid type. Use "json" or "text"')
        if len(keys) > KV_MAX_BULK_KEYS:
            raise KVError(op, 400, f"You can request a maximum of {KV_MAX_BULK_KEYS} keys")
        if not keys:
            raise KVError(op, 400, "You must request a minimum of 1 key")
        names = [_js_string(key) for key in keys]
        _bulk_key(names[0])
        ttl = self._ttl if cache_ttl is None else _cache_ttl(cache_ttl, op)
        for name in names[1:]:
            _bulk_key(name)

        result: dict[str, Any] = {}
        total = 0
        for name, entry in zip(names, await self._read_many(names, ttl), strict=True):
            if entry is None:
                result[name] = None
                continue
            text = entry.value.decode("utf-8", "replace")
            total += len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2
            value: Any = text
            if kind == "json":
                try:
                    value = _parse_json(text)
                except json.JSONDecodeError:
                    raise KVError(
                        op,
                        400,
                        "At least one of the requested keys corresponds to a non-json value",
                    ) from None
            if with_metadata:
                value = JsDict(value=value, metadata=_parse_metadata(entry.metadata))
            result[name] = value
        if total > KV_MAX_BULK_BYTES:
            limit = _js_number(KV_MAX_BULK_BYTES / 1024 / 1024)
            raise KVError(op, 413, f"Total size of request exceeds the limit of {limit}MB")
        return result

    async def _read_many(self, keys: Sequence[str], ttl: float) -> list[Entry | None]:
        cache = self._cache
        found: dict[str, Entry | None] = {}
        missing: list[str] = []
        use_cache = self._ttl > 0
        for key in dict.fromkeys(keys):
            item = cache.items.get((self._id, key)) if use_cache else None
            if item is None:
                missing.append(key)
            else:
                found[key] = item[0]
        if missing:
            writes = cache.writes
            entries = await self._backend.get_many(self._id, missing)
            now = self._clock()
            expired: list[tuple[str, int]] = []
            for key, entry in zip(missing, entries, strict=True):
                if entry is not None and entry.expiration is not None and entry.expiration <= now:
                    expired.append((key, entry.expiration))
                    entry = None
                found[key] = entry
                if use_cache:
                    cache.store((self._id, key), entry, ttl, writes)
            if expired:
                await self._backend.purge(self._id, expired)
        return [found[key] for key in keys]

    # -- writing ------------------------------------------------------------------------------

    @timed("kv")
    async def put(self, key: Any, value: Any, *args: Any, **kwargs: Any) -> None:
        """``put(key, value, {expiration?, expirationTtl?, metadata?})``.

        ``value`` is a str, a bytes-like object, or a stream (a ReadableStream or any async
        iterable of bytes), read to its end before the size limit is enforced.
        """
        name = _checked_key(key, "PUT")
        data = _put_value(value)
        opts = options(args, kwargs)
        expiration = self._expiration(opts)
        metadata = _metadata_json(opts.get("metadata"))
        if isinstance(data, bytes):
            if len(data) > KV_MAX_VALUE_BYTES:
                raise _too_long(len(data))
        else:
            data = await _read_stream(data)
        try:
            await self._backend.put(self._id, name, Entry(data, expiration, metadata))
        finally:
            self._cache.invalidate((self._id, name))

    def _expiration(self, opts: dict[str, Any]) -> int | None:
        """Seconds since the epoch, from ``expirationTtl`` (which wins) or ``expiration``."""
        now = math.floor(self._clock())
        raw_ttl = opts.get("expirationTtl")
        if raw_ttl is not None:
            ttl = _js_int(raw_ttl)
            if ttl <= 0:
                raise KVError(
                    "PUT",
                    400,
                    f"Invalid expiration_ttl of {ttl}. Please specify integer greater than 0.",
                )
            if ttl < KV_MIN_EXPIRATION_TTL:
                raise KVError(
                    "PUT",
                    400,
                    f"Invalid expiration_ttl of {ttl}. "
                    f"Expiration TTL must be at least {KV_MIN_EXPIRATION_TTL}.",
                )
            return now + ttl
        raw = opts.get("expiration")
        if raw is None:
            return None
        expiration = _js_int(raw)
        if expiration <= now:
            raise KVError(
                "PUT",
                400,
                f"Invalid expiration of {expiration}. Please specify integer greater than "
                "the current number of seconds since the UNIX epoch.",
            )
        if expiration < now + KV_MIN_EXPIRATION_TTL:
            raise KVError(
                "PUT",
                400,
                f"Invalid expiration of {expiration}. Expiration times must be at least "
                f"{KV_MIN_EXPIRATION_TTL} seconds in the future.",
            )
        return expiration

    @timed("kv")
    async def delete(self, key: Any) -> None:
        """Remove ``key``; a missing key is not an error."""
        name = _checked_key(key, "DELETE")
        try:
            await self._backend.delete(self._id, name)
        finally:
            self._cache.invalidate((self._id, name))

    # -- listing ------------------------------------------------------------------------------

    @timed("kv")
    async def list(self, *args: Any, **kwargs: Any) -> JsDict:
        """``list({prefix?, limit?, cursor?})``: ``{keys, list_complete, cursor?, cacheStatus}``."""
        opts = options(args, kwargs)
        limit = KV_MAX_LIST_KEYS
        if opts.get("limit") is not None:
            asked = _js_int(opts["limit"])
            if asked > KV_MAX_LIST_KEYS:
                raise KVError(
                    "GET",
                    400,
                    f"Invalid key_count_limit of {asked}. "
                    f"Please specify an integer less than {KV_MAX_LIST_KEYS}.",
                )
            if asked > 0:  # workerd leaves out a limit <= 0, so the default applies
                limit = asked
        prefix = "" if opts.get("prefix") is None else _js_string(opts["prefix"])
        _check_length(prefix, "GET")
        cursor = opts.get("cursor")
        after = _cursor_key(_js_string(cursor)) if cursor else ""

        rows = await self._page(prefix, after, limit + 1)
        complete = len(rows) <= limit
        rows = rows[:limit]
        result = JsDict(keys=[_key_info(row) for row in rows], list_complete=complete)
        if not complete:
            result["cursor"] = base64.b64encode(rows[-1].name.encode()).decode()
        result["cacheStatus"] = None
        return result

    async def _page(self, prefix: str, after: str, want: int) -> builtins.list[Listed]:
        """Up to ``want`` live rows after ``after``; rows expired before now are purged.

        A row is listed while ``expiration >= now`` (in ms), one tick longer than ``get``
        returns it, as on Cloudflare.
        """
        now_ms = math.floor(self._clock() * 1000)
        rows: builtins.list[Listed] = []
        expired: builtins.list[tuple[str, int]] = []
        while len(rows) < want:
            asked = want - len(rows)
            batch = await self._backend.list(self._id, prefix, after, asked)
            for row in batch:
                if row.expiration is not None and row.expiration * 1000 < now_ms:
                    expired.append((row.name, row.expiration))
                else:
                    rows.append(row)
            if len(batch) < asked:
                break
            after = batch[-1].name
        if expired:
            await self._backend.purge(self._id, expired)
        return rows


# -- argument handling --------------------------------------------------------------------------


def _get_options(
    args: tuple[Any, ...], kwargs: dict[str, Any], default: str | None = "text"
) -> tuple[Any, Any]:
    """(type, cacheTtl) from ``"json"``, ``{"type": ..., "cacheTtl": ...}`` or keywords."""
    kind = None
    if args and isinstance(args[0], str):
        kind, args = args[0], args[1:]
    opts = options(args, kwargs)
    if kind is None:
        kind = opts.get("type")
    return (default if kind is None else kind), opts.get("cacheTtl")


def _checked_key(key: Any, op: str) -> str:
    """workerd's client-side key checks (TypeErrors, then the 414 length error)."""
    if type(key) is not str:
        key = _js_string(key)
    if not key:
        raise JsTypeError("Key name cannot be empty.")
    if key == "." or key == "..":
        raise JsTypeError(f'"{key}" is not allowed as a key name.')
    _check_length(key, op)
    return key  # type: ignore[no-any-return]


def _check_length(key: str, op: str) -> None:
    if len(key) * 4 > KV_MAX_KEY_BYTES:  # only then can its UTF-8 form be too long
        size = len(key.encode())
        if size > KV_MAX_KEY_BYTES:
            raise KVError(
                op,
                414,
                f"UTF-8 encoded length of {size} exceeds key length limit of {KV_MAX_KEY_BYTES}.",
            )


def _bulk_key(key: str) -> None:
    """The KV service's checks of each key of a bulk read."""
    if not key:
        raise KVError("GET_BULK", 400, "Key names must not be empty")
    if key == "." or key == "..":
        raise KVError("GET_BULK", 400, f'Illegal key name "{key}". Please use a different name.')
    _check_length(key, "GET_BULK")


def _cache_ttl(raw: Any, op: str) -> float:
    ttl = _js_int(raw)
    if ttl < KV_MIN_CACHE_TTL:
        raise KVError(
            op, 400, f"Invalid cache_ttl of {ttl}. Cache TTL must be at least {KV_MIN_CACHE_TTL}."
        )
    return float(ttl)


def _put_value(value: Any) -> Value:
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)  # a copy: the caller may change its buffer after put() returns
    if isinstance(value, ReadableStream):
        if value.length is not None and value.length > KV_MAX_VALUE_BYTES:
            raise _too_long(value.length)
        return value
    if isinstance(value, AsyncIterable):
        return value
    if value is None or isinstance(value, bool | int | float):
        return _js_string(value).encode()
    raise JsTypeError(BAD_PUT_VALUE)


async def _read_stream(stream: AsyncIterable[Any]) -> bytes:
    """Read a stream to its end, keeping at most the limit but counting every byte."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in stream:
        if not isinstance(chunk, bytes):
            if not isinstance(chunk, bytearray | memoryview):
                raise JsTypeError(BAD_PUT_VALUE)
            chunk = bytes(chunk)
        size += len(chunk)
        if size <= KV_MAX_VALUE_BYTES:
            chunks.append(chunk)
    if size > KV_MAX_VALUE_BYTES:
        raise _too_long(size)
    return b"".join(chunks)


def _too_long(size: int) -> KVError:
    return KVError("PUT", 413, f"Value length of {size} exceeds limit of {KV_MAX_VALUE_BYTES}.")


def _metadata_json(metadata: Any) -> str | None:
    """The metadata as JSON.stringify would write it, checked against the size limit."""
    if metadata is None:
        return None
    try:
        text = json.dumps(metadata, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise JsTypeError(f"KV put() metadata must be JSON-serialisable: {exc}") from None
    size = len(text.encode())
    if size > KV_MAX_METADATA_BYTES:
        raise KVError(
            "PUT", 413, f"Metadata length of {size} exceeds limit of {KV_MAX_METADATA_BYTES}."
        )
    return text


def _cursor_key(cursor: str) -> str:
    """The key a cursor starts after; lenient like Node's base64 decoder."""
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        return ""
    return raw.decode("utf-8", "replace")


# -- results ------------------------------------------------------------------------------------


def _decode(value: bytes, kind: Any) -> Any:
    if kind == "text":
        return value.decode("utf-8", "replace")
    if kind == "json":
        try:
            return _parse_json(value.decode("utf-8", "replace"))
        except json.JSONDecodeError as exc:
            raise KVJSONError.of(exc) from None
    if kind == "arrayBuffer":
        return memoryview(value)  # read-only: it may be the cached value itself
    if kind == "stream":
        return stream_of(value)
    raise JsTypeError(UNKNOWN_TYPE)


def _parse_metadata(text: str | None) -> Any:
    return None if text is None else _parse_json(text)


def _key_info(row: Listed) -> JsDict:
    info = JsDict(name=row.name)
    if row.expiration is not None:
        info["expiration"] = row.expiration
    if row.metadata is not None:
        info["metadata"] = _parse_metadata(row.metadata)
    return info


# -- JS coercions -------------------------------------------------------------------------------


def _js_number(number: float) -> str:
    """A number as JS prints it (``25``, not ``25.0``)."""
    if math.isfinite(number) and number == int(number) and abs(number) < 1e21:
        return str(int(number))
    return repr(number)


def _js_string(value: Any) -> str:
    """JS ``String(value)`` for the primitives Pyodide passes through."""
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return _js_number(value)
    raise JsTypeError(f"KV keys and options must be strings, not {type(value).__name__}")


def _js_int(value: Any) -> int:
    """An integer option as workerd reads it: truncated, and 0 for anything not a number."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        if "_" in text:
            return 0
        try:
            value = float(text) if text else 0.0
        except ValueError:
            return 0
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else 0
    return 0
