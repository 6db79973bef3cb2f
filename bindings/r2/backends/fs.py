"""The default R2 backend: object bytes in files, metadata in SQLite, one folder per bucket.

Layout under ``<state>/r2/<bucket folder>/``: ``index.sqlite`` (objects, uploads, parts),
``blobs/<2 hex>/<32 hex>`` (immutable value files, a part or a whole single-part object) and
``tmp/`` (writes in progress). A write streams into ``tmp/``, is renamed into ``blobs/``, and
becomes visible when its row commits; a crash in between leaves at most an unreferenced file.
Old blobs are unlinked after the commit that drops them; an open file descriptor keeps an
in-flight read of a single-part object working, and multipart reads hold their parts (in this
process) until they finish.

SQLite statements are short indexed lookups; they run on the event loop's thread (a thread
hop costs more than the query). Looked-up records are kept in memory until this process commits
or ``PRAGMA data_version`` shows another process did, so a repeated read costs one cheap
pragma instead of a query and its JSON. File I/O of small values runs inline too; large values move
in chunks through worker threads. Several server processes may share a folder: SQLite (WAL,
``BEGIN IMMEDIATE``) serialises writers, blobs are never modified in place.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import sqlite3
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from bindings.body import ReadableStream, stream_of
from bindings.r2.backends import Check, NewObject, Page, Part, Record, Upload, UploadStatus
from bindings.r2.errors import R2Error, R2InternalError, R2InvalidPart, R2NoSuchUpload
from bindings.r2.payload import Digests, Payload

INLINE_BYTES = 64 * 1024  # values up to this size are read and written in one go, no thread
CACHED_RECORDS = 2048  # records this process keeps while no other process writes
READ_CHUNK_BYTES = 1024 * 1024  # chunk size of streamed reads
STALE_TMP_SECONDS = 24 * 3600  # tmp/ files older than this are leftovers of a crash

SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    key BLOB PRIMARY KEY, version TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
    uploaded INTEGER NOT NULL, http_metadata TEXT NOT NULL, custom_metadata TEXT NOT NULL,
    checksums TEXT NOT NULL, blobs TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uploads (
    upload_id TEXT PRIMARY KEY, key BLOB NOT NULL, state INTEGER NOT NULL,
    http_metadata TEXT NOT NULL, custom_metadata TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS parts (
    upload_id TEXT NOT NULL, number INTEGER NOT NULL, etag TEXT NOT NULL, size INTEGER NOT NULL,
    md5 TEXT NOT NULL, blob TEXT NOT NULL, PRIMARY KEY (upload_id, number)
) WITHOUT ROWID;
"""
COLUMNS = "key, version, size, etag, uploaded, http_metadata, custom_metadata, checksums, blobs"
# Statements built from the constant column list only (never from input).
SELECT_ONE = f"SELECT {COLUMNS} FROM objects WHERE key = ?"  # noqa: S608
SELECT_FROM = f"SELECT {COLUMNS} FROM objects WHERE key >= ?"  # noqa: S608
INSERT = f"INSERT OR REPLACE INTO objects ({COLUMNS}) VALUES ({', '.join('?' * 9)})"  # noqa: S608
ACTIVE, COMPLETED, ABORTED = 0, 1, 2


def _k(key: str) -> bytes:
    return key.encode("utf-8", "surrogatepass")


def _s(key: bytes) -> str:
    return key.decode("utf-8", "surrogatepass")


def _dict(text: str) -> dict[str, Any]:
    return {} if text == "{}" else json.loads(text)


def _record(row: tuple[Any, ...]) -> Record:
    etag = row[3]
    checksums = _dict(row[7])  # the stored extra (SHA) checksum, if any
    if "-" not in etag:  # a single-part object's etag is its MD5
        checksums = {"md5": etag, **checksums}
    return Record(_s(row[0]), row[1], row[2], etag, row[4], _dict(row[5]), _dict(row[6]),
                  checksums)  # fmt: skip


def _extra_checksums(checksums: dict[str, str]) -> str:
    extra = {name: value for name, value in checksums.items() if name != "md5"}
    return json.dumps(extra) if extra else "{}"


def _encode_blobs(blobs: list[list[Any]]) -> str:
    """The ``blobs`` column: a single blob's bare name, or JSON ``[[name, size], ...]``."""
    return blobs[0][0] if len(blobs) == 1 else json.dumps(blobs)


def _decode_blobs(text: str, size: int) -> list[list[Any]]:
    return json.loads(text) if text.startswith("[") else [[text, size]]


def _after_prefix(prefix: bytes) -> bytes | None:
    """The smallest byte string greater than every string starting with ``prefix``."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


def _pread(fd: int, length: int, offset: int) -> bytes:
    data = os.pread(fd, length, offset)
    while len(data) < length:
        more = os.pread(fd, length - len(data), offset + len(data))
        if not more:
            raise R2InternalError(detail="a stored value is shorter than its metadata says")
        data += more
    return data


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class _Guard:
    """``with _guard:`` storage failures become R2InternalError (10001), chained to the cause."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: object) -> None:  # fmt: skip
        if exc is not None and isinstance(exc, sqlite3.Error | OSError):
            raise R2InternalError() from exc


_guard = _Guard()


class FsBackend:
    """Files + SQLite storage of one bucket under ``root``."""

    def __init__(self, root: Path, *, durable: bool = False) -> None:
        self.root = root
        self.durable = durable
        self._blobs = str(root / "blobs")
        self._tmp = str(root / "tmp")
        os.makedirs(self._tmp, exist_ok=True)
        os.makedirs(self._blobs, exist_ok=True)
        self._dirs: set[str] = set()
        self._in_use: dict[str, int] = {}  # blob -> multipart reads in flight (this process)
        self._doomed: set[str] = set()  # freed while in use: unlinked on release
        self._records: dict[str, tuple[Record, list[list[Any]]] | None] = {}
        self._data_version = -1
        self.db = sqlite3.connect(root / "index.sqlite", isolation_level=None)
        self.db.execute("PRAGMA busy_timeout = 10000")
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
        self.db.execute("PRAGMA mmap_size = 67108864")  # index reads without read() calls
        self.db.executescript(SCHEMA)
        self._sweep_tmp()

    def _sweep_tmp(self) -> None:
        cutoff = time.time() - STALE_TMP_SECONDS
        for entry in os.scandir(self._tmp):
            with contextlib.suppress(OSError):
                if entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)

    async def close(self) -> None:
        self.db.close()

    # -- blobs ------------------------------------------------------------------------------
    def _path(self, blob: str) -> str:
        return f"{self._blobs}/{blob[:2]}/{blob}"

    async def _store(self, payload: Payload) -> tuple[str, Digests]:
        """Write a payload to a new blob; returns its name and digests (nothing on failure).

        Only storage errors are translated: an error of the caller's stream passes unchanged.
        """
        blob = secrets.token_hex(16)
        tmp = f"{self._tmp}/{blob}"
        if payload.data is not None and len(payload.data) <= INLINE_BYTES:
            digests = payload.hash_now()
            with _guard:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                try:
                    _write_all(fd, payload.data)
                    if self.durable:
                        os.fsync(fd)
                finally:
                    os.close(fd)
        else:
            with _guard:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                async for chunk in payload.chunks():
                    with _guard:
                        if len(chunk) > INLINE_BYTES:
                            await asyncio.to_thread(_write_all, fd, chunk)
                        else:
                            _write_all(fd, chunk)
                digests = payload.finish()
                if self.durable:
                    with _guard:
                        await asyncio.to_thread(os.fsync, fd)
            except BaseException:
                os.close(fd)
                os.unlink(tmp)
                raise
            os.close(fd)
        with _guard:
            self._place(tmp, blob)
        return blob, digests

    def _place(self, tmp: str, blob: str) -> None:
        """Rename a finished write into ``blobs/`` (fsyncing the folder when durable)."""
        folder = blob[:2]
        if folder not in self._dirs:
            os.makedirs(f"{self._blobs}/{folder}", exist_ok=True)
            self._dirs.add(folder)
        os.replace(tmp, self._path(blob))
        if self.durable:
            dir_fd = os.open(f"{self._blobs}/{folder}", os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def _free(self, blobs: list[str]) -> None:
        for blob in blobs:
            if blob in self._in_use:
                self._doomed.add(blob)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self._path(blob))

    def _acquire(self, blobs: list[str]) -> None:
        for blob in blobs:
            self._in_use[blob] = self._in_use.get(blob, 0) + 1

    def _release(self, blob: str) -> None:
        count = self._in_use.pop(blob, 1) - 1
        if count > 0:
            self._in_use[blob] = count
        elif blob in self._doomed:
            self._doomed.discard(blob)
            self._free([blob])

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
        self._records.clear()

    def _blobs_of(self, key: bytes) -> list[str] | None:
        row = self.db.execute("SELECT blobs, size FROM objects WHERE key = ?", (key,)).fetchone()
        return None if row is None else [blob for blob, _ in _decode_blobs(row[0], row[1])]

    # -- objects ----------------------------------------------------------------------------
    def _found(self, key: str, fresh: bool = False) -> tuple[Record, list[list[Any]]] | None:
        """``key``'s record and blobs, from memory while no other process has committed."""
        version = self.db.execute("PRAGMA data_version").fetchone()[0]
        if version != self._data_version or fresh:
            self._data_version = version
            self._records.clear()
        try:
            return self._records[key]
        except KeyError:
            pass
        row = self.db.execute(SELECT_ONE, (_k(key),)).fetchone()
        found = None if row is None else (_record(row), _decode_blobs(row[8], row[2]))
        if len(self._records) >= CACHED_RECORDS:
            self._records.clear()
        self._records[key] = found
        return found

    async def head(self, key: str) -> Record | None:
        with _guard:
            found = self._found(key)
        return None if found is None else found[0]

    async def open(self, key: str, *, whole: bool) -> _Opened | None:
        with _guard:
            for attempt in range(5):
                found = self._found(key, fresh=attempt > 0)
                if found is None:
                    return None
                record, blobs = found
                if len(blobs) != 1:
                    return _Opened(self, record, blobs, None)
                try:
                    fd = os.open(self._path(blobs[0][0]), os.O_RDONLY)
                except FileNotFoundError:
                    continue  # replaced between the lookup and the open: look again
                return _Opened(self, record, blobs, fd)
        raise R2InternalError(detail="the object kept changing while it was being opened")

    async def put(self, obj: NewObject, payload: Payload, check: Check | None) -> Record | None:
        blob, digests = await self._store(payload)
        with _guard:
            record = Record(obj.key, obj.version, digests.size, digests.md5, obj.uploaded,
                            obj.http_metadata, obj.custom_metadata, digests.checksums)  # fmt: skip
            key = _k(obj.key)
            try:
                with self._tx() as db:
                    current = db.execute(SELECT_ONE, (key,)).fetchone()
                    if check is not None and not check(_record(current) if current else None):
                        raise _Refused
                    old = [b for b, _ in _decode_blobs(current[8], current[2])] if current else []
                    self._insert(db, key, record, [[blob, digests.size]])
            except BaseException as exc:
                self._free([blob])
                if isinstance(exc, _Refused):
                    return None
                raise
            self._free(old)
            return record

    def _insert(
        self, db: sqlite3.Connection, key: bytes, r: Record, blobs: list[list[Any]]
    ) -> None:
        db.execute(
            INSERT,
            (key, r.version, r.size, r.etag, r.uploaded, json.dumps(r.http_metadata),
             json.dumps(r.custom_metadata), _extra_checksums(r.checksums), _encode_blobs(blobs)),
        )  # fmt: skip

    async def delete(self, keys: list[str]) -> None:
        freed: list[str] = []
        with _guard:
            with self._tx() as db:
                for key in keys:
                    blobs = self._blobs_of(_k(key))
                    if blobs is not None:
                        db.execute("DELETE FROM objects WHERE key = ?", (_k(key),))
                        freed += blobs
            self._free(freed)

    async def listing(
        self, prefix: str, start_after: str | None, limit: int, delimiter: str | None
    ) -> Page:
        lo = _k(prefix)
        hi = _after_prefix(lo)
        after = _k(start_after) if start_after is not None else None
        sep = _k(delimiter) if delimiter else None
        want = limit + 1  # one more than asked tells whether the page is truncated
        entries: list[tuple[Record | str, bytes]] = []  # (object or prefix, greatest key)
        with _guard:
            while len(entries) < want:
                need = want - len(entries)
                rows = self._scan(lo, hi, after, need)
                regrouped = False
                for row in rows:
                    key: bytes = row[0]
                    cut = key.find(sep, len(lo)) if sep is not None else -1
                    if cut >= 0:
                        group = key[: cut + len(sep or b"")]
                        last = self._greatest(group)
                        entries.append((_s(group), last))
                        after, regrouped = last, True
                        break  # skip the rest of the group: scan again after its last key
                    entries.append((_record(row), key))
                    after = key
                if not regrouped and len(rows) < need:
                    break
        more = len(entries) > limit
        del entries[limit:]
        return Page(
            objects=[e for e, _ in entries if isinstance(e, Record)],
            prefixes=[e for e, _ in entries if isinstance(e, str)],
            last=_s(entries[-1][1]) if more else None,
        )

    def _scan(
        self, lo: bytes, hi: bytes | None, after: bytes | None, limit: int
    ) -> list[tuple[Any, ...]]:
        sql = SELECT_FROM
        args: list[Any] = [lo]
        if hi is not None:
            sql += " AND key < ?"
            args.append(hi)
        if after is not None:
            sql += " AND key > ?"
            args.append(after)
        rows: list[tuple[Any, ...]] = self.db.execute(
            sql + " ORDER BY key LIMIT ?", (*args, limit)
        ).fetchall()
        return rows

    def _greatest(self, group: bytes) -> bytes:
        hi = _after_prefix(group)
        if hi is None:
            row = self.db.execute("SELECT max(key) FROM objects WHERE key >= ?", (group,))
        else:
            row = self.db.execute(
                "SELECT max(key) FROM objects WHERE key >= ? AND key < ?", (group, hi)
            )
        found = row.fetchone()
        last: bytes = found[0]
        return last

    # -- multipart --------------------------------------------------------------------------
    async def create_upload(self, obj: NewObject) -> str:
        upload_id = secrets.token_urlsafe(48)
        with _guard:
            self.db.execute(
                "INSERT INTO uploads VALUES (?, ?, ?, ?, ?)",
                (upload_id, _k(obj.key), ACTIVE, json.dumps(obj.http_metadata),
                 json.dumps(obj.custom_metadata)),
            )  # fmt: skip
        return upload_id

    def _state(self, key: str, upload_id: str) -> int | None:
        row = self.db.execute(
            "SELECT state FROM uploads WHERE upload_id = ? AND key = ?", (upload_id, _k(key))
        ).fetchone()
        return None if row is None else int(row[0])

    async def upload(self, key: str, upload_id: str) -> Upload:
        with _guard:
            state = self._state(key, upload_id)
            if state is None:
                return Upload("unknown")
            if state != ACTIVE:
                return Upload("finished")
            rows = self.db.execute(
                "SELECT number, etag, size, md5 FROM parts WHERE upload_id = ?", (upload_id,)
            ).fetchall()
        return Upload("active", {n: Part(n, etag, size, md5) for n, etag, size, md5 in rows})

    async def put_part(self, key: str, upload_id: str, number: int, payload: Payload) -> Part:
        with _guard:
            if self._state(key, upload_id) != ACTIVE:
                raise R2NoSuchUpload()
        blob, digests = await self._store(payload)
        with _guard:
            part = Part(number, secrets.token_urlsafe(24), digests.size, digests.md5)
            try:
                with self._tx() as db:
                    if self._state(key, upload_id) != ACTIVE:  # aborted or completed meanwhile
                        raise R2NoSuchUpload()
                    old = db.execute(
                        "SELECT blob FROM parts WHERE upload_id = ? AND number = ?",
                        (upload_id, number),
                    ).fetchone()
                    db.execute(
                        "INSERT OR REPLACE INTO parts VALUES (?, ?, ?, ?, ?, ?)",
                        (upload_id, number, part.etag, part.size, part.md5, blob),
                    )
            except BaseException:
                self._free([blob])
                raise
            if old is not None:
                self._free([old[0]])
            return part

    async def complete_upload(
        self, key: str, upload_id: str, parts: list[Part], *, etag: str, version: str,
        uploaded: int,
    ) -> Record:  # fmt: skip
        k = _k(key)
        with _guard, self._tx() as db:
            row = db.execute(
                "SELECT state, http_metadata, custom_metadata FROM uploads "
                "WHERE upload_id = ? AND key = ?",
                (upload_id, k),
            ).fetchone()
            if row is None:
                raise R2InternalError()
            if row[0] != ACTIVE:
                raise R2NoSuchUpload()
            stored = {
                n: (e, b)
                for n, e, b in db.execute(
                    "SELECT number, etag, blob FROM parts WHERE upload_id = ?", (upload_id,)
                )
            }
            if any(stored.get(p.number, ("",))[0] != p.etag for p in parts):
                raise R2InvalidPart()
            record = Record(key, version, sum(p.size for p in parts), etag, uploaded,
                            json.loads(row[1]), json.loads(row[2]), {})  # fmt: skip
            old = self._blobs_of(k) or []
            used = [[stored[p.number][1], p.size] for p in parts]
            self._insert(db, k, record, used)
            db.execute("DELETE FROM parts WHERE upload_id = ?", (upload_id,))
            db.execute("UPDATE uploads SET state = ? WHERE upload_id = ?", (COMPLETED, upload_id))
        kept = {blob for blob, _ in used}
        self._free(old + [b for _, b in stored.values() if b not in kept])
        return record

    async def abort_upload(self, key: str, upload_id: str) -> UploadStatus:
        with _guard:
            with self._tx() as db:
                state = self._state(key, upload_id)
                if state is None:
                    return "unknown"
                if state != ACTIVE:
                    return "finished"
                blobs = [
                    b for (b,) in db.execute("SELECT blob FROM parts WHERE upload_id = ?",
                                             (upload_id,))
                ]  # fmt: skip
                db.execute("DELETE FROM parts WHERE upload_id = ?", (upload_id,))
                db.execute("UPDATE uploads SET state = ? WHERE upload_id = ?", (ABORTED, upload_id))
            self._free(blobs)
        return "active"


class _Refused(Exception):
    """The put's condition did not hold (rolls the transaction back)."""


class _Opened:
    """A found object: one open file (single part) or its parts' names (multipart)."""

    __slots__ = ("_backend", "_blobs", "_fd", "record")

    def __init__(
        self, backend: FsBackend, record: Record, blobs: list[list[Any]], fd: int | None
    ) -> None:
        self._backend = backend
        self.record = record
        self._blobs = blobs
        self._fd = fd

    async def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    async def read(self, offset: int, length: int) -> ReadableStream:
        fd, self._fd = self._fd, None
        if fd is None:
            return ReadableStream(self._parts(offset, length), length)
        if length <= INLINE_BYTES:
            try:
                with _guard:
                    return stream_of(_pread(fd, length, offset) if length else b"")
            finally:
                os.close(fd)
        return ReadableStream(_FileChunks(fd, offset, length), length)

    def _parts(self, offset: int, length: int) -> AsyncIterator[bytes]:
        pieces: list[tuple[str, int, int]] = []  # (blob, offset in blob, bytes to read)
        start = 0
        for blob, size in self._blobs:
            lo, hi = max(offset, start), min(offset + length, start + size)
            if lo < hi:
                pieces.append((blob, lo - start, hi - lo))
            start += size
        backend = self._backend
        backend._acquire([blob for blob, _, _ in pieces])
        return _PartChunks(backend, pieces)


class _FileChunks:
    """Async chunks of a byte range of an open file; closes it when done or collected."""

    def __init__(self, fd: int, offset: int, length: int) -> None:
        self._fd = fd
        self._pos = offset
        self._left = length
        self._closer = weakref.finalize(self, os.close, fd)

    def __aiter__(self) -> _FileChunks:
        return self

    async def __anext__(self) -> bytes:
        if self._left <= 0:
            self._closer()
            raise StopAsyncIteration
        size = min(READ_CHUNK_BYTES, self._left)
        try:
            with _guard:
                data = await asyncio.to_thread(_pread, self._fd, size, self._pos)
        except R2Error:
            self._closer()
            raise
        self._pos += size
        self._left -= size
        return data

    async def aclose(self) -> None:
        self._closer()


class _PartChunks:
    """Async chunks across the parts of a multipart object (parts held until read)."""

    def __init__(self, backend: FsBackend, pieces: list[tuple[str, int, int]]) -> None:
        self._backend = backend
        self._pieces = pieces
        self._held = [blob for blob, _, _ in pieces]  # shared with the finalizer
        self._current: _FileChunks | None = None
        self._closer = weakref.finalize(self, _release_all, backend, self._held)

    def __aiter__(self) -> _PartChunks:
        return self

    async def __anext__(self) -> bytes:
        while True:
            if self._current is not None:
                try:
                    return await self._current.__anext__()
                except StopAsyncIteration:
                    self._current = None
                    self._pieces.pop(0)
                    self._backend._release(self._held.pop(0))
            if not self._pieces:
                raise StopAsyncIteration
            blob, offset, length = self._pieces[0]
            with _guard:
                fd = os.open(self._backend._path(blob), os.O_RDONLY)
            self._current = _FileChunks(fd, offset, length)

    async def aclose(self) -> None:
        if self._current is not None:
            await self._current.aclose()
            self._current = None
        self._pieces.clear()
        self._closer()


def _release_all(backend: FsBackend, blobs: list[str]) -> None:
    while blobs:
        backend._release(blobs.pop())
