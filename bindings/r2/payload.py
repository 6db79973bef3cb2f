"""The value of a ``put`` or ``uploadPart``: chunks on their way to storage, hashed as they pass.

A value is a str, a bytes-like object, a Blob, a ReadableStream or any async iterable of bytes,
or None (empty). Backends iterate ``payload.chunks()`` and call ``payload.finish()`` before the
write becomes visible; ``finish`` verifies the checksum the caller gave (R2BadDigest) and
returns the digests. The size limit is enforced before reading when the size is known, and
while streaming otherwise, so an oversized stream is never stored whole.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from bindings.body import Blob, ReadableStream
from bindings.errors import JsTypeError
from bindings.r2.errors import R2BadDigest, R2EntityTooLarge

# R2's name of each checksum option, and its digest length in bytes.
ALGORITHMS: dict[str, tuple[str, int]] = {
    "md5": ("MD5", 16),
    "sha1": ("SHA-1", 20),
    "sha256": ("SHA-256", 32),
    "sha384": ("SHA-384", 48),
    "sha512": ("SHA-512", 64),
}
# Slices handed to storage from an in-memory value, and the chunk size above which hashing
# moves to a thread (hashlib releases the GIL, so the event loop keeps serving meanwhile).
CHUNK_BYTES = 1024 * 1024
THREAD_HASH_BYTES = 256 * 1024

BAD_VALUE = (
    "Failed to execute 'put' on 'R2Bucket': parameter 2 is not of type "
    "'ReadableStream or ArrayBuffer or ArrayBufferView or string or Blob'."
)


def checksum_option(options: dict[str, Any]) -> tuple[str, str] | None:
    """The one expected checksum among ``md5 | sha1 | sha256 | sha384 | sha512`` as
    ``(field, lowercase hex)``, validated as workerd does."""
    found: tuple[str, str] | None = None
    for name, (label, size) in ALGORITHMS.items():
        value = options.get(name)
        if value is None:
            continue
        if found is not None:
            raise JsTypeError("You cannot specify multiple hashing algorithms.")
        if isinstance(value, str):
            if len(value) != size * 2:
                raise JsTypeError(f"{label} is {size * 2} hex characters, not {len(value)}")
            try:
                bytes.fromhex(value)
            except ValueError:
                raise JsTypeError(f"Provided {label} wasn't a valid hex string") from None
            found = (name, value.lower())
        elif isinstance(value, bytes | bytearray | memoryview):
            raw = bytes(value)
            if len(raw) != size:
                raise JsTypeError(f"{label} is {size} bytes, not {len(raw)}")
            found = (name, raw.hex())
        else:
            raise JsTypeError(f"{name} must be a hex string or bytes")
    return found


@dataclass(frozen=True)
class Digests:
    """What a finished payload hashed to: its size, MD5 and stored checksums (field -> hex)."""

    size: int
    md5: str
    checksums: dict[str, str] = field(default_factory=dict)


class Payload:
    """One value being stored: iterate ``chunks()`` once, then ``finish()``."""

    __slots__ = ("_expected", "_hashes", "_source", "_started", "data", "known_size",
                 "max_size", "size")  # fmt: skip

    def __init__(
        self, value: Any, *, max_size: int, expected: tuple[str, str] | None = None
    ) -> None:
        self.data: bytes | None = None  # the whole value, when it was given in memory
        self._source: AsyncIterable[Any] | None = None
        if value is None:
            self.data = b""
        elif isinstance(value, bytes):
            self.data = value
        elif isinstance(value, str):
            self.data = value.encode()
        elif isinstance(value, bytearray | memoryview):
            self.data = bytes(value)  # a snapshot: the caller may mutate it while we store
        elif isinstance(value, Blob):
            self.data = value._data
        elif isinstance(value, ReadableStream | AsyncIterable):
            self._source = value
        else:
            raise JsTypeError(BAD_VALUE)
        self.known_size: int | None = (
            len(self.data) if self.data is not None else getattr(value, "length", None)
        )
        self.max_size = max_size
        if self.known_size is not None and self.known_size > max_size:
            raise R2EntityTooLarge()
        self._expected = expected
        self._hashes = [hashlib.md5(usedforsecurity=False)]
        if expected is not None and expected[0] != "md5":
            self._hashes.append(hashlib.new(expected[0]))
        self.size = 0
        self._started = False

    def hash_now(self) -> Digests:
        """Hash an in-memory value in one go (small values: no chunking, no thread)."""
        assert self.data is not None, "hash_now() is for values given in memory"
        self._started = True
        self._update(self.data)
        self.size = len(self.data)
        return self.finish()

    async def chunks(self) -> AsyncIterator[bytes | memoryview]:
        """The value in chunks, each hashed before it is yielded."""
        if self._started:
            raise JsTypeError("This ReadableStream is currently locked to a reader.")
        self._started = True
        if self.data is not None:
            view = memoryview(self.data)
            for start in range(0, len(view), CHUNK_BYTES):
                chunk = view[start : start + CHUNK_BYTES]
                await self._hash(chunk)
                yield chunk
            return
        assert self._source is not None
        async for chunk in self._source:
            if isinstance(chunk, str) or not isinstance(chunk, bytes | bytearray | memoryview):
                raise JsTypeError(
                    "This TransformStream is being used as a byte stream, but received "
                    f"a {type(chunk).__name__}."
                )
            if not chunk:
                continue
            if self.size + len(chunk) > self.max_size:
                raise R2EntityTooLarge()
            await self._hash(chunk)
            yield chunk

    async def _hash(self, chunk: bytes | bytearray | memoryview) -> None:
        self.size += len(chunk)
        if len(chunk) >= THREAD_HASH_BYTES:
            await asyncio.to_thread(self._update, chunk)
        else:
            self._update(chunk)

    def _update(self, chunk: bytes | bytearray | memoryview) -> None:
        for h in self._hashes:
            h.update(chunk)

    def finish(self) -> Digests:
        """Verify the expected checksum (R2BadDigest) and return the digests."""
        md5 = self._hashes[0].hexdigest()
        checksums = {"md5": md5}
        if self._expected is not None:
            name, provided = self._expected
            actual = md5 if name == "md5" else self._hashes[1].hexdigest()
            if actual != provided:
                raise R2BadDigest.mismatch(ALGORITHMS[name][0], provided, actual)
            checksums[name] = actual
        return Digests(self.size, md5, checksums)
