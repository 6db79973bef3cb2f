"""GET /products and GET /products/{id}: pages, filters, product pages, bad input."""

from __future__ import annotations

import pytest


@pytest.fixture
async def catalogue(shop, admin):
    shoes = await shop.category(admin, "Shoes")
    books = await shop.category(admin, "Books")
    made = []
    for n in range(5):
        made.append(await shop.product(admin, shoes, name=f"Shoe {n}", price=1000 + n))
    for n in range(3):
        made.append(await shop.product(admin, books, name=f"Book {n}", description="a good read"))
    return {"shoes": shoes, "books": books, "products": made}


async def test_list_pages_newest_first(shop, catalogue):
    first = await shop.get("/products?limit=3")
    assert first.status_code == 200
    body = first.json()
    ids = [p["id"] for p in catalogue["products"]]
    assert [p["id"] for p in body["products"]] == ids[::-1][:3]
    assert body["pagination"] == {"page": 1, "limit": 3, "total": 8, "pages": 3}
    last = (await shop.get("/products?limit=3&page=3")).json()
    assert [p["id"] for p in last["products"]] == ids[::-1][6:]
    beyond = (await shop.get("/products?limit=3&page=9")).json()
    assert beyond["products"] == [] and beyond["pagination"]["total"] == 8
    product = body["products"][0]
    assert {"category_name", "review_count", "avg_rating", "image_url", "price"} <= set(product)
    assert isinstance(product["price"], int)  # cents


async def test_list_by_category_and_search(shop, catalogue):
    books = (await shop.get("/products?category=books")).json()
    assert {p["name"] for p in books["products"]} == {"Book 0", "Book 1", "Book 2"}
    assert books["pagination"]["total"] == 3
    unknown = (await shop.get("/products?category=nope")).json()
    assert unknown["products"] == [] and unknown["pagination"]["total"] == 0
    found = (await shop.get("/products?search=read")).json()
    assert {p["name"] for p in found["products"]} == {"Book 0", "Book 1", "Book 2"}
    both = (await shop.get("/products?category=shoes&search=shoe 3")).json()
    assert [p["name"] for p in both["products"]] == ["Shoe 3"]


async def test_list_bad_query_parameters(shop, catalogue):
    for query, message in [
        ("limit=101", "limit must be between 1 and 100"),
        ("limit=0", "limit must be between 1 and 100"),
        ("page=0", "page must be between 1 and 1000000"),
        ("page=abc", "page must be an integer"),
        ("limit=99999999999999999999999", "limit must be between 1 and 100"),
        ("search=%22%2A%28", "search must contain a word"),
        ("search=" + "x" * 201, "search must have at most 200 characters"),
        ("category=" + "c" * 101, "category must have at most 100 characters"),
    ]:
        response = await shop.get(f"/products?{query}")
        assert (response.status_code, response.json()) == (400, {"error": message}), query


async def test_product_page(shop, admin, alice, bob, catalogue):
    product = catalogue["products"][0]
    for user, rating in [(alice, 5), (bob, 2)]:
        response = await shop.post(
            f"/products/{product['id']}/reviews", user, json={"rating": rating, "title": "ok"}
        )
        assert response.status_code == 201
    page = await shop.get(f"/products/{product['id']}")
    assert page.status_code == 200
    body = page.json()
    assert body["id"] == product["id"] and body["category_name"] == "Shoes"
    assert body["review_count"] == 2 and body["avg_rating"] == 3.5
    assert [r["user_name"] for r in body["reviews"]] == ["Bob", "Alice"]  # newest first
    assert "user_id" not in body["reviews"][0]
    assert body["images"] == []


async def test_product_page_shows_five_latest_reviews(shop, catalogue):
    product = catalogue["products"][0]
    for n in range(7):
        user = await shop.user(name=f"Reviewer {n}")
        await shop.post(f"/products/{product['id']}/reviews", user, json={"rating": 4})
    body = (await shop.get(f"/products/{product['id']}")).json()
    assert body["review_count"] == 7
    assert [r["user_name"] for r in body["reviews"]] == [f"Reviewer {n}" for n in (6, 5, 4, 3, 2)]


async def test_unknown_and_malformed_ids_are_404(shop, catalogue):
    for path in [
        "/products/999",
        "/products/abc",
        "/products/0",
        "/products/-1",
        "/products/99999999999999999999",
        "/products/1.5",
    ]:
        response = await shop.get(path)
        assert response.status_code == 404, path
        assert response.json() == {"error": "Product not found"}


async def test_inactive_products_are_hidden(shop, admin, catalogue):
    product = catalogue["products"][0]
    response = await shop.put(f"/products/{product['id']}", admin, json={"active": False})
    assert response.status_code == 200 and response.json()["active"] == 0
    assert (await shop.get(f"/products/{product['id']}")).status_code == 404
    listed = (await shop.get("/products?limit=100")).json()
    assert product["id"] not in [p["id"] for p in listed["products"]]
    assert listed["pagination"]["total"] == 7
    back = await shop.put(f"/products/{product['id']}", admin, json={"active": True})
    assert back.status_code == 200
    assert (await shop.get(f"/products/{product['id']}")).status_code == 200


async def test_unknown_routes_and_methods(shop):
    missing = await shop.get("/products/1/nope")
    assert missing.status_code == 404 and missing.json() == {"error": "Not Found"}
    wrong = await shop.delete("/products/1")
    assert wrong.status_code == 405 and "error" in wrong.json()
