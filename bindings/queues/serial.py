"""The ``v8`` content type in Python: structured-clone values written as bytes, without pickle.

On Cloudflare, ``contentType: "v8"`` stores a message with V8's structured serialisation, so a
consumer gets back exactly the kinds structured clone copies. Hearth does the same for the
Python kinds ``bindings.clone.structured_clone`` accepts: None, bool, int (any size, like
BigInt), float, str, bytes/memoryview, datetime/date/time, dict (back as JsDict), list, set and
frozenset, with shared references and cycles preserved. Anything else raises the error
structured clone raises (tuples and bytearray a TypeError, other objects DataCloneError).

The format is a tagged, length-prefixed encoding (version byte first). It never executes code
when read, unlike pickle, so a message from a shared Redis cannot run anything in a consumer.
It is not V8's wire format: a Hearth queue is read only by Hearth.
"""

from __future__ import annotations

import datetime as dt
import struct
from typing import Any

from bindings.clone import clone_error
from bindings.jsobj import JsDict

VERSION = 1
_FLOAT = struct.Struct("<d")


class SerialError(ValueError):
    """Bytes that are not a value this module wrote."""


def dumps(value: Any) -> bytes:
    """Serialise ``value``; raise clone's errors for what structured clone cannot copy."""
    out = bytearray((VERSION,))
    _write(value, out, {})
    return bytes(out)


def loads(data: bytes | memoryview) -> Any:
    """The value ``dumps`` wrote."""
    view = memoryview(data)
    if not view or view[0] != VERSION:
        raise SerialError("not a Hearth v8 message (unknown version)")
    reader = _Reader(view)
    reader.pos = 1
    value = reader.value()
    if reader.pos != len(view):
        raise SerialError("trailing bytes after the value")
    return value


def _varint(n: int, out: bytearray) -> None:
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _blob(tag: bytes, data: bytes, out: bytearray) -> None:
    out += tag
    _varint(len(data), out)
    out += data


def _write(value: Any, out: bytearray, refs: dict[int, int]) -> None:
    # bool before int: True is an int.
    if value is None:
        out += b"N"
    elif value is True:
        out += b"T"
    elif value is False:
        out += b"F"
    elif isinstance(value, int):
        _blob(b"i", value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True), out)
    elif isinstance(value, float):
        out += b"f" + _FLOAT.pack(value)
    elif isinstance(value, str):
        _blob(b"s", value.encode("utf-8", "surrogatepass"), out)
    elif isinstance(value, bytes | memoryview):
        _blob(b"b", bytes(value), out)
    elif isinstance(value, dt.datetime):
        _blob(b"D", value.isoformat().encode(), out)
    elif isinstance(value, dt.date):
        _blob(b"A", value.isoformat().encode(), out)
    elif isinstance(value, dt.time):
        _blob(b"H", value.isoformat().encode(), out)
    elif isinstance(value, dict | list):
        seen = refs.get(id(value))
        if seen is not None:  # a shared part or a cycle: refer back to the first copy
            out += b"r"
            _varint(seen, out)
            return
        refs[id(value)] = len(refs)
        if isinstance(value, dict):
            out += b"d"
            _varint(len(value), out)
            for k, v in value.items():
                if not isinstance(k, str | int | float | bool):
                    raise clone_error(k)
                _write(k, out, refs)
                _write(v, out, refs)
        else:
            out += b"l"
            _varint(len(value), out)
            for item in value:
                _write(item, out, refs)
    elif isinstance(value, set | frozenset):
        out += b"S" if isinstance(value, set) else b"Z"
        _varint(len(value), out)
        for item in value:
            _write(item, out, refs)
    else:
        raise clone_error(value)


class _Reader:
    __slots__ = ("pos", "refs", "view")

    def __init__(self, view: memoryview) -> None:
        self.view = view
        self.pos = 0
        self.refs: list[Any] = []

    def _varint(self) -> int:
        shift = n = 0
        while True:
            byte = self._byte()
            n |= (byte & 0x7F) << shift
            if byte < 0x80:
                return n
            shift += 7

    def _byte(self) -> int:
        if self.pos >= len(self.view):
            raise SerialError("truncated message")
        byte = self.view[self.pos]
        self.pos += 1
        return byte

    def _take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.view):
            raise SerialError("truncated message")
        data = self.view[self.pos : end].tobytes()
        self.pos = end
        return data

    def value(self) -> Any:
        tag = chr(self._byte())
        if tag == "N":
            return None
        if tag in "TF":
            return tag == "T"
        if tag == "f":
            return _FLOAT.unpack(self._take(8))[0]
        if tag in "isbDAH":
            data = self._take(self._varint())
            if tag == "i":
                return int.from_bytes(data, "little", signed=True)
            if tag == "s":
                return data.decode("utf-8", "surrogatepass")
            if tag == "b":
                return data
            text = data.decode()
            if tag == "D":
                return dt.datetime.fromisoformat(text)
            return dt.date.fromisoformat(text) if tag == "A" else dt.time.fromisoformat(text)
        if tag == "d":
            mapping = JsDict()
            self.refs.append(mapping)
            for _ in range(self._varint()):
                key = self.value()
                mapping[key] = self.value()
            return mapping
        if tag == "l":
            items: list[Any] = []
            self.refs.append(items)
            items.extend(self.value() for _ in range(self._varint()))
            return items
        if tag in "SZ":
            members = [self.value() for _ in range(self._varint())]
            return set(members) if tag == "S" else frozenset(members)
        if tag == "r":
            index = self._varint()
            if index >= len(self.refs):
                raise SerialError("bad back-reference")
            return self.refs[index]
        raise SerialError(f"unknown tag {tag!r}")
