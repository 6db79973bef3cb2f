"""``Response``: the SDK's response object; also an ASGI app, so Starlette routes may return it."""

from __future__ import annotations

import json as _json
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any, overload

from bindings.body import Body, BodyInit, encode_body
from bindings.headers import Headers, HeadersInit
from bindings.types import Receive, Scope, Send

NULL_BODY_STATUSES = frozenset({101, 103, 204, 205, 304})
_ENCODER = _json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # reused: no per-call setup


class _JsonMember:
    """``Response.json(data)`` builds a response; ``await response.json()`` parses one."""

    @overload
    def __get__(self, obj: None, owner: type[Response]) -> Callable[..., Response]: ...
    @overload
    def __get__(self, obj: Response, owner: type[Response]) -> Callable[..., Awaitable[Any]]: ...
    def __get__(self, obj: Response | None, owner: type[Response]) -> Callable[..., Any]:
        if obj is None:
            return owner.from_json
        return obj._parse_json


class Response(Body):
    """An HTTP response as Cloudflare's Python SDK shapes it (``workers.Response``).

    ``body`` may be str, bytes-like, FormData, Blob, a ReadableStream or any async iterable of
    bytes (streamed out, never buffered). ``web_socket=`` carries the client end of a
    ``WebSocketPair`` on a 101 response.
    """

    json = _JsonMember()
    status: int
    status_text: str
    headers: Headers
    web_socket: Any
    url: str
    redirected: bool

    def __init__(
        self,
        body: BodyInit | Response = None,
        status: HTTPStatus | int | None = None,
        status_text: str = "",
        headers: HeadersInit = None,
        web_socket: Any = None,
    ) -> None:
        self._used = False
        if isinstance(body, Response):
            if status is not None or status_text or headers is not None or web_socket is not None:
                raise TypeError("Response(response) takes no other options")
            self.__dict__.update(body.__dict__)
            self.headers = Headers(body.headers)
            return
        self.status = int(status) if status is not None else 200
        if not (200 <= self.status <= 599) and not (self.status == 101 and web_socket is not None):
            raise ValueError(
                f"Responses may only be constructed with status codes in the range 200 to 599, "
                f'inclusive. Got "{self.status}".'
            )
        self.status_text = status_text or _reason(self.status)
        self.headers = headers if isinstance(headers, Headers) else Headers(headers)
        self.web_socket = web_socket
        self.url = ""
        self.redirected = False
        self._content, self._stream = encode_body(body, self.headers, "Response")

    @classmethod
    def from_json(
        cls,
        data: Any,
        status: HTTPStatus | int = 200,
        status_text: str = "",
        headers: HeadersInit = None,
    ) -> Response:
        """JSON-encode ``data``; Content-Type is application/json unless ``headers`` sets one."""
        h = Headers(headers)
        if headers is None or "content-type" not in h:
            h.append("content-type", "application/json")
        body = _ENCODER.encode(data).encode()
        return cls(body, status, status_text, h)

    @classmethod
    def redirect(cls, url: str, status: HTTPStatus | int = HTTPStatus.FOUND) -> Response:
        if int(status) not in (301, 302, 303, 307, 308):
            raise ValueError(f"Invalid status code {int(status)} for a redirect")
        return cls(None, status, headers={"location": url})

    @property
    def ok(self) -> bool:
        return 200 <= self.status <= 299

    @property
    def statusText(self) -> str:
        return self.status_text

    @property
    def webSocket(self) -> Any:
        return self.web_socket

    @property
    def js_object(self) -> Response:
        return self

    @property
    def type(self) -> str:
        return "default"

    def raise_for_status(self) -> None:
        if not self.ok:
            raise OSError(f"{self.status} {self.status_text}: {self.url}")

    def clone(self) -> Response:
        if self._stream is not None:
            raise TypeError("Response.clone() needs a buffered body: await response.bytes() first")
        copy = Response(self._content, self.status, self.status_text, Headers(self.headers))
        copy.url, copy.redirected = self.url, self.redirected
        return copy

    def replace_body(self, body: BodyInit) -> Response:
        copy = Response(body, self.status, self.status_text, Headers(self.headers))
        return copy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send this response over ASGI, streaming a stream body chunk by chunk."""
        content, stream = self._content, self._stream
        raw = self.headers._raw()
        has_length = any(name == b"content-length" for name, _ in raw)
        if self.status in NULL_BODY_STATUSES:
            content, stream = None, None
            if has_length:  # servers refuse a length whose body they are not sent
                raw = [(k, v) for k, v in raw if k != b"content-length"]
        elif not has_length:
            length = len(content) if stream is None and content is not None else None
            if stream is not None:
                length = stream.length
            if length is not None:
                raw.append((b"content-length", str(length).encode()))
        await send({"type": "http.response.start", "status": self.status, "headers": raw})
        if stream is None:
            await send({"type": "http.response.body", "body": content or b""})
            return
        self._stream, self._used = None, True
        try:
            async for chunk in stream:
                if chunk:
                    await send(
                        {"type": "http.response.body", "body": bytes(chunk), "more_body": True}
                    )
        finally:
            await stream.cancel()
        await send({"type": "http.response.body", "body": b""})

    def __repr__(self) -> str:
        return f"<Response [{self.status}]>"


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
