"""Bodies shared by Request and Response: streams, Blob, File, FormData and the read methods."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping
from typing import Any, TypeAlias

from bindings.headers import Headers


class ReadableStream:
    """A one-shot async stream of byte chunks (what ``request.body`` / ``r2obj.body`` are).

    Iterate it with ``async for chunk in stream``; hand it to ``Response(stream)`` to send it on
    without buffering.
    """

    __slots__ = ("_source", "length", "locked")

    def __init__(self, source: AsyncIterable[bytes], length: int | None = None) -> None:
        self._source = source
        self.locked = False
        self.length = length  # known byte length, when the producer knows it (FixedLengthStream)

    def __aiter__(self) -> AsyncIterator[bytes]:
        if self.locked:
            raise TypeError("This ReadableStream is currently locked to a reader.")
        self.locked = True
        return self._source.__aiter__()

    async def read_all(self) -> bytes:
        return b"".join([chunk async for chunk in self])

    async def cancel(self, reason: Any = None) -> None:
        close = getattr(self._source, "aclose", None)
        if close is not None:
            await close()


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


def stream_of(data: bytes) -> ReadableStream:
    """A stream yielding ``data`` in one chunk."""
    return ReadableStream(_once(data), len(data))


class Blob:
    """An immutable byte sequence with a content type (``workers.Blob``)."""

    _data: bytes

    def __init__(
        self,
        parts: Iterable[str | bytes | bytearray | memoryview | Blob] = (),
        content_type: str | None = None,
        endings: str | None = None,
    ) -> None:
        chunks = []
        for part in parts:
            if isinstance(part, Blob):
                chunks.append(part._data)
            elif isinstance(part, str):
                chunks.append(part.encode())
            else:
                chunks.append(bytes(part))
        self._data = b"".join(chunks)
        self.content_type = (content_type or "").lower()

    @property
    def size(self) -> int:
        return len(self._data)

    @property
    def type(self) -> str:
        return self.content_type

    async def text(self) -> str:
        return self._data.decode()

    async def bytes(self) -> bytes:
        return self._data

    async def arrayBuffer(self) -> memoryview:
        return memoryview(self._data)

    def slice(
        self, start: int = 0, end: int | None = None, content_type: str | None = None
    ) -> Blob:
        return Blob([self._data[start:end]], content_type or "")

    def stream(self) -> ReadableStream:
        return stream_of(self._data)


class File(Blob):
    """A named Blob (``workers.File``), as a multipart form field with a filename."""

    def __init__(
        self,
        parts: Iterable[str | bytes | bytearray | memoryview | Blob],
        filename: str,
        content_type: str | None = None,
        endings: str | None = None,
        last_modified: int | None = None,
    ) -> None:
        super().__init__(parts, content_type, endings)
        self.name = filename
        self.last_modified = int(time.time() * 1000) if last_modified is None else last_modified


FormDataValue: TypeAlias = "str | File | Blob"


class FormData:
    """Ordered multi-valued form fields (``workers.FormData``); ``fd[k]`` is the first value."""

    def __init__(self, init: Mapping[str, Any] | FormData | None = None) -> None:
        self._items: list[tuple[str, FormDataValue]] = []
        if isinstance(init, FormData):
            self._items = list(init._items)
        elif init is not None:
            for k, v in init.items():
                self.append(k, v)

    def append(self, name: str, value: Any, filename: str | None = None) -> None:
        if isinstance(value, Blob) and filename is not None:
            value = File([value], filename, value.content_type)
        elif isinstance(value, Blob) and not isinstance(value, File):
            value = File([value], "blob", value.content_type)
        elif not isinstance(value, Blob):
            value = str(value)
        self._items.append((name, value))

    def get(self, name: str, default: Any = None) -> Any:
        return next((v for k, v in self._items if k == name), default)

    def get_all(self, name: str) -> list[FormDataValue]:
        return [v for k, v in self._items if k == name]

    getAll = get_all

    def has(self, name: str) -> bool:
        return any(k == name for k, _ in self._items)

    def set(self, name: str, value: Any, filename: str | None = None) -> None:
        self.delete(name)
        self.append(name, value, filename)

    def delete(self, name: str) -> None:
        self._items = [(k, v) for k, v in self._items if k != name]

    def entries(self) -> Iterator[tuple[str, FormDataValue]]:
        return iter(list(self._items))

    def keys(self) -> list[str]:
        return list(dict.fromkeys(k for k, _ in self._items))

    def __getitem__(self, name: str) -> FormDataValue:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value  # type: ignore[no-any-return]

    def __setitem__(self, name: str, value: Any) -> None:
        self.set(name, value)

    def __delitem__(self, name: str) -> None:
        self.delete(name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.has(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def encode(self) -> tuple[bytes, str]:
        """Serialise as multipart/form-data; returns (body, content-type with boundary)."""
        boundary = "----hearth" + secrets.token_hex(12)
        out = bytearray()
        for name, value in self._items:
            out += f"--{boundary}\r\n".encode()
            quoted = name.replace('"', "%22")
            if isinstance(value, File):
                filename = value.name.replace('"', "%22")
                out += (
                    f'Content-Disposition: form-data; name="{quoted}"; filename="{filename}"\r\n'
                    f"Content-Type: {value.content_type or 'application/octet-stream'}\r\n\r\n"
                ).encode()
                out += value._data
            else:
                out += f'Content-Disposition: form-data; name="{quoted}"\r\n\r\n'.encode()
                out += str(value).encode()
            out += b"\r\n"
        out += f"--{boundary}--\r\n".encode()
        return bytes(out), f"multipart/form-data; boundary={boundary}"


BodyInit: TypeAlias = (
    "str | bytes | bytearray | memoryview | Blob | FormData | ReadableStream "
    "| AsyncIterable[bytes] | None"
)


def encode_body(
    body: Any, headers: Headers, what: str
) -> tuple[bytes | None, ReadableStream | None]:
    """Turn a body init into buffered bytes or a stream, setting a default Content-Type."""
    if body is None:
        return None, None
    if isinstance(body, bytes):
        return body, None
    if isinstance(body, str):
        if "content-type" not in headers:
            headers.set("content-type", "text/plain;charset=UTF-8")
        return body.encode(), None
    if isinstance(body, bytearray | memoryview):
        return bytes(body), None
    if isinstance(body, FormData):
        data, content_type = body.encode()
        headers.set("content-type", content_type)
        return data, None
    if isinstance(body, Blob):
        if body.content_type and "content-type" not in headers:
            headers.set("content-type", body.content_type)
        return body._data, None
    if isinstance(body, ReadableStream):
        return None, body
    if isinstance(body, AsyncIterable):
        return None, ReadableStream(body)
    raise TypeError(f"Unsupported type in {what}: {type(body).__name__}")


class Body:
    """The read side shared by Request and Response: one-shot, cached once fully read."""

    _content: bytes | None
    _stream: ReadableStream | None
    _used: bool

    @property
    def body(self) -> ReadableStream | None:
        """The body as a stream (``None`` for a null body)."""
        if self._stream is not None:
            stream, self._stream = self._stream, None
            self._used = True
            return stream
        if self._content is None:
            return None
        return stream_of(self._content)

    @property
    def body_used(self) -> bool:
        return self._used

    bodyUsed = body_used

    async def bytes(self) -> bytes:
        """The whole body; read once, then served from memory to later calls."""
        if self._content is None:
            if self._stream is None:
                if self._used:
                    raise TypeError("Body has already been used. It can only be used once.")
                return b""
            stream, self._stream = self._stream, None
            self._used = True
            self._content = await stream.read_all()
        self._used = True
        return self._content

    async def text(self) -> str:
        return (await self.bytes()).decode()

    async def _parse_json(self, **kwargs: Any) -> Any:
        return json.loads(await self.bytes(), **kwargs)

    async def arrayBuffer(self) -> memoryview:
        return memoryview(await self.bytes())

    async def buffer(self) -> memoryview:
        return memoryview(await self.bytes())

    async def memoryview(self) -> memoryview:
        return memoryview(await self.bytes())

    async def blob(self) -> Blob:
        headers: Headers = self.headers  # type: ignore[attr-defined]
        return Blob([await self.bytes()], headers.get("content-type"))

    async def form_data(self) -> FormData:
        """Parse a urlencoded or multipart body into FormData (Starlette's parsers)."""
        from starlette.datastructures import UploadFile
        from starlette.formparsers import FormParser, MultiPartParser

        headers: Headers = self.headers  # type: ignore[attr-defined]
        content_type = headers.get("content-type", "")
        data = await self.bytes()
        starlette_headers = _StarletteHeaders(headers)
        stream = _once(data)
        if content_type.startswith("multipart/form-data"):
            parsed = await MultiPartParser(starlette_headers, stream).parse()  # type: ignore[arg-type]
        elif content_type.startswith("application/x-www-form-urlencoded"):
            parsed = await FormParser(starlette_headers, stream).parse()  # type: ignore[arg-type]
        else:
            raise TypeError(f"Unsupported content type for form data: {content_type!r}")
        form = FormData()
        for name, value in parsed.multi_items():
            if isinstance(value, UploadFile):
                content = await value.read()
                form.append(name, File([content], value.filename or "blob", value.content_type))
                await value.close()
            else:
                form.append(name, value)
        return form

    formData = form_data


def _StarletteHeaders(headers: Headers) -> Any:
    from starlette.datastructures import Headers as SHeaders

    return SHeaders(raw=headers._raw())
