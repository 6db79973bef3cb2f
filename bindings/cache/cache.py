"""``Cache``: match, put and delete with Cloudflare's semantics, over any CacheBackend.

What Cloudflare's cache does and Hearth mirrors (bindings-conformance §6): the key is
``request.cf["cacheKey"]`` or the URL (request headers are not part of it; no Vary); storability
and lifetime follow ``bindings.cache.policy``; a match answers ``CF-Cache-Status: HIT`` and honours
If-None-Match, If-Modified-Since and Range; a broken backend makes match miss and put do nothing
(the cache is allowed to lose anything), while delete throws, as workerd does.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bindings.cache.backends import CacheBackend, CacheBackendError, CacheEntry
from bindings.cache.policy import decide, delta_seconds, imf_fixdate
from bindings.cache.ranges import multipart, parse_ranges
from bindings.clock import Clock
from bindings.errors import JsException, JsTypeError
from bindings.headers import Headers
from bindings.jsobj import options
from bindings.metrics import timed
from bindings.request import Request
from bindings.response import Response

if TYPE_CHECKING:
    from collections.abc import Awaitable

log = logging.getLogger("hearth")

CACHE_NAME_MAX_BYTES = 1024  # a cache name must be shorter than this (workerd's limit)
INVALID_URL = "Invalid URL. Cache API keys must be fully-qualified, valid URLs."
BODY_USED = (
    "Body has already been used. It can only be used once. Use tee() first if you need to read "
    "it twice."
)
_DEFAULT_PORTS = {"http": ":80", "https": ":443"}
_ANSWERED_PER_HIT = frozenset({"content-length", "age", "cf-cache-status"})
_SPACE = re.compile(r"\s")


def unimplemented(method: str, interface: str) -> JsException:
    """The error workerd throws from the Cache API methods it does not implement."""
    return JsException(
        f"Failed to execute '{method}' on '{interface}': the method is not implemented."
    )


class CacheStorage:
    """Cloudflare's ``caches`` for one runtime: ``default`` and ``await open(name)``.

    Every cache shares one backend; a failing backend is logged once until it recovers.
    ``enabled=False`` turns every operation into a no-op (match misses, delete is False).
    """

    def __init__(self, backend: CacheBackend, clock: Clock, *, enabled: bool = True) -> None:
        self.backend = backend
        self.clock = clock
        self.enabled = enabled
        self._failing = False
        self.default = Cache(self, "")

    async def open(self, cacheName: str) -> Cache:
        """A named cache, disjoint from ``default`` and from every other name."""
        if not isinstance(cacheName, str):
            raise JsTypeError(
                "Failed to execute 'open' on 'CacheStorage': parameter 1 is not of type 'string'."
            )
        if len(cacheName.encode()) >= CACHE_NAME_MAX_BYTES:
            raise JsTypeError("Cache name is too long.")
        return Cache(self, "n" + cacheName)

    async def purge(self, name: str | None = None) -> int:
        """Miniflare's ``purgeCache`` (not a Workers API): drop a named cache's entries, or all."""
        namespace = None if name is None else "n" + name
        return await self.backend.purge(namespace)

    async def match(self, *args: Any) -> None:
        raise unimplemented("match", "CacheStorage")

    async def has(self, *args: Any) -> None:
        raise unimplemented("has", "CacheStorage")

    async def delete(self, *args: Any) -> None:
        raise unimplemented("delete", "CacheStorage")

    async def keys(self, *args: Any) -> None:
        raise unimplemented("keys", "CacheStorage")

    async def quietly(self, op: Awaitable[Any], what: str) -> Any:
        """Await a backend call; a failure is logged (once until it recovers) and gives None."""
        try:
            result = await op
        except CacheBackendError as exc:
            if not self._failing:
                self._failing = True
                log.error("cache %s failed; the Cache API misses until it recovers: %s", what, exc)
            return None
        if self._failing:
            self._failing = False
            log.info("the cache backend recovered")
        return result


class Cache:
    """One cache: ``caches.default`` or ``await caches.open(name)`` (each one is disjoint)."""

    __slots__ = ("_namespace", "_storage")

    def __init__(self, storage: CacheStorage, namespace: str) -> None:
        self._storage = storage
        self._namespace = namespace  # "" for the default cache, "n<name>" for named ones

    @timed("cache")
    async def match(self, request: Request | str, *args: Any, **kwargs: Any) -> Response | None:
        """The cached response for ``request`` (a Request or URL), or None.

        A non-GET request misses unless ``ignoreMethod=True``.
        """
        opts = options(args, kwargs)
        req = _coerce(request, "match")
        if not opts.get("ignoreMethod") and req.method != "GET":
            return None
        key = cache_key(req)
        storage = self._storage
        if not storage.enabled:
            return None
        entry = await storage.quietly(storage.backend.get(self._namespace, key), "match")
        now = storage.clock()
        if entry is None or entry.expires <= now:
            return None
        return answer(req.headers, entry, now)

    @timed("cache")
    async def put(self, request: Request | str, response: Response) -> None:
        """Store ``response`` for ``request`` when its headers allow; reads the body to its end."""
        if getattr(response, "type", None) == "error":
            raise JsTypeError("Cache is unable to store an error response")
        response = getattr(response, "js_object", response)
        if not isinstance(response, Response):
            raise JsTypeError(
                "Failed to execute 'put' on 'Cache': parameter 2 is not of type 'Response'."
            )
        req = _coerce(request, "put")
        if req.method != "GET":
            raise JsTypeError("Cannot cache response to non-GET request.")
        if response.status == 206:
            raise JsTypeError("Cannot cache response to a range request (206 Partial Content).")
        if "*" in (response.headers.get("vary") or ""):
            raise JsTypeError("Cannot cache response with 'Vary: *' header.")
        if response.status == 304:
            log.warning(
                "Ignoring attempt to Cache.put() a 304 status response. 304 responses are not "
                "meaningful to cache, and a potential source of bugs."
            )
            return
        if response.web_socket is not None:
            raise JsTypeError("Cannot cache WebSocket upgrade response.")
        key = cache_key(req)
        if response.body_used:  # Hearth re-serves a read body; workerd would fail, so do we
            raise JsTypeError(BODY_USED)
        body = await response.bytes()
        storage = self._storage
        if not storage.enabled:
            return
        now = storage.clock()
        decision = decide(
            response.status,
            response.headers.items(),
            authorized="authorization" in req.headers,
            now=now,
        )
        if not decision.storable:
            return  # Cloudflare answers 413 and put() resolves; an older entry stays
        if decision.ttl <= 0:  # stored already stale: the key now misses
            await storage.quietly(storage.backend.delete(self._namespace, key), "put")
            return
        # Age and CF-Cache-Status are the cache's to say on each hit; the response's own Age
        # moves its birth back instead.
        headers = [(k, v) for k, v in decision.headers if k not in _ANSWERED_PER_HIT]
        headers.append(("content-length", str(len(body))))
        born = now - delta_seconds(response.headers.get("age"))
        entry = CacheEntry(
            response.status, response.status_text, headers, body, now + decision.ttl, born
        )
        await storage.quietly(storage.backend.put(self._namespace, key, entry, decision.ttl), "put")

    @timed("cache")
    async def delete(self, request: Request | str, *args: Any, **kwargs: Any) -> bool:
        """Remove the entry for ``request``; True when a live one was removed."""
        opts = options(args, kwargs)
        req = _coerce(request, "delete")
        if not opts.get("ignoreMethod") and req.method != "GET":
            return False
        key = cache_key(req)
        storage = self._storage
        if not storage.enabled:
            return False
        try:
            expires = await storage.backend.delete(self._namespace, key)
        except CacheBackendError as exc:
            raise JsException("Unable to delete cached response.") from exc
        return expires is not None and expires > storage.clock()

    async def add(self, *args: Any) -> None:
        raise unimplemented("add", "Cache")

    async def addAll(self, *args: Any) -> None:
        raise unimplemented("addAll", "Cache")

    async def matchAll(self, *args: Any) -> None:
        raise unimplemented("matchAll", "Cache")

    async def keys(self, *args: Any) -> None:
        raise unimplemented("keys", "Cache")

    def __repr__(self) -> str:
        return f"<Cache {self._namespace!r}>"


def answer(request_headers: Headers, entry: CacheEntry, now: float) -> Response:
    """The response a hit gives: conditional (304), ranged (206/416) or whole (200)."""
    size = len(entry.body)
    age = str(int(now - entry.born))
    headers = Headers([*entry.headers, ("cf-cache-status", "HIT"), ("age", age)])

    ranges: list[tuple[int, int]] = []
    range_header = request_headers.get("range")
    if range_header is not None:
        parsed = parse_ranges(range_header, size)
        if parsed is None:
            return Response(
                None, 416, headers={"content-range": f"bytes */{size}", "cf-cache-status": "HIT"}
            )
        ranges = parsed

    if _not_modified(request_headers, headers):
        headers.delete("content-length")  # a 304 has no body, whatever its representation's size
        return Response(None, 304, headers=headers)

    if len(ranges) == 1:
        start, end = ranges[0]
        headers.set("content-range", f"bytes {start}-{end}/{size}")
        headers.set("content-length", str(end - start + 1))
        return Response(entry.body[start : end + 1], 206, headers=headers)
    if ranges:
        body, content_type = multipart(entry.body, ranges, headers.get("content-type"))
        headers.set("content-type", content_type)
        headers.set("content-length", str(len(body)))
        return Response(body, 206, headers=headers)
    return Response(entry.body, entry.status, entry.status_text, headers)


def _not_modified(request_headers: Headers, headers: Headers) -> bool:
    if_none_match = request_headers.get("if-none-match")
    if if_none_match is not None:
        etag = _etag(headers.get("etag"))
        if etag is not None and (
            if_none_match.strip() == "*"
            or any(_etag(candidate) == etag for candidate in if_none_match.split(","))
        ):
            return True
    since = request_headers.get("if-modified-since")
    if since is None:
        return False
    since_at, modified_at = imf_fixdate(since), imf_fixdate(headers.get("last-modified"))
    return since_at is not None and modified_at is not None and modified_at <= since_at


def _etag(value: str | None) -> str | None:
    """The opaque tag of an ETag, compared weakly (``W/`` ignored), or None if malformed."""
    if value is None:
        return None
    value = value.strip()
    if value.startswith("W/"):
        value = value[2:]
    if len(value) > 2 and value[0] == '"' and value[-1] == '"':
        return value[1:-1]
    return None


def _coerce(request: Any, method: str) -> Request:
    request = getattr(request, "js_object", request)
    if isinstance(request, Request):
        return request
    if isinstance(request, str):
        return Request(request)
    raise JsTypeError(
        f"Failed to execute '{method}' on 'Cache': parameter 1 is not of type 'Request or string'."
    )


def cache_key(request: Request) -> str:
    """``cf.cacheKey`` when the request has one, else its URL; the URL must be absolute."""
    url = normalize_url(request.url)
    cf = request.cf
    if cf and cf.get("cacheKey"):
        return str(cf["cacheKey"])
    return url


@lru_cache(maxsize=4096)
def normalize_url(url: str) -> str:
    """An absolute URL as the WHATWG parser would spell it (case, default port, empty path)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        raise JsTypeError(INVALID_URL) from None
    if not parts.scheme or not parts.netloc or _SPACE.search(url):
        raise JsTypeError(INVALID_URL)
    scheme = parts.scheme.lower()
    userinfo, at, hostport = parts.netloc.rpartition("@")
    hostport = hostport.lower().removesuffix(_DEFAULT_PORTS.get(scheme, "\0"))
    rest = url[len(parts.scheme) + 3 + len(parts.netloc) :]
    return f"{scheme}://{userinfo}{at}{hostport}{rest if rest.startswith('/') else '/' + rest}"
