"""R2 on any S3 API (AWS S3, Cloudflare R2's S3 endpoint, MinIO, SeaweedFS, moto), via aiobotocore.

An R2 key ``k`` is the S3 key ``<s3_prefix>k`` (so without a prefix the empty key cannot be
stored: S3 has no empty keys). What S3 lacks is kept in the object's user metadata:

- ``httpMetadata`` -> Content-Type, Content-Language, Content-Disposition, Content-Encoding,
  Cache-Control and Expires (whole seconds), plus ``x-amz-meta-hearth-http`` naming the fields
  that were set (S3 always reports a Content-Type);
- ``customMetadata`` -> ``x-amz-meta-<key>`` when every key is lowercase ``[a-z0-9-]`` and every
  value plain printable ASCII (what other S3 tools see); otherwise all of it as percent-encoded
  JSON in ``x-amz-meta-hearth-custom`` (S3 lower-cases metadata names and drops odd ones);
- ``version`` -> ``hearth-version``; ``uploaded`` -> ``hearth-uploaded`` (milliseconds) for
  single puts, S3's Last-Modified (whole seconds) for multipart objects and foreign objects;
- checksums: MD5 is the S3 ETag of a single-part object; a SHA checksum goes to
  ``hearth-sha1`` ... ``hearth-sha512``.

Objects written by other S3 tools read fine (their metadata as customMetadata, a version
derived from ETag and Last-Modified). A multipart upload id is ``<16 hex of the key's
SHA-256><S3 UploadId>``, so an id used with another key, or a made-up one, is recognised
without any state. Part etags are S3's (MD5s): re-uploading identical bytes gives the same one.

Values given as streams are spooled (memory up to 8 MiB, then a temporary file) while their
checksum is verified, then sent with their length: nothing is stored when a checksum fails.
A ranged or conditional ``get`` is a HEAD then a ranged GET checked against the HEAD's ETag;
a plain ``get`` is one GET. ``list`` HEADs each listed object (16 at a time), since S3
listings carry no user metadata.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import AsyncExitStack
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from botocore.exceptions import BotoCoreError, ClientError

from bindings.body import ReadableStream, stream_of
from bindings.r2.backends import Check, NewObject, Page, Part, Record, Upload, UploadStatus
from bindings.r2.conditionals import http_date, to_millis
from bindings.r2.errors import (
    R2EntityTooLarge,
    R2EntityTooSmall,
    R2Error,
    R2InternalError,
    R2InvalidObjectName,
    R2InvalidPart,
    R2MetadataTooLarge,
    R2NoSuchUpload,
)
from bindings.r2.objects import from_millis
from bindings.r2.payload import ALGORITHMS, Digests, Payload

if TYPE_CHECKING:
    from bindings.r2.plugin import Store

INLINE_BYTES = 64 * 1024  # values up to this size are read in one go
READ_CHUNK_BYTES = 1024 * 1024
SPOOL_MEMORY_BYTES = 8 * 1024 * 1024
LIST_HEAD_CONCURRENCY = 16
DELETE_BATCH = 1000  # S3's DeleteObjects limit

_HTTP = {"contentType": "ContentType", "contentLanguage": "ContentLanguage",
         "contentDisposition": "ContentDisposition", "contentEncoding": "ContentEncoding",
         "cacheControl": "CacheControl", "cacheExpiry": "Expires"}  # fmt: skip
_PLAIN_KEY = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")
_NOT_FOUND = {"404", "NoSuchKey", "NotFound", "NoSuchUpload"}
_TRANSLATE: dict[str, type[R2Error]] = {
    "NoSuchUpload": R2NoSuchUpload,
    "InvalidPart": R2InvalidPart,
    "InvalidPartOrder": R2InvalidPart,
    "EntityTooSmall": R2EntityTooSmall,
    "EntityTooLarge": R2EntityTooLarge,
    "MetadataTooLarge": R2MetadataTooLarge,
    "KeyTooLongError": R2InvalidObjectName,
}


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextlib.contextmanager
def _guard() -> Iterator[None]:
    """S3 errors R2 has a name for become that R2Error; the rest R2InternalError (chained)."""
    try:
        yield
    except ClientError as exc:
        raise _TRANSLATE.get(_code(exc), R2InternalError)() from exc
    except (BotoCoreError, OSError, TimeoutError) as exc:
        raise R2InternalError() from exc
    except Exception as exc:  # aiohttp's errors, without importing aiohttp here
        if type(exc).__module__.startswith("aiohttp"):
            raise R2InternalError() from exc
        raise


_session: Any = None


def _shared_session() -> Any:
    """One aiobotocore session per process: it caches the parsed S3 service model."""
    global _session
    if _session is None:
        from aiobotocore.session import get_session

        _session = get_session()
    return _session


class S3Clients:
    """The process's aiobotocore clients: one per distinct endpoint, region and credentials."""

    def __init__(self) -> None:
        self._stack = AsyncExitStack()
        self._clients: dict[tuple[Any, ...], Any] = {}

    async def client(self, store: Store) -> Any:
        ident = (store.endpoint, store.region, store.access_key_id, store.secret_access_key)
        client = self._clients.get(ident)
        if client is None:
            from aiobotocore.config import AioConfig

            # An endpoint from the environment is a custom one too (MinIO, R2): path style.
            endpoint = (
                store.endpoint
                or os.environ.get("AWS_ENDPOINT_URL_S3")
                or os.environ.get("AWS_ENDPOINT_URL")
            )
            region = (
                store.region
                or os.environ.get("AWS_REGION")
                or os.environ.get("AWS_DEFAULT_REGION")
                or "us-east-1"
            )
            config = AioConfig(
                # Custom endpoints (MinIO, SeaweedFS, R2, moto) want path-style addressing.
                s3={"addressing_style": "path"} if endpoint else {},
                # Newer botocore adds CRC trailers many S3-compatible servers reject.
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                max_pool_connections=64,
                retries={"max_attempts": 3, "mode": "standard"},
            )
            client = await self._stack.enter_async_context(
                _shared_session().create_client(
                    "s3",
                    endpoint_url=endpoint,
                    region_name=region,
                    aws_access_key_id=store.access_key_id,
                    aws_secret_access_key=store.secret_access_key,
                    config=config,
                )
            )
            self._clients[ident] = client
        return client

    async def aclose(self) -> None:
        self._clients.clear()
        await self._stack.aclose()


# -- metadata mapping ------------------------------------------------------------------------
def _encode_custom(custom: dict[str, str]) -> dict[str, str]:
    plain = all(
        _PLAIN_KEY.match(k) and not k.startswith("hearth-") and v and v.isascii()
        and v.isprintable() and v == v.strip()
        for k, v in custom.items()
    )  # fmt: skip
    if plain:
        return dict(custom)
    text = json.dumps(custom, separators=(",", ":"), ensure_ascii=False)
    return {"hearth-custom": quote(text, safe=_SAFE)}


def _decode_custom(meta: dict[str, str]) -> dict[str, str]:
    if "hearth-custom" in meta:
        decoded: dict[str, str] = json.loads(unquote(meta["hearth-custom"]))
        return decoded
    return {k: v for k, v in meta.items() if not k.startswith("hearth-")}


def _write_params(obj: NewObject, extra: dict[str, str]) -> dict[str, Any]:
    """PutObject / CreateMultipartUpload parameters carrying an object's metadata."""
    params: dict[str, Any] = {}
    for name, value in obj.http_metadata.items():
        if name == "cacheExpiry":
            value = from_millis(value)
        params[_HTTP[name]] = value
    meta = _encode_custom(obj.custom_metadata)
    meta["hearth-version"] = obj.version
    meta["hearth-http"] = ",".join(obj.http_metadata) or "none"
    meta.update(extra)
    params["Metadata"] = meta
    return params


def _version(resp: dict[str, Any]) -> str:
    """Hearth's version of an object, or one derived from ETag and Last-Modified (foreign)."""
    stored: str | None = resp.get("Metadata", {}).get("hearth-version")
    if stored:
        return stored
    seed = f"{resp.get('ETag', '')}/{to_millis(resp['LastModified'])}"
    return hashlib.md5(seed.encode(), usedforsecurity=False).hexdigest()


def _record(key: str, resp: dict[str, Any]) -> Record:
    """A Record from a HeadObject or whole GetObject response."""
    meta: dict[str, str] = resp.get("Metadata", {})
    etag = meta.get("hearth-etag", str(resp.get("ETag", "")).strip('"'))
    modified = to_millis(resp["LastModified"])
    version = _version(resp)
    uploaded = int(meta["hearth-uploaded"]) if "hearth-uploaded" in meta else modified
    marker = meta.get("hearth-http")
    fields = set(marker.split(",")) if marker is not None else set(_HTTP)
    http: dict[str, Any] = {}
    for name, param in _HTTP.items():
        if name not in fields:
            continue
        if name == "cacheExpiry":
            expiry = http_date(resp.get("ExpiresString"))
            if expiry is None and resp.get("Expires") is not None:
                expiry = to_millis(resp["Expires"])
            if expiry is not None:
                http[name] = expiry
        elif resp.get(param):
            http[name] = resp[param]
    checksums = {} if "-" in etag else {"md5": etag}
    for name in ALGORITHMS:
        if f"hearth-{name}" in meta:
            checksums[name] = meta[f"hearth-{name}"]
    size = int(resp.get("ContentLength", 0))
    return Record(key, version, size, etag, uploaded, http, _decode_custom(meta), checksums)


async def _prepare(payload: Payload) -> tuple[bytes | IO[bytes], Digests]:
    """The value to send and its verified digests: in memory, or spooled from a stream."""
    if payload.data is not None:
        if len(payload.data) <= INLINE_BYTES:
            return payload.data, payload.hash_now()
        async for _ in payload.chunks():
            pass
        return payload.data, payload.finish()
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115
    try:
        async for chunk in payload.chunks():
            with _guard():  # a spool write error is ours; the stream's errors pass unchanged
                if len(chunk) > INLINE_BYTES:
                    await asyncio.to_thread(spool.write, chunk)
                else:
                    spool.write(chunk)
        digests = payload.finish()
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool, digests


def _md5_header(digests: Digests) -> str:
    return base64.b64encode(bytes.fromhex(digests.md5)).decode()


class S3Backend:
    """One R2 bucket stored in an S3 bucket (under a key prefix)."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix

    def _key(self, key: str) -> str:
        full = self._prefix + key
        if not full:
            raise R2InvalidObjectName()  # S3 has no empty key: set s3_prefix to store ""
        return full

    def _token(self, key: str, s3_id: str) -> str:
        return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16] + s3_id

    def _s3_upload(self, key: str, upload_id: str) -> str | None:
        """The S3 UploadId inside our upload id, or None if it is not one issued for ``key``."""
        if len(upload_id) <= 16 or not upload_id.startswith(self._token(key, "")):
            return None
        return upload_id[16:]

    async def close(self) -> None:
        """The client is shared; S3Clients closes it."""

    async def _found(self, call: Any, key: str) -> Any:
        """A HeadObject or GetObject response for ``key``, or None when there is no such key."""
        with _guard():
            try:
                return await call(Bucket=self._bucket, Key=self._key(key))
            except ClientError as exc:
                if _code(exc) in _NOT_FOUND:
                    return None
                raise

    async def head(self, key: str) -> Record | None:
        resp = await self._found(self._client.head_object, key)
        return None if resp is None else _record(key, resp)

    async def open(self, key: str, *, whole: bool) -> _S3Opened | None:
        if not whole:
            record = await self.head(key)
            return None if record is None else _S3Opened(self, record, None)
        resp = await self._found(self._client.get_object, key)
        return None if resp is None else _S3Opened(self, _record(key, resp), resp)

    async def _get_range(self, record: Record, offset: int, length: int) -> Any:
        with _guard():
            resp = await self._client.get_object(
                Bucket=self._bucket,
                Key=self._key(record.key),
                Range=f"bytes={offset}-{offset + length - 1}",
            )
        if _version(resp) != record.version:
            resp["Body"].close()
            raise R2InternalError(detail="the object changed while it was being read")
        return resp

    async def put(self, obj: NewObject, payload: Payload, check: Check | None) -> Record | None:
        body, digests = await _prepare(payload)
        with _guard():
            try:
                if check is not None and not check(await self.head(obj.key)):
                    return None
                extra = {f"hearth-{n}": h for n, h in digests.checksums.items() if n != "md5"}
                extra["hearth-uploaded"] = str(obj.uploaded)
                resp = await self._client.put_object(
                    Bucket=self._bucket, Key=self._key(obj.key), Body=body,
                    ContentLength=digests.size, ContentMD5=_md5_header(digests),
                    **_write_params(obj, extra),
                )  # fmt: skip
            finally:
                if not isinstance(body, bytes):
                    body.close()
        etag = str(resp.get("ETag", digests.md5)).strip('"')
        return Record(obj.key, obj.version, digests.size, etag, obj.uploaded,
                      obj.http_metadata, obj.custom_metadata, digests.checksums)  # fmt: skip

    async def delete(self, keys: list[str]) -> None:
        with _guard():
            names = [self._key(k) for k in keys]
            if len(names) == 1:
                await self._client.delete_object(Bucket=self._bucket, Key=names[0])
                return
            for start in range(0, len(names), DELETE_BATCH):
                batch = [{"Key": name} for name in names[start : start + DELETE_BATCH]]
                resp = await self._client.delete_objects(
                    Bucket=self._bucket, Delete={"Objects": batch, "Quiet": True}
                )
                if resp.get("Errors"):
                    raise R2InternalError(detail=f"delete failed: {resp['Errors'][0]}")

    async def listing(
        self, prefix: str, start_after: str | None, limit: int, delimiter: str | None
    ) -> Page:
        entries: list[tuple[str, bool]] = []  # (key or delimited prefix, is_prefix)
        params: dict[str, Any] = {"Bucket": self._bucket, "Prefix": self._prefix + prefix}
        if delimiter:
            params["Delimiter"] = delimiter
        if start_after is not None:
            params["StartAfter"] = self._prefix + start_after
        cut = len(self._prefix)
        with _guard():
            while len(entries) <= limit:
                params["MaxKeys"] = limit + 1 - len(entries)
                resp = await self._client.list_objects_v2(**params)
                found = [(o["Key"][cut:], False) for o in resp.get("Contents", [])]
                found += [(p["Prefix"][cut:], True) for p in resp.get("CommonPrefixes", [])]
                entries += sorted(found, key=lambda e: e[0].encode("utf-8", "surrogatepass"))
                if not resp.get("IsTruncated"):
                    break
                params["ContinuationToken"] = resp["NextContinuationToken"]
            more = len(entries) > limit
            del entries[limit:]
            semaphore = asyncio.Semaphore(LIST_HEAD_CONCURRENCY)

            async def head(key: str) -> Record | None:
                async with semaphore:
                    return await self.head(key)

            records = await asyncio.gather(*(head(k) for k, is_dir in entries if not is_dir))
        last = None
        if more:
            key, is_dir = entries[-1]
            # A delimited prefix resumes after every key under it.
            last = key + "\U0010ffff" if is_dir else key
        return Page(
            objects=[r for r in records if r is not None],
            prefixes=[k for k, is_dir in entries if is_dir],
            last=last,
        )

    # -- multipart --------------------------------------------------------------------------
    async def create_upload(self, obj: NewObject) -> str:
        with _guard():
            resp = await self._client.create_multipart_upload(
                Bucket=self._bucket, Key=self._key(obj.key), **_write_params(obj, {})
            )
        return self._token(obj.key, resp["UploadId"])

    async def upload(self, key: str, upload_id: str) -> Upload:
        s3_id = self._s3_upload(key, upload_id)
        if s3_id is None:
            return Upload("unknown")
        parts: dict[int, Part] = {}
        params: dict[str, Any] = {"Bucket": self._bucket, "Key": self._key(key), "UploadId": s3_id}
        with _guard():
            while True:
                try:
                    resp = await self._client.list_parts(**params)
                except ClientError as exc:
                    if _code(exc) in ("NoSuchUpload", *_NOT_FOUND):
                        return Upload("finished")
                    raise
                for p in resp.get("Parts", []):
                    etag = p["ETag"].strip('"')
                    parts[p["PartNumber"]] = Part(p["PartNumber"], etag, p["Size"], etag)
                if not resp.get("IsTruncated"):
                    return Upload("active", parts)
                params["PartNumberMarker"] = resp["NextPartNumberMarker"]

    async def put_part(self, key: str, upload_id: str, number: int, payload: Payload) -> Part:
        s3_id = self._s3_upload(key, upload_id)
        if s3_id is None:
            raise R2NoSuchUpload()
        with _guard():
            # Not every S3 server answers a part for a finished upload with NoSuchUpload (moto
            # fails with a 500 that botocore retries): ask first, with a one-part listing.
            try:
                await self._client.list_parts(
                    Bucket=self._bucket, Key=self._key(key), UploadId=s3_id, MaxParts=1
                )
            except ClientError as exc:
                if _code(exc) in _NOT_FOUND:
                    raise R2NoSuchUpload() from exc
                raise
        body, digests = await _prepare(payload)
        with _guard():
            try:
                resp = await self._client.upload_part(
                    Bucket=self._bucket, Key=self._key(key), UploadId=s3_id, PartNumber=number,
                    Body=body, ContentLength=digests.size, ContentMD5=_md5_header(digests),
                )  # fmt: skip
            except ClientError as exc:
                if _code(exc) in _NOT_FOUND:
                    raise R2NoSuchUpload() from exc
                raise
            finally:
                if not isinstance(body, bytes):
                    body.close()
        etag = str(resp["ETag"]).strip('"')
        return Part(number, etag, digests.size, digests.md5)

    async def complete_upload(
        self, key: str, upload_id: str, parts: list[Part], *, etag: str, version: str,
        uploaded: int,
    ) -> Record:  # fmt: skip
        s3_id = self._s3_upload(key, upload_id)
        if s3_id is None:
            raise R2InternalError()
        s3_key = self._key(key)
        with _guard():
            listed = [{"PartNumber": p.number, "ETag": f'"{p.etag}"'} for p in parts]
            if not listed:  # S3 wants at least one part: complete with an empty one
                resp = await self._client.upload_part(
                    Bucket=self._bucket, Key=s3_key, UploadId=s3_id, PartNumber=1, Body=b""
                )
                listed = [{"PartNumber": 1, "ETag": resp["ETag"]}]
            await self._client.complete_multipart_upload(
                Bucket=self._bucket, Key=s3_key, UploadId=s3_id,
                MultipartUpload={"Parts": listed},
            )  # fmt: skip
            if not parts:
                await self._set_etag(s3_key, etag)
        record = await self.head(key)
        if record is None:
            raise R2InternalError(detail="the completed object vanished")
        return record

    async def _set_etag(self, s3_key: str, etag: str) -> None:
        """Record R2's etag of an object S3 built differently (copying it onto itself)."""
        head = await self._client.head_object(Bucket=self._bucket, Key=s3_key)
        params = {param: head[param] for param in _HTTP.values() if head.get(param)}
        params["Metadata"] = {**head.get("Metadata", {}), "hearth-etag": etag}
        await self._client.copy_object(
            Bucket=self._bucket, Key=s3_key, CopySource={"Bucket": self._bucket, "Key": s3_key},
            MetadataDirective="REPLACE", **params,
        )  # fmt: skip

    async def abort_upload(self, key: str, upload_id: str) -> UploadStatus:
        s3_id = self._s3_upload(key, upload_id)
        if s3_id is None:
            return "unknown"
        with _guard():
            try:
                await self._client.abort_multipart_upload(
                    Bucket=self._bucket, Key=self._key(key), UploadId=s3_id
                )
            except ClientError as exc:
                if _code(exc) in ("NoSuchUpload", *_NOT_FOUND):
                    return "finished"
                raise
        return "active"


class _S3Opened:
    """A found object: its record, and the whole-object GET response when one was made."""

    __slots__ = ("_backend", "_resp", "record")

    def __init__(self, backend: S3Backend, record: Record, resp: Any) -> None:
        self._backend = backend
        self.record = record
        self._resp = resp

    async def close(self) -> None:
        if self._resp is not None:
            self._resp["Body"].close()
            self._resp = None

    async def read(self, offset: int, length: int) -> ReadableStream:
        resp, self._resp = self._resp, None
        if resp is None or (offset, length) != (0, self.record.size):
            if resp is not None:
                resp["Body"].close()
            if length == 0:
                return stream_of(b"")
            resp = await self._backend._get_range(self.record, offset, length)
        body = resp["Body"]
        if length <= INLINE_BYTES:
            try:
                with _guard():
                    return stream_of(await body.read())
            finally:
                body.close()
        return ReadableStream(_S3Chunks(body), length)


class _S3Chunks:
    """Async chunks of an S3 response body; closes the response when done."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def __aiter__(self) -> _S3Chunks:
        return self

    async def __anext__(self) -> bytes:
        try:
            with _guard():
                data: bytes = await self._body.read(READ_CHUNK_BYTES)
        except BaseException:
            self._body.close()
            raise
        if not data:
            self._body.close()
            raise StopAsyncIteration
        return data

    async def aclose(self) -> None:
        self._body.close()
