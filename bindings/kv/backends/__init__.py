"""KV storage backends: a few primitives, with every KV rule kept above them.

``bindings.kv.namespace`` validates, expires, orders pages and builds cursors; a backend only
stores rows. A backend is any object with the ``KVBackend`` methods; ``sqlite`` (one file under
the state folder, the default) and ``redis`` (a hash per key plus sorted-set indexes) ship here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol


class Entry(NamedTuple):
    """One stored value. Immutable, so the read cache can hand it out without copying."""

    value: bytes
    expiration: int | None  # seconds since the epoch, as Cloudflare's `expiration`
    metadata: str | None  # the metadata as JSON text


class Listed(NamedTuple):
    """One row of a listing: a key with its expiration and metadata, without the value."""

    name: str
    expiration: int | None
    metadata: str | None


class KVBackend(Protocol):
    """Storage primitives for KV namespaces, addressed by (namespace id, key).

    Invariants every backend keeps:

    - Keys are ``str``; listings are ordered by the keys' UTF-8 bytes (memcmp), and a prefix
      matches bytes literally (no LIKE wildcards).
    - Expiry is decided above, against ``runtime.clock``: ``get``, ``get_many`` and ``list``
      return rows whether or not their ``expiration`` has passed. A backend may reclaim a row
      on its own only once the real time is past its expiration (Redis does, with PEXPIREAT);
      it never drops a row that could still be live.
    - ``put`` replaces value, expiration and metadata at once; readers see the old row or the
      new one, never a mix. ``delete`` of a missing key is a no-op.
    - ``purge`` deletes a key only while its stored expiration is still the one given, so a
      newer ``put`` that raced the read is never lost.
    - Values come back as ``bytes`` that nobody mutates; a write never changes them in place.
    - Backend errors are raised as ``KVError`` (translated once, inside the backend).
    """

    name: str  # "sqlite" or "redis", for messages

    async def get(self, namespace: str, key: str) -> Entry | None:
        """The row for ``key``, or None."""
        ...

    async def get_many(self, namespace: str, keys: Sequence[str]) -> list[Entry | None]:
        """The rows for ``keys``, aligned with them (None where missing)."""
        ...

    async def put(self, namespace: str, key: str, entry: Entry) -> None:
        """Store ``entry`` under ``key``, replacing any previous row."""
        ...

    async def delete(self, namespace: str, key: str) -> None:
        """Remove ``key`` if present."""
        ...

    async def purge(self, namespace: str, expired: Sequence[tuple[str, int]]) -> None:
        """Delete each (key, expiration) whose stored expiration is still that value."""
        ...

    async def list(self, namespace: str, prefix: str, after: str, limit: int) -> list[Listed]:
        """Up to ``limit`` rows whose key starts with ``prefix`` and sorts strictly after
        ``after`` ("" = from the start), in key order; fewer than ``limit`` means no more."""
        ...

    def watch(self, namespace: str) -> None:
        """Note that this process serves ``namespace`` (a backend may sweep it)."""
        ...

    async def aclose(self) -> None:
        """Release connections and background tasks; idempotent."""
        ...
