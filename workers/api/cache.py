"""The seed's product caching in KV, with invalidation that cannot leave a stale entry behind.

Keys and TTLs are the seed's: a list page under ``products:{page}:{limit}:{category|all}:
{search|none}`` for 5 minutes, a product under ``product:{id}`` for 10 minutes. The value is the
response body itself, served as it is on a hit.

**Invalidation by generation.** Every entry carries, in its KV metadata, the *generation* it was
computed under: the value of ``generation:products`` for lists, of ``generation:product:{id}``
for a product. One bulk read fetches an entry with its generation key; a hit is an entry whose
stamp equals the current generation. A write (create, update, review, order) commits to D1
first, then puts fresh random generations: ``generation:products`` (any list may show the
product) and ``generation:product:{id}`` for each product it touched. Every older entry is dead
at once, however many there are, and expires on its own.

Why not the seed's "list ``products:`` and delete each key": it costs one delete per cached
page, and it races — a reader that queried D1 just before the write and stores its result just
after the deletes leaves a stale page for 5 minutes. With generations that reader stamps its
entry with the generation it read *before* querying, which the write has replaced: the entry is
never served. Generations are random tokens rather than counters so that two writers never
read-modify-write a shared key. Lists cannot be invalidated per product (any page may move), so
every product write starts a new list generation; a product's own page survives writes to
other products.

The seed's CacheManager also had an edge layer (``caches.default``) in front of KV. It is left
out on purpose: an edge entry cannot be reached by these generations (Cloudflare purges edge
caches by URL, tag or prefix only from its API), so it would serve a product up to its TTL
after a write.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

LIST_TTL = 300  # seconds: the seed's list TTL
DETAIL_TTL = 600  # seconds: the seed's product TTL
KV_MAX_KEY_BYTES = 512  # a longer key (a long search) is not cached
LISTS_GENERATION = "generation:products"


def list_key(page: int, limit: int, category: str | None, search: str | None) -> str:
    """The seed's key of a product list page."""
    return f"products:{page}:{limit}:{category or 'all'}:{search or 'none'}"


def product_key(product_id: int) -> str:
    """The seed's key of one product."""
    return f"product:{product_id}"


def product_generation(product_id: int) -> str:
    return f"generation:product:{product_id}"


@dataclass(frozen=True, slots=True)
class Lookup:
    """A cache read: ``body`` on a hit; on a miss, the generation to stamp the new entry with."""

    key: str
    generation: str
    body: str | None


class ProductCache:
    """Generation-checked reads and writes of the product cache in one KV namespace."""

    def __init__(self, kv: Any) -> None:
        self.kv = kv

    async def lookup(self, key: str, generation_key: str) -> Lookup | None:
        """The entry at ``key`` if its generation is current; None when ``key`` is uncacheable."""
        if len(key.encode()) > KV_MAX_KEY_BYTES:
            return None
        found = await self.kv.getWithMetadata([generation_key, key])
        current = found[generation_key]
        generation = current["value"] if current is not None else ""
        entry = found[key]
        if entry is not None and (entry["metadata"] or {}).get("g") == generation:
            return Lookup(key, generation, entry["value"])
        return Lookup(key, generation, None)

    async def store(self, lookup: Lookup, body: str, ttl: int) -> None:
        """Keep ``body`` for ``ttl`` seconds, stamped with the generation read before the query."""
        await self.kv.put(lookup.key, body, expirationTtl=ttl, metadata={"g": lookup.generation})

    async def invalidate(self, product_ids: Iterable[int]) -> None:
        """After a committed write to these products: every list and their pages are stale."""
        for key in (LISTS_GENERATION, *(product_generation(i) for i in set(product_ids))):
            await self.kv.put(key, secrets.token_hex(8))
