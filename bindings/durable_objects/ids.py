"""Durable Object ids, derived exactly as workerd derives them.

A namespace's key is ``SHA256(uniqueKey)`` with uniqueKey ``"<worker>-<Class>"`` (Miniflare's).
An id is 32 bytes: 16 bytes ``a`` (``HMAC(key, name)`` for ``idFromName``, random for
``newUniqueId``) followed by the first 16 bytes of ``HMAC(key, a)``, so the same name and class
give the same id across restarts, and ``idFromString`` can tell an id of another namespace.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from bindings.durable_objects.errors import DurableObjectError
from bindings.errors import JsTypeError

_HALF = 16
_NAME_CACHE_SIZE = 4096


class DurableObjectId:
    """An object's id: ``toString()`` is 64 lowercase hex digits; ``name`` is set for ids made
    by ``idFromName``. Ids compare equal (``equals``, ``==``) when their hex is the same."""

    __slots__ = ("_hex", "_key", "name")

    jurisdiction = None

    def __init__(self, hex_id: str, key: bytes, name: str | None = None) -> None:
        self._hex = hex_id
        self._key = key  # the namespace key, so a stub can refuse an id of another namespace
        self.name = name

    def toString(self) -> str:
        return self._hex

    def equals(self, other: DurableObjectId) -> bool:
        return isinstance(other, DurableObjectId) and other._hex == self._hex

    def __str__(self) -> str:
        return self._hex

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DurableObjectId) and other._hex == self._hex

    def __hash__(self) -> int:
        return hash(self._hex)

    def __repr__(self) -> str:
        name = f" name={self.name!r}" if self.name is not None else ""
        return f"<DurableObjectId {self._hex}{name}>"


class IdFactory:
    """Makes and checks the ids of one namespace (one Durable Object class)."""

    def __init__(self, unique_key: str) -> None:
        self.unique_key = unique_key
        self.key = hashlib.sha256(unique_key.encode()).digest()
        self._names: dict[str, DurableObjectId] = {}

    def _mac(self, first: bytes) -> bytes:
        return hmac.digest(self.key, first, "sha256")[:_HALF]

    def idFromName(self, name: str) -> DurableObjectId:
        if not isinstance(name, str):
            raise JsTypeError(f"idFromName() takes a string, not {type(name).__name__}")
        found = self._names.get(name)
        if found is not None:
            return found
        first = hmac.digest(self.key, name.encode(), "sha256")[:_HALF]
        made = DurableObjectId((first + self._mac(first)).hex(), self.key, name)
        if len(self._names) >= _NAME_CACHE_SIZE:
            self._names.clear()  # a bound on memory, not an LRU: recomputing costs microseconds
        self._names[name] = made
        return made

    def newUniqueId(self, jurisdiction: str | None = None) -> DurableObjectId:
        if jurisdiction is not None:
            raise DurableObjectError("Jurisdiction restrictions are not implemented in workerd.")
        first = os.urandom(_HALF)
        return DurableObjectId((first + self._mac(first)).hex(), self.key)

    def idFromString(self, text: str) -> DurableObjectId:
        raw = _unhex(text)
        if raw is None:
            raise JsTypeError("Invalid Durable Object ID: must be 64 hex digits")
        if not hmac.compare_digest(self._mac(raw[:_HALF]), raw[_HALF:]):
            raise JsTypeError("Durable Object ID is not valid for this namespace.")
        return DurableObjectId(raw.hex(), self.key)

    def owns(self, id: DurableObjectId) -> bool:
        return id._key == self.key


def _unhex(text: object) -> bytes | None:
    if not isinstance(text, str) or len(text) != 2 * 2 * _HALF:
        return None
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        return None
    return raw if len(raw) == 2 * _HALF else None  # fromhex skips spaces: insist on 32 bytes
