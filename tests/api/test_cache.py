"""The product cache in KV: the seed's keys and TTLs, hits, and invalidation by every write."""

from __future__ import annotations

import pytest

from workers.api.cache import (
    DETAIL_TTL,
    LIST_TTL,
    LISTS_GENERATION,
    ProductCache,
    list_key,
    product_generation,
    product_key,
)


@pytest.fixture
async def stocked(shop, admin):
    category = await shop.category(admin)
    first = await shop.product(admin, category, name="Red Kite", price=1500, inventory_count=3)
    second = await shop.product(admin, category, name="Blue Kite", price=900)
    return category, first, second


async def cached_get(shop, path):
    """GET ``path`` once to fill the cache, let the write finish, then GET it again."""
    await shop.get(path)
    await shop.settle()
    return await shop.get(path)


async def test_seed_keys_and_ttls(shop, stocked):
    _, first, _ = stocked
    await shop.get("/products?page=1&limit=5&category=shoes&search=kite")
    await shop.get(f"/products/{first['id']}")
    await shop.get("/products")
    await shop.settle()
    listed = await shop.api.CACHE.list(prefix="product")
    names = {key["name"]: key for key in listed["keys"]}
    assert set(names) == {
        "products:1:5:shoes:kite",
        "products:1:20:all:none",
        f"product:{first['id']}",
    }
    now = shop.h.runtime.clock()
    assert names["products:1:20:all:none"]["expiration"] == pytest.approx(now + LIST_TTL, abs=2)
    assert names[f"product:{first['id']}"]["expiration"] == pytest.approx(now + DETAIL_TTL, abs=2)
    page = await shop.api.CACHE.get(f"product:{first['id']}", "json")
    assert page["name"] == "Red Kite"  # the response body itself


async def test_hits_serve_the_stored_body(shop, stocked):
    _, first, _ = stocked
    for path in ["/products", f"/products/{first['id']}", "/products?search=kite&limit=1"]:
        miss = await shop.get(path)
        assert miss.headers["x-cache"] == "MISS"
        await shop.settle()
        hit = await shop.get(path)
        assert hit.headers["x-cache"] == "HIT" and hit.content == miss.content
        assert hit.headers["content-type"] == "application/json"


async def test_every_write_is_seen_at_once(shop, admin, alice, stocked):
    category, first, _ = stocked
    detail, listing = f"/products/{first['id']}", "/products"
    assert (await cached_get(shop, detail)).headers["x-cache"] == "HIT"
    assert (await cached_get(shop, listing)).headers["x-cache"] == "HIT"

    # update
    await shop.put(detail, admin, json={"price": 1700, "name": "Crimson Kite"})
    page = await shop.get(detail)
    assert page.headers["x-cache"] == "MISS" and page.json()["price"] == 1700
    assert (await shop.get(listing)).json()["products"][1]["name"] == "Crimson Kite"
    await shop.settle()

    # a review changes the aggregates
    await shop.post(f"{detail}/reviews", alice, json={"rating": 4})
    assert (await shop.get(detail)).json()["review_count"] == 1
    assert (await shop.get(listing)).json()["products"][1]["avg_rating"] == 4
    await shop.settle()

    # an order changes the inventory
    await shop.post("/cart/items", alice, json={"productId": first["id"], "quantity": 2})
    assert (await shop.post("/orders", alice)).status_code == 201
    assert (await shop.get(detail)).json()["inventory_count"] == 1
    assert (await shop.get(listing)).json()["products"][1]["inventory_count"] == 1
    await shop.settle()

    # create
    third = await shop.product(admin, category, name="Green Kite")
    assert (await shop.get(listing)).json()["products"][0]["id"] == third["id"]

    # deactivation
    await shop.put(detail, admin, json={"active": False})
    assert (await shop.get(detail)).status_code == 404
    assert first["id"] not in [p["id"] for p in (await shop.get(listing)).json()["products"]]


async def test_a_product_page_survives_writes_to_other_products(shop, admin, stocked):
    _, first, second = stocked
    assert (await cached_get(shop, f"/products/{first['id']}")).headers["x-cache"] == "HIT"
    await shop.put(f"/products/{second['id']}", admin, json={"price": 1})
    assert (await shop.get(f"/products/{first['id']}")).headers["x-cache"] == "HIT"
    assert (await shop.get("/products")).headers["x-cache"] == "MISS"


async def test_a_reader_that_raced_a_write_never_serves_its_stale_entry(shop, stocked):
    """A reader looks up (generation G), the write commits and retires G, then the reader
    stores what it computed before the write: the entry is there, but never served."""
    _, first, _ = stocked
    cache = ProductCache(shop.api.CACHE)
    key, generation = product_key(first["id"]), product_generation(first["id"])
    reader = await cache.lookup(key, generation)
    assert reader.body is None
    await cache.invalidate([first["id"]])
    await cache.store(reader, '{"stale": true}', DETAIL_TTL)
    assert await shop.api.CACHE.get(key) == '{"stale": true}'
    assert (await cache.lookup(key, generation)).body is None
    response = await shop.get(f"/products/{first['id']}")
    assert response.headers["x-cache"] == "MISS" and "stale" not in response.json()
    lists = await cache.lookup(list_key(1, 20, None, None), LISTS_GENERATION)
    await cache.invalidate([])
    await cache.store(lists, "[]", LIST_TTL)
    assert (await cache.lookup(lists.key, LISTS_GENERATION)).body is None


async def test_uncacheable_keys_are_answered_uncached(shop, stocked):
    long_search = "漢字" * 100  # 200 characters (allowed), 600 bytes: too long for a KV key
    first = await shop.get(f"/products?search={long_search}")
    assert first.status_code == 200 and first.json()["products"] == []
    await shop.settle()
    assert (await shop.api.CACHE.list(prefix="products:"))["keys"] == []
