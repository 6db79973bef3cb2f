"""``env.BUCKET``: R2's semantics over a storage backend (limits, errors, conditionals, ranges).

Everything a Worker sees of R2 is decided here, from the conformance reference (§2): key and
metadata limits, checksum and range validation, the ``onlyIf`` truth table, list pagination,
and the multipart rules. Backends (``bindings/r2/backends``) only store and find. Limits are
module constants so tests can lower them (``monkeypatch.setattr(bucket, "R2_MIN_PART_BYTES",
50)``, like Miniflare's test mode).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ParamSpec, TypeVar

from bindings.clock import Clock
from bindings.errors import JsRangeError, JsTypeError
from bindings.jsobj import JsDict, options
from bindings.metrics import timed
from bindings.r2.backends import Backend, NewObject, Part, Record
from bindings.r2.conditionals import Conditional, conditional_option, passes
from bindings.r2.errors import (
    R2BadUpload,
    R2EntityTooSmall,
    R2Error,
    R2InternalError,
    R2InvalidMaxKeys,
    R2InvalidObjectName,
    R2InvalidPart,
    R2MetadataTooLarge,
    R2NoSuchUpload,
)
from bindings.r2.objects import (
    R2Object,
    R2ObjectBody,
    _Fields,
    custom_metadata_option,
    http_metadata_option,
)
from bindings.r2.payload import Payload, checksum_option
from bindings.r2.ranges import range_option, resolve

R2_MAX_KEY_BYTES = 1024
R2_MAX_VALUE_BYTES = 5 * 1024**3 - 5 * 1024**2  # 5 GiB - 5 MiB
R2_MAX_METADATA_SIZE = 2048  # customMetadata, counted as R2 does (see _metadata_size)
R2_MAX_LIST_KEYS = 1000
R2_MAX_LIST_KEYS_WITH_INCLUDE = 100
R2_MIN_PART_BYTES = 5 * 1024 * 1024
R2_MAX_PART_NUMBER = 10_000

_GET = frozenset({"onlyIf", "range", "ssecKey"})
_PUT = frozenset({"onlyIf", "httpMetadata", "customMetadata", "md5", "sha1", "sha256",
                  "sha384", "sha512", "storageClass", "ssecKey"})  # fmt: skip
_LIST = frozenset({"limit", "prefix", "cursor", "delimiter", "startAfter", "include"})
_CREATE = frozenset({"httpMetadata", "customMetadata", "storageClass", "ssecKey"})
_PART = frozenset({"ssecKey"})
_INCLUDE = ("httpMetadata", "customMetadata")

P = ParamSpec("P")
T = TypeVar("T")


def _operation(op: str) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Awaitable[T]]]:
    """Name ``op`` in every R2Error raised below (backends raise them without one)."""

    def decorate(method: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        @functools.wraps(method)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            try:
                return await method(*args, **kwargs)
            except R2Error as exc:
                exc.with_op(op)
                raise

        return wrapper

    return decorate


def _options(args: tuple[Any, ...], kwargs: dict[str, Any], allowed: frozenset[str],
             method: str) -> dict[str, Any]:  # fmt: skip
    if not args and not kwargs:
        return {}
    opts = options(args, kwargs)
    for name in opts:
        if name not in allowed:
            raise JsTypeError(f"{method}() got an unknown option {name!r}")
    return opts


def _check_key(key: Any, op: str) -> str:
    if not isinstance(key, str):
        raise JsTypeError(f"{op}: the key must be a string, not {type(key).__name__}")
    if len(key) * 4 > R2_MAX_KEY_BYTES and len(_utf8(key)) > R2_MAX_KEY_BYTES:
        raise R2InvalidObjectName(op)
    return key


def _utf8(text: str) -> bytes:
    """A key's UTF-8 bytes (R2's order); a lone surrogate is kept, as in a JS string."""
    return text.encode("utf-8", "surrogatepass")


def _js_length(text: str) -> int:
    """R2's size of a metadata string: UTF-16 units, doubled when any char is >= U+0100."""
    if text.isascii():
        return len(text)
    units = len(text) + sum(1 for c in text if ord(c) > 0xFFFF)
    return units * 2 if any(ord(c) >= 0x100 for c in text) else units


def _check_metadata(custom: dict[str, str], op: str) -> None:
    if sum(_js_length(k) + _js_length(v) for k, v in custom.items()) > R2_MAX_METADATA_SIZE:
        raise R2MetadataTooLarge(op)


def _string(opts: dict[str, Any], name: str) -> str | None:
    value = opts.get(name)
    if value is not None and not isinstance(value, str):
        raise JsTypeError(f"list option {name} must be a string")
    return value


def _decode_cursor(cursor: str) -> str:
    """A cursor is base64 of the key to start after; garbage decodes to some string."""
    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        return base64.b64decode(padded, altchars=b"-_").decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return ""


class R2Bucket:
    """An R2 bucket binding (``env.BUCKET``), the API of Cloudflare's ``R2Bucket``."""

    def __init__(self, backend: Backend, *, clock: Clock, name: str) -> None:
        self._backend = backend
        self._clock = clock
        self.name = name

    def __repr__(self) -> str:
        return f"<R2Bucket {self.name!r}>"

    def _new(self, key: str, http: dict[str, Any], custom: dict[str, str]) -> NewObject:
        return NewObject(key, secrets.token_hex(16), int(self._clock() * 1000), http, custom)

    @_operation("head")
    @timed("r2")
    async def head(self, key: str) -> R2Object | None:
        """The object's metadata, or None when the key is missing."""
        record = await self._backend.head(_check_key(key, "head"))
        return None if record is None else R2Object(record, (0, record.size))

    @_operation("get")
    @timed("r2")
    async def get(self, key: str, *args: Any, **kwargs: Any) -> R2ObjectBody | R2Object | None:
        """The object with its body; without one when ``onlyIf`` fails; None when missing."""
        opts = _options(args, kwargs, _GET, "get")
        _check_key(key, "get")
        cond = conditional_option(opts.get("onlyIf"))
        spec = range_option(opts.get("range"))
        opened = await self._backend.open(key, whole=cond is None and spec is None)
        if opened is None:
            return None
        record = opened.record
        try:
            if cond is not None and not passes(cond, record.etag, record.uploaded):
                await opened.close()
                return R2Object(record, (0, record.size))
            offset, length = resolve(spec, record.size)
        except BaseException:
            await opened.close()
            raise
        return R2ObjectBody(record, (offset, length), await opened.read(offset, length))

    @_operation("put")
    @timed("r2")
    async def put(self, key: str, value: Any, *args: Any, **kwargs: Any) -> R2Object | None:
        """Store ``value`` (str, bytes-like, Blob, stream or None); None when ``onlyIf`` fails."""
        opts = _options(args, kwargs, _PUT, "put")
        _check_key(key, "put")
        http = http_metadata_option(opts.get("httpMetadata"))
        custom = custom_metadata_option(opts.get("customMetadata"))
        _check_metadata(custom, "put")
        expected = checksum_option(opts)
        cond = conditional_option(opts.get("onlyIf"))
        payload = Payload(value, max_size=R2_MAX_VALUE_BYTES, expected=expected)
        check = None if cond is None else functools.partial(_holds, cond)
        record = await self._backend.put(self._new(key, http, custom), payload, check)
        return None if record is None else R2Object(record)

    @_operation("delete")
    @timed("r2")
    async def delete(self, keys: str | list[str]) -> None:
        """Delete one key or a list of keys; missing keys are ignored."""
        names = [keys] if isinstance(keys, str) else keys
        if not isinstance(names, list | tuple):
            raise JsTypeError("delete() takes a key or a list of keys")
        for name in names:
            _check_key(name, "delete")
        await self._backend.delete(list(names))

    @_operation("list")
    @timed("r2")
    async def list(self, *args: Any, **kwargs: Any) -> JsDict:
        """A page of objects in key order: ``{objects, truncated, cursor?, delimitedPrefixes}``."""
        opts = _options(args, kwargs, _LIST, "list")
        limit = opts.get("limit")
        if limit is None:
            limit = R2_MAX_LIST_KEYS
        elif not isinstance(limit, int) or isinstance(limit, bool):
            raise JsTypeError("list option limit must be an integer")
        elif not 1 <= limit <= R2_MAX_LIST_KEYS:
            raise R2InvalidMaxKeys()
        include = opts.get("include") or []
        if isinstance(include, str) or not isinstance(include, list | tuple):
            raise JsTypeError("list option include must be a list")
        for item in include:
            if item not in _INCLUDE:
                raise JsRangeError(f"Unsupported include value {item}")
        if include:
            limit = min(limit, R2_MAX_LIST_KEYS_WITH_INCLUDE)
        prefix = _string(opts, "prefix") or ""
        start_after = _string(opts, "startAfter")
        cursor = _string(opts, "cursor")
        if cursor is not None:
            decoded = _decode_cursor(cursor)
            if start_after is None or _utf8(decoded) > _utf8(start_after):
                start_after = decoded
        delimiter = _string(opts, "delimiter") or None
        page = await self._backend.listing(prefix, start_after, limit, delimiter)
        http, custom = "httpMetadata" in include, "customMetadata" in include
        result = JsDict(
            objects=[R2Object(r, http=http, custom=custom) for r in page.objects],
            truncated=page.last is not None,
        )
        if page.last is not None:
            result["cursor"] = base64.b64encode(_utf8(page.last)).decode()
        result["delimitedPrefixes"] = page.prefixes
        return result

    @_operation("createMultipartUpload")
    @timed("r2")
    async def createMultipartUpload(self, key: str, *args: Any, **kwargs: Any) -> R2MultipartUpload:
        """Start a multipart upload; its metadata applies to the completed object."""
        opts = _options(args, kwargs, _CREATE, "createMultipartUpload")
        _check_key(key, "createMultipartUpload")
        http = http_metadata_option(opts.get("httpMetadata"))
        custom = custom_metadata_option(opts.get("customMetadata"))
        _check_metadata(custom, "createMultipartUpload")
        upload_id = await self._backend.create_upload(self._new(key, http, custom))
        return R2MultipartUpload(self, key, upload_id)

    def resumeMultipartUpload(self, key: str, uploadId: str) -> R2MultipartUpload:
        """An upload object for an existing id (not checked until it is used)."""
        return R2MultipartUpload(self, key, uploadId)


def _holds(cond: Conditional, record: Record | None) -> bool:
    if record is None:
        return passes(cond, None, None)
    return passes(cond, record.etag, record.uploaded)


def _part_number(value: Any) -> int:
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or not (1 <= value <= R2_MAX_PART_NUMBER)
    ):
        raise JsTypeError(
            f"Part number must be between 1 and 10000 (inclusive). Actual value was: {value}"
        )
    return value


def _uploaded_part(part: Any) -> tuple[int, str]:
    if isinstance(part, Mapping):
        number, etag = part.get("partNumber"), part.get("etag")
    else:
        number, etag = getattr(part, "partNumber", None), getattr(part, "etag", None)
    if not isinstance(etag, str):
        raise JsTypeError("each uploaded part must have a partNumber and an etag string")
    return _part_number(number), etag


def multipart_etag(parts: list[Part]) -> str:
    """R2's (and S3's) etag of an assembled object: MD5 of the parts' binary MD5s, ``-<n>``."""
    digest = hashlib.md5(usedforsecurity=False)
    for part in parts:
        digest.update(bytes.fromhex(part.md5))
    return f"{digest.hexdigest()}-{len(parts)}"


class R2MultipartUpload(_Fields):
    """An upload in progress: ``uploadPart``, then ``complete`` (or ``abort``)."""

    FIELDS = ("key", "uploadId")
    __slots__ = ("_bucket", "key", "uploadId")

    def __init__(self, bucket: R2Bucket, key: str, upload_id: str) -> None:
        self._bucket = bucket
        self.key = key
        self.uploadId = upload_id

    def __repr__(self) -> str:
        return f"<R2MultipartUpload {self.key!r} {self.uploadId}>"

    @_operation("uploadPart")
    @timed("r2")
    async def uploadPart(self, partNumber: int, value: Any, *args: Any, **kwargs: Any) -> JsDict:
        """Upload one part (replacing an earlier one of that number): ``{partNumber, etag}``."""
        _options(args, kwargs, _PART, "uploadPart")
        _part_number(partNumber)
        _check_key(self.key, "uploadPart")
        payload = Payload(value, max_size=R2_MAX_VALUE_BYTES)
        part = await self._bucket._backend.put_part(self.key, self.uploadId, partNumber, payload)
        return JsDict(partNumber=partNumber, etag=part.etag)

    @_operation("abortMultipartUpload")
    @timed("r2")
    async def abort(self) -> None:
        """Abort the upload and drop its parts; a no-op once completed or aborted."""
        _check_key(self.key, "abortMultipartUpload")
        status = await self._bucket._backend.abort_upload(self.key, self.uploadId)
        if status == "unknown":
            raise R2InternalError()

    @_operation("completeMultipartUpload")
    @timed("r2")
    async def complete(self, uploadedParts: list[Any]) -> R2Object:
        """Assemble the given parts, in ascending part number, into the object."""
        given = [_uploaded_part(p) for p in uploadedParts]
        _check_key(self.key, "completeMultipartUpload")
        backend = self._bucket._backend
        upload = await backend.upload(self.key, self.uploadId)
        if upload.status == "unknown":
            raise R2InternalError()
        if upload.status == "finished":
            raise R2NoSuchUpload()
        if len({number for number, _ in given}) != len(given):
            raise R2InternalError()
        chosen = []
        for number, etag in given:
            part = upload.parts.get(number)
            if part is None or part.etag != etag:
                raise R2InvalidPart()
            chosen.append(part)
        # R2 checks sizes twice: in argument order (a friendly error), then in part order.
        if any(part.size < R2_MIN_PART_BYTES for part in chosen[:-1]):
            raise R2EntityTooSmall()
        ordered = sorted(chosen, key=lambda part: part.number)
        if len(ordered) > 1:
            size = ordered[0].size
            if any(p.size < R2_MIN_PART_BYTES or p.size != size for p in ordered[:-1]):
                raise R2BadUpload()
            if ordered[-1].size > size:
                raise R2BadUpload()
        new = self._bucket._new(self.key, {}, {})
        record = await backend.complete_upload(
            self.key, self.uploadId, ordered, etag=multipart_etag(ordered),
            version=new.version, uploaded=new.uploaded,
        )  # fmt: skip
        return R2Object(record)
