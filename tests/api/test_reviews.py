"""POST /products/{id}/reviews: one review per user per product, ratings 1-5."""

from __future__ import annotations

import pytest


@pytest.fixture
async def product(shop, admin):
    return await shop.product(admin, await shop.category(admin), name="Lamp")


async def test_review(shop, alice, product):
    response = await shop.post(
        f"/products/{product['id']}/reviews",
        alice,
        json={"rating": 4, "title": " Nice ", "body": "Bright enough"},
    )
    assert response.status_code == 201
    review = response.json()
    assert review["rating"] == 4 and review["title"] == "Nice" and review["body"] == "Bright enough"
    assert review["user_name"] == "Alice" and review["verified_purchase"] == 0
    assert review["product_id"] == product["id"] and "user_id" not in review


async def test_one_review_per_user_per_product(shop, alice, bob, product):
    path = f"/products/{product['id']}/reviews"
    assert (await shop.post(path, alice, json={"rating": 5})).status_code == 201
    again = await shop.post(path, alice, json={"rating": 1})
    assert (again.status_code, again.json()) == (
        409,
        {"error": "You have already reviewed this product"},
    )
    assert (await shop.post(path, bob, json={"rating": 1})).status_code == 201
    page = (await shop.get(f"/products/{product['id']}")).json()
    assert page["review_count"] == 2 and page["avg_rating"] == 3


async def test_verified_purchase(shop, alice, product):
    await shop.post("/cart/items", alice, json={"productId": product["id"]})
    assert (await shop.post("/orders", alice)).status_code == 201
    review = await shop.post(f"/products/{product['id']}/reviews", alice, json={"rating": 5})
    assert review.json()["verified_purchase"] == 1


async def test_bad_reviews(shop, alice, admin, product):
    path = f"/products/{product['id']}/reviews"
    for body, message in [
        ({}, "rating is required"),
        ({"rating": 0}, "rating must be between 1 and 5"),
        ({"rating": 6}, "rating must be between 1 and 5"),
        ({"rating": -1}, "rating must be between 1 and 5"),
        ({"rating": "5"}, "rating must be an integer"),
        ({"rating": 4.5}, "rating must be an integer"),
        ({"rating": None}, "rating is required"),
        ({"rating": 5, "title": 7}, "title must be a string"),
        ({"rating": 5, "body": "b" * 5001}, "body must have at most 5000 characters"),
    ]:
        response = await shop.post(path, alice, json=body)
        assert (response.status_code, response.json()) == (400, {"error": message}), body
    assert (
        await shop.post(path, alice, content=b"{]", headers={"content-type": "application/json"})
    ).status_code == 400
    anonymous = await shop.post(path, json={"rating": 5})
    assert anonymous.status_code == 401
    for missing in ["/products/424242/reviews", "/products/x/reviews"]:
        response = await shop.post(missing, alice, json={"rating": 5})
        assert (response.status_code, response.json()) == (404, {"error": "Product not found"})
    await shop.put(f"/products/{product['id']}", admin, json={"active": False})
    assert (await shop.post(path, alice, json={"rating": 5})).status_code == 404
    assert await shop.db.prepare("SELECT COUNT(*) AS n FROM reviews").first("n") == 0


async def test_a_token_outliving_its_account(shop, product):
    gone = await shop.user(name="Gone")
    await shop.db.prepare('DELETE FROM "user" WHERE id = ?').bind(gone.id).run()
    response = await shop.post(f"/products/{product['id']}/reviews", gone, json={"rating": 3})
    assert (response.status_code, response.json()) == (401, {"error": "Authentication required"})
    await shop.post("/cart/items", gone, json={"productId": product["id"]})
    order = await shop.post("/orders", gone)
    assert (order.status_code, order.json()) == (401, {"error": "Authentication required"})
