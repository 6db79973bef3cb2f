"""``Request``: the SDK's request object, built lazily from an ASGI scope on the hot path."""

from __future__ import annotations

from collections.abc import AsyncIterator
from http import HTTPMethod
from typing import Any
from urllib.parse import urlsplit

from bindings.body import Body, BodyInit, ReadableStream, encode_body
from bindings.headers import Headers, HeadersInit
from bindings.types import Receive, Scope

_METHODS: dict[str, HTTPMethod] = {m.value: m for m in HTTPMethod}


def _method(value: str) -> HTTPMethod | str:
    upper = value.upper()
    return _METHODS.get(upper, upper)


class Request(Body):
    """An HTTP request as Cloudflare's Python SDK shapes it (``workers.Request``).

    ``method`` is an ``http.HTTPMethod`` (a StrEnum, so ``== "GET"`` works), ``url`` a full URL
    string, ``headers`` a ``Headers``; the body is read with ``text()``, ``json()``,
    ``bytes()``, ``form_data()`` or streamed from ``body``.
    """

    _scope: Scope | None
    _receive: Receive | None
    _url: str | None
    _method: HTTPMethod | str | None
    _headers: Headers | None
    cf: dict[str, Any] | None
    redirect: str

    def __init__(
        self,
        input: str | Request,
        *,
        headers: HeadersInit = None,
        body: BodyInit = None,
        method: str | None = None,
        redirect: str | None = None,
        cf: dict[str, Any] | None = None,
        fetcher: Any = None,
    ) -> None:
        self._scope = None
        self._receive = None
        self._used = False
        if isinstance(input, Request):
            self._url = input.url
            self._method = input.method if method is None else _method(method)
            self._headers = Headers(input.headers if headers is None else headers)
            self.cf = input.cf if cf is None else cf
            self.redirect = input.redirect if redirect is None else redirect
            if body is None:
                self._content, self._stream = input._content, input._take_stream()
            else:
                self._content, self._stream = encode_body(body, self._headers, "Request")
            return
        if not isinstance(input, str):
            raise TypeError(f"Request input must be a URL string or a Request, not {type(input)}")
        self._url = input
        self._method = _method(method or "GET")
        self._headers = Headers(headers)
        self.cf = cf
        self.redirect = redirect or "follow"
        self._content, self._stream = encode_body(body, self._headers, "Request")

    @classmethod
    def _from_asgi(cls, scope: Scope, receive: Receive) -> Request:
        """Wrap an ASGI HTTP or WebSocket scope; url and headers are built on first use."""
        self = cls.__new__(cls)
        self._scope = scope
        self._receive = receive
        self._url = None
        self._method = None
        self._headers = None
        self._used = False
        self._content = None
        self.cf = None
        self.redirect = "follow"
        if scope["type"] == "http":
            self._stream = ReadableStream(_receive_body(receive))
        else:
            self._stream = None
        return self

    def _take_stream(self) -> ReadableStream | None:
        stream, self._stream = self._stream, None
        return stream

    @property
    def url(self) -> str:
        if self._url is None:
            self._url = _url_of(self._scope or {}, self.headers)
        return self._url

    @property
    def method(self) -> HTTPMethod | str:
        if self._method is None:
            scope = self._scope or {}
            self._method = _method(scope.get("method", "GET"))
        return self._method

    @property
    def headers(self) -> Headers:
        if self._headers is None:
            self._headers = Headers._from_raw((self._scope or {}).get("headers", ()))
        return self._headers

    @property
    def js_object(self) -> Request:
        return self

    async def json(self, **kwargs: Any) -> Any:
        return await self._parse_json(**kwargs)

    def clone(self) -> Request:
        """A copy whose body can be read independently (the body is buffered first if needed)."""
        if self._stream is not None:
            raise TypeError("Request.clone() needs a buffered body: await request.bytes() first")
        copy = Request(self)
        copy._content = self._content
        return copy

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.url}>"


async def _receive_body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return  # http.disconnect: the client went away
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


def _url_of(scope: Scope, headers: Headers) -> str:
    scheme = scope.get("scheme", "http")
    if scope.get("type") == "websocket":
        scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
    host = headers.get("host")
    if host is None:
        server = scope.get("server") or ("localhost", None)
        host = server[0] if server[1] in (None, 80, 443) else f"{server[0]}:{server[1]}"
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if raw else scope.get("root_path", "") + scope.get("path", "/")
    query = scope.get("query_string", b"")
    if query and b"?" not in (raw or b""):
        path = f"{path}?{query.decode('latin-1')}"
    return f"{scheme}://{host}{path}"


def split_url(url: str) -> tuple[str, str, str, bytes]:
    """(scheme, host, raw path, query) of an absolute URL, for building an ASGI scope."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        raise TypeError(f"Invalid URL: {url!r} (a fully-qualified URL is required)")
    return parts.scheme, parts.netloc, parts.path or "/", parts.query.encode("latin-1")
