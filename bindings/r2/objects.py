"""What R2 operations return: ``R2Object``, ``R2ObjectBody`` and ``R2Checksums``.

They read like Cloudflare's Python wrappers of the JS objects: ``obj.key`` and ``obj["key"]``
both work, ``"body" in obj`` tells an R2ObjectBody from an R2Object (as JS ``"body" in obj``),
and ``to_py()`` gives a plain dict. Dates are timezone-aware UTC datetimes, binary checksums are
memoryviews (Pyodide's view of an ArrayBuffer).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from bindings.body import Blob, ReadableStream
from bindings.errors import JsTypeError
from bindings.jsobj import JsDict
from bindings.r2.conditionals import format_http_date, http_date, to_millis

if TYPE_CHECKING:
    from bindings.r2.backends import Record

# httpMetadata field -> the response header writeHttpMetadata() sets (cacheExpiry -> Expires).
HTTP_FIELDS: dict[str, str] = {
    "contentType": "content-type",
    "contentLanguage": "content-language",
    "contentDisposition": "content-disposition",
    "contentEncoding": "content-encoding",
    "cacheControl": "cache-control",
    "cacheExpiry": "expires",
}
CHECKSUM_FIELDS = ("md5", "sha1", "sha256", "sha384", "sha512")
USED = (
    "Body has already been used. It can only be used once. "
    "Use tee() first if you need to read it twice."
)


def from_millis(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def http_metadata_option(value: Any) -> dict[str, Any]:
    """``httpMetadata`` (a dict of R2 names, or Headers) in stored form: strings, and
    ``cacheExpiry`` as milliseconds."""
    if value is None:
        return {}
    out: dict[str, Any] = {}
    if isinstance(value, Mapping) and not hasattr(value, "getlist"):
        for name, item in value.items():
            if name not in HTTP_FIELDS:
                raise JsTypeError(f"Unknown httpMetadata field {name!r}")
            if item is None:
                continue
            if name == "cacheExpiry":
                if isinstance(item, datetime):
                    out[name] = to_millis(item)
                elif isinstance(item, int | float) and not isinstance(item, bool):
                    out[name] = int(item)
                else:
                    raise JsTypeError("httpMetadata.cacheExpiry must be a datetime")
            elif isinstance(item, str):
                out[name] = item
            else:
                raise JsTypeError(f"httpMetadata.{name} must be a string")
        return out
    if not hasattr(value, "get"):
        raise JsTypeError("httpMetadata must be an R2HTTPMetadata object or Headers")
    for name, header in HTTP_FIELDS.items():
        item = value.get(header)
        if item is None:
            continue
        if name == "cacheExpiry":
            ms = http_date(item)
            if ms is not None:
                out[name] = ms
        else:
            out[name] = item
    return out


def custom_metadata_option(value: Any) -> dict[str, str]:
    """``customMetadata``: a dict of strings."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise JsTypeError("customMetadata must be a dict of strings")
    for name, item in value.items():
        if not isinstance(name, str) or not isinstance(item, str):
            raise JsTypeError("customMetadata must be a dict of strings")
    return dict(value)


def _http_view(stored: Mapping[str, Any]) -> JsDict:
    out = JsDict(stored)
    if "cacheExpiry" in out:
        out["cacheExpiry"] = from_millis(out["cacheExpiry"])
    return out


class _Fields:
    """Item access and ``in`` over a fixed set of attribute names."""

    FIELDS: ClassVar[tuple[str, ...]] = ()
    __slots__ = ()

    def __getitem__(self, name: str) -> Any:
        if name not in self.FIELDS:
            raise KeyError(name)
        return getattr(self, name)

    def __contains__(self, name: object) -> bool:
        return name in self.FIELDS

    def to_py(self) -> JsDict:
        return JsDict((name, getattr(self, name)) for name in self.FIELDS)


class R2Checksums(_Fields):
    """An object's checksums: ``md5`` ... ``sha512`` as memoryviews (None when not stored)."""

    FIELDS: ClassVar[tuple[str, ...]] = CHECKSUM_FIELDS
    __slots__ = ("_hex",)

    def __init__(self, hexes: Mapping[str, str]) -> None:
        self._hex = dict(hexes)

    def __getattr__(self, name: str) -> memoryview | None:
        if name not in CHECKSUM_FIELDS:
            raise AttributeError(name)
        value = self._hex.get(name)
        return memoryview(bytes.fromhex(value)) if value is not None else None

    def toJSON(self) -> JsDict:
        """The stored checksums as lowercase hex strings (only those present)."""
        return JsDict(self._hex)

    def __repr__(self) -> str:
        return f"R2Checksums({self._hex!r})"


class R2Object(_Fields):
    """An object's metadata: from head, put, list and complete (and get when onlyIf failed)."""

    FIELDS: ClassVar[tuple[str, ...]] = (
        "key", "version", "size", "etag", "httpEtag", "checksums", "uploaded", "httpMetadata",
        "customMetadata", "range", "storageClass", "ssecKeyMd5",
    )  # fmt: skip
    __slots__ = ("_custom", "_http", "_record", "range")

    def __init__(
        self,
        record: Record,
        range: tuple[int, int] | None = None,
        *,
        http: bool = True,
        custom: bool = True,
    ) -> None:
        self._record = record
        self.range = JsDict(offset=range[0], length=range[1]) if range is not None else None
        self._http: JsDict | bool = http  # built on first access
        self._custom: JsDict | bool = custom

    @property
    def httpMetadata(self) -> JsDict:
        if not isinstance(self._http, JsDict):
            self._http = _http_view(self._record.http_metadata) if self._http else JsDict()
        return self._http

    @property
    def customMetadata(self) -> JsDict:
        if not isinstance(self._custom, JsDict):
            self._custom = JsDict(self._record.custom_metadata) if self._custom else JsDict()
        return self._custom

    @property
    def key(self) -> str:
        return self._record.key

    @property
    def version(self) -> str:
        return self._record.version

    @property
    def size(self) -> int:
        return self._record.size

    @property
    def etag(self) -> str:
        return self._record.etag

    @property
    def httpEtag(self) -> str:
        return f'"{self._record.etag}"'

    @property
    def checksums(self) -> R2Checksums:
        return R2Checksums(self._record.checksums)

    @property
    def uploaded(self) -> datetime:
        return from_millis(self._record.uploaded)

    storageClass = "Standard"  # Hearth stores every object alike
    ssecKeyMd5 = None  # SSE-C keys are accepted and ignored

    def writeHttpMetadata(self, headers: Any) -> None:
        """Copy httpMetadata into response headers (cacheExpiry as Expires); keeps the others."""
        setter = getattr(headers, "set", None) or headers.__setitem__
        for name, value in self._record.http_metadata.items():
            if name == "cacheExpiry":
                value = format_http_date(value)
            setter(HTTP_FIELDS[name], value)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.key!r} size={self.size} etag={self.etag}>"


class R2ObjectBody(R2Object):
    """An object with its value: ``body`` (a ReadableStream) and the read methods."""

    FIELDS: ClassVar[tuple[str, ...]] = (*R2Object.FIELDS, "body", "bodyUsed")
    __slots__ = ("body",)

    def __init__(self, record: Record, range: tuple[int, int], body: ReadableStream) -> None:
        super().__init__(record, range)
        self.body = body

    @property
    def bodyUsed(self) -> bool:
        return self.body.locked

    async def bytes(self) -> bytes:
        if self.body.locked:
            raise JsTypeError(USED)
        return await self.body.read_all()

    async def arrayBuffer(self) -> memoryview:
        return memoryview(await self.bytes())

    async def text(self) -> str:
        return (await self.bytes()).decode()

    async def json(self) -> Any:
        return json.loads(await self.bytes())

    async def blob(self) -> Blob:
        return Blob([await self.bytes()], self._record.http_metadata.get("contentType"))
