"""``Headers``: a case-insensitive multi-map with both the Python SDK's and the JS method names."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeAlias

HeadersInit: TypeAlias = "Headers | Mapping[str, str] | Iterable[tuple[str, str]] | None"


class Headers:
    """HTTP headers, names lower-cased as the Fetch standard (and workerd) keeps them.

    Python side (the SDK's ``http.client.HTTPMessage`` view): ``h["x"]`` (``None`` when
    absent, as HTTPMessage does), ``h.get``, ``h.get_all``, ``in``, ``items()``, iteration over
    names. JS side: ``get`` (values joined with ", "), ``set``, ``append``, ``delete``, ``has``,
    ``entries``, ``getSetCookie``.
    """

    __slots__ = ("_items",)

    def __init__(self, init: HeadersInit = None) -> None:
        self._items: list[tuple[str, str]] = []
        if init is None:
            return
        if isinstance(init, Headers):
            self._items = list(init._items)
            return
        pairs = init.items() if isinstance(init, Mapping) else init
        for name, value in pairs:
            self._items.append((name.lower(), str(value)))

    @classmethod
    def _from_raw(cls, raw: Iterable[tuple[bytes, bytes]]) -> Headers:
        """From ASGI's ``[(name, value)]`` byte pairs (names already lower-case)."""
        self = cls.__new__(cls)
        self._items = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw]
        return self

    def _raw(self) -> list[tuple[bytes, bytes]]:
        return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in self._items]

    # -- JS Headers -------------------------------------------------------------------------
    def get(self, name: str, default: Any = None) -> Any:
        """All values of ``name`` joined with ", " (Set-Cookie too, as JS does), else default."""
        name = name.lower()
        values = [v for k, v in self._items if k == name]
        return ", ".join(values) if values else default

    def set(self, name: str, value: str) -> None:
        name = name.lower()
        self._items = [(k, v) for k, v in self._items if k != name]
        self._items.append((name, str(value)))

    def append(self, name: str, value: str) -> None:
        self._items.append((name.lower(), str(value)))

    def delete(self, name: str) -> None:
        name = name.lower()
        self._items = [(k, v) for k, v in self._items if k != name]

    def has(self, name: str) -> bool:
        return name.lower() in self

    def entries(self) -> Iterator[tuple[str, str]]:
        return iter(self.items())

    def getSetCookie(self) -> list[str]:
        return [v for k, v in self._items if k == "set-cookie"]

    # -- Python / HTTPMessage ---------------------------------------------------------------
    def get_all(self, name: str, failobj: Any = None) -> Any:
        name = name.lower()
        values = [v for k, v in self._items if k == name]
        return values if values else ([] if failobj is None else failobj)

    def items(self) -> list[tuple[str, str]]:
        """Each distinct name once with its joined value; Set-Cookie values stay apart."""
        out: dict[str, str] = {}
        cookies: list[tuple[str, str]] = []
        for k, v in self._items:
            if k == "set-cookie":
                cookies.append((k, v))
            else:
                out[k] = f"{out[k]}, {v}" if k in out else v
        return sorted([*out.items(), *cookies], key=lambda kv: kv[0])

    def keys(self) -> list[str]:
        return sorted({k for k, _ in self._items})

    def values(self) -> list[str]:
        return [v for _, v in self.items()]

    def __getitem__(self, name: str) -> str | None:
        value: str | None = self.get(name)
        return value

    def __setitem__(self, name: str, value: str) -> None:
        self.set(name, value)

    def __delitem__(self, name: str) -> None:
        self.delete(name)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        name = name.lower()
        return any(k == name for k, _ in self._items)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return sorted(self._items) == sorted(other._items)
        if isinstance(other, Mapping):
            return dict(self.items()) == {k.lower(): v for k, v in other.items()}
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"
