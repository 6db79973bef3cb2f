"""The storage primitives an R2 bucket needs, and the records they exchange.

The bucket (``bindings/r2/bucket.py``) owns R2's semantics: validation, limits, error texts,
conditional and range rules, multipart checks. A backend only stores and finds bytes and
metadata, keeping these invariants:

- Keys are str and compared by their UTF-8 bytes (R2's order); the empty key is a key.
- ``put`` and ``complete_upload`` are atomic: a reader sees the old object or the new one,
  never a mix. ``put`` consumes ``payload.chunks()``, calls ``payload.finish()`` (which may
  raise) and only then, if ``check(current record or None)`` is true, makes the write
  visible; otherwise it returns None and nothing changes. A failed or interrupted write leaves
  the previous object untouched.
- Bodies move in chunks both ways; a backend never holds a whole large value in memory.
- An ``Opened`` object must be ``read`` or ``close``\\d exactly once; a read started before a
  delete or overwrite keeps returning the old bytes.
- In-progress multipart uploads are invisible to head/get/list and are not touched by put or
  delete of the same key; put/delete of a completed multipart object frees all its parts.
- Backends raise ``R2Error`` subclasses without an op (the bucket names it) for conditions
  R2 defines, and ``R2InternalError`` for storage failures, chained to the cause.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from bindings.body import ReadableStream
from bindings.r2.payload import Payload


@dataclass(slots=True)
class Record:
    """One stored object's metadata (``uploaded`` and ``cacheExpiry`` in epoch milliseconds)."""

    key: str
    version: str
    size: int
    etag: str
    uploaded: int
    http_metadata: dict[str, Any] = field(default_factory=dict)
    custom_metadata: dict[str, str] = field(default_factory=dict)
    checksums: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NewObject:
    """What the bucket decides about a write before the backend stores it."""

    key: str
    version: str
    uploaded: int
    http_metadata: dict[str, Any]
    custom_metadata: dict[str, str]


@dataclass(frozen=True)
class Part:
    """An uploaded part of a multipart upload; ``md5`` is the hex MD5 of its bytes."""

    number: int
    etag: str
    size: int
    md5: str


UploadStatus = Literal["active", "finished", "unknown"]


@dataclass(frozen=True)
class Upload:
    """A multipart upload as the backend knows it: ``unknown`` covers an id issued for
    another key; ``finished`` covers completed and aborted uploads."""

    status: UploadStatus
    parts: dict[int, Part] = field(default_factory=dict)


@dataclass
class Page:
    """One page of a listing: objects and delimited prefixes in key order.

    ``last`` is the key to continue strictly after (the greatest key the page covered) when
    more entries follow, else None.
    """

    objects: list[Record]
    prefixes: list[str]
    last: str | None


class Opened(Protocol):
    """A found object, ready to read: ``read`` (a byte range) or ``close``, exactly once."""

    record: Record

    async def read(self, offset: int, length: int) -> ReadableStream: ...

    async def close(self) -> None: ...


Check = Callable[[Record | None], bool]


class Backend(Protocol):
    """Storage for one bucket. See the module docstring for the invariants."""

    async def head(self, key: str) -> Record | None: ...

    async def open(self, key: str, *, whole: bool) -> Opened | None:
        """Find ``key`` for reading; ``whole`` hints the caller will likely read all of it."""
        ...

    async def put(self, obj: NewObject, payload: Payload, check: Check | None) -> Record | None: ...

    async def delete(self, keys: list[str]) -> None: ...

    async def listing(
        self, prefix: str, start_after: str | None, limit: int, delimiter: str | None
    ) -> Page: ...

    async def create_upload(self, obj: NewObject) -> str: ...

    async def upload(self, key: str, upload_id: str) -> Upload: ...

    async def put_part(self, key: str, upload_id: str, number: int, payload: Payload) -> Part:
        """Store a part, replacing the same number; R2NoSuchUpload unless the upload is active."""
        ...

    async def complete_upload(
        self,
        key: str,
        upload_id: str,
        parts: list[Part],
        *,
        etag: str,
        version: str,
        uploaded: int,
    ) -> Record:
        """Assemble ``parts`` (ascending numbers, already validated) into the object.
        R2NoSuchUpload / R2InvalidPart if the upload or its parts changed meanwhile."""
        ...

    async def abort_upload(self, key: str, upload_id: str) -> UploadStatus:
        """Abort an active upload; returns the status it had (no-op unless active)."""
        ...

    async def close(self) -> None: ...
