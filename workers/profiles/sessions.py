"""A profile's browser session data (cookies and localStorage) in R2, gzipped.

Objects: ``sessions/{profileId}/cookies.gz`` and ``sessions/{profileId}/localStorage.gz``, each
gzip-compressed JSON with ``httpMetadata`` ``{contentType: application/json, contentEncoding:
gzip}`` and the pair's hash in ``customMetadata``. The hash is the MD5 (hex) of the canonical
JSON of ``{"cookies": [...], "localStorage": {...}}``: keys sorted, no spaces, UTF-8 (not
``\\u`` escapes), whole floats written as integers (``1.0`` → ``1``, as JavaScript writes them).
The profile row keeps the hash of what is stored; an upload with the same hash writes nothing.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
from typing import Any

PREFIX = "sessions/"
COOKIES = "cookies.gz"
LOCAL_STORAGE = "localStorage.gz"
SYNC_MAX_BYTES = 5 * 1024 * 1024  # an upload body larger than this is refused with 413
THREAD_THRESHOLD = 64 * 1024  # larger payloads are (de)compressed off the event loop
HTTP_METADATA = {"contentType": "application/json", "contentEncoding": "gzip"}


def keys(profile_id: str) -> list[str]:
    """The R2 keys of a profile's session data."""
    return [f"{PREFIX}{profile_id}/{COOKIES}", f"{PREFIX}{profile_id}/{LOCAL_STORAGE}"]


def _js_numbers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: _js_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_js_numbers(v) for v in value]
    return value


def canonical(cookies: list[Any], local_storage: dict[str, str]) -> bytes:
    """The canonical JSON the hash is taken over (see the module docstring)."""
    data = _js_numbers({"cookies": cookies, "localStorage": local_storage})
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest(cookies: list[Any], local_storage: dict[str, str]) -> str:
    """MD5 hex of the canonical JSON: a change detector, not a security measure."""
    return hashlib.md5(canonical(cookies, local_storage), usedforsecurity=False).hexdigest()


async def digest_of(cookies: list[Any], local_storage: dict[str, str], size: int) -> str:
    """``digest``, off the event loop for a large upload (``size`` bytes)."""
    if size > THREAD_THRESHOLD:
        return await asyncio.to_thread(digest, cookies, local_storage)
    return digest(cookies, local_storage)


def _pack(value: Any) -> bytes:
    return gzip.compress(json.dumps(value, separators=(",", ":")).encode(), mtime=0)


def _unpack(data: bytes) -> Any:
    return json.loads(gzip.decompress(data))


async def _off_loop(func: Any, arg: Any, size: int) -> Any:
    return await asyncio.to_thread(func, arg) if size > THREAD_THRESHOLD else func(arg)


async def store(
    bucket: Any,
    profile_id: str,
    cookies: list[Any],
    local_storage: dict[str, str],
    session_hash: str,
    size: int,
) -> None:
    """Write both objects (``size``: the upload's byte count, to pick the thread or not)."""
    packed = await asyncio.gather(
        _off_loop(_pack, cookies, size), _off_loop(_pack, local_storage, size)
    )
    meta = {"hash": session_hash}
    await asyncio.gather(
        *(
            bucket.put(key, data, httpMetadata=HTTP_METADATA, customMetadata=meta)
            for key, data in zip(keys(profile_id), packed, strict=True)
        )
    )


async def load(bucket: Any, profile_id: str) -> dict[str, Any]:
    """``{cookies, localStorage}`` as stored (empty before the first sync)."""
    cookies_obj, storage_obj = await asyncio.gather(*(bucket.get(k) for k in keys(profile_id)))
    out: dict[str, Any] = {"cookies": [], "localStorage": {}}
    for name, obj in (("cookies", cookies_obj), ("localStorage", storage_obj)):
        if obj is not None:
            data = await obj.bytes()
            out[name] = await _off_loop(_unpack, bytes(data), len(data) * 8)
    return out


async def purge(bucket: Any, profile_ids: list[str]) -> None:
    """Delete the session data of these profiles (R2 deletes up to 1000 keys per call)."""
    all_keys = [key for pid in profile_ids for key in keys(pid)]
    for start in range(0, len(all_keys), 1000):
        await bucket.delete(all_keys[start : start + 1000])
