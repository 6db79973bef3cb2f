"""The cart worker over HTTP: every route, totals in cents, bounds, D1 checks, isolation."""

from __future__ import annotations

import asyncio

from tests.api.shop import start_shop
from workers.cart.cart import MAX_LINES, CartDurableObject, cart_stub

AS_JSON = {"content-type": "application/json"}


async def test_every_route(shop, alice, goods):
    kite, yoyo = goods
    empty = await shop.get("/cart", alice)
    assert empty.status_code == 200
    assert empty.json()["items"] == [] and empty.json()["total"] == 0
    assert isinstance(empty.json()["updatedAt"], int)

    added = await shop.post("/cart/items", alice, json={"productId": kite["id"], "quantity": 2})
    assert added.status_code == 200
    assert added.json()["items"] == [
        {"productId": kite["id"], "name": "Kite", "price": 1250, "quantity": 2, "subtotal": 2500}
    ]
    one_more = await shop.post("/cart/items", alice, json={"productId": kite["id"]})  # default 1
    assert one_more.json()["items"][0]["quantity"] == 3
    both = await shop.post("/cart/items", alice, json={"productId": yoyo["id"], "quantity": 10})
    assert both.json()["total"] == 3 * 1250 + 10 * 399

    changed = await shop.put(f"/cart/items/{yoyo['id']}", alice, json={"quantity": 1})
    assert changed.status_code == 200 and changed.json()["total"] == 3 * 1250 + 399
    assert (await shop.get("/cart", alice)).json() == changed.json()

    removed = await shop.delete(f"/cart/items/{kite['id']}", alice)
    assert removed.status_code == 200
    assert [i["productId"] for i in removed.json()["items"]] == [yoyo["id"]]
    assert removed.json()["total"] == 399

    cleared = await shop.delete("/cart", alice)
    assert (
        cleared.status_code == 200
        and cleared.json()["items"] == []
        and cleared.json()["total"] == 0
    )
    assert (await shop.get("/cart", alice)).json()["items"] == []


async def test_the_object_is_the_users_own(shop, alice, goods):
    kite, _ = goods
    await shop.post("/cart/items", alice, json={"productId": kite["id"]})
    stub = cart_stub(shop.h.env("cart").CART, alice.id)
    assert stub.id == shop.h.env("cart").CART.idFromName(f"cart:{alice.id}")
    reply = await stub.getCart()
    assert reply["body"]["items"][0]["productId"] == kite["id"]


async def test_users_never_see_or_change_each_others_carts(shop, alice, bob, goods):
    kite, yoyo = goods
    await shop.post("/cart/items", alice, json={"productId": kite["id"], "quantity": 2})
    await shop.post("/cart/items", bob, json={"productId": yoyo["id"]})
    assert [i["productId"] for i in (await shop.get("/cart", bob)).json()["items"]] == [yoyo["id"]]
    # bob can only ever name lines of his own cart
    assert (
        await shop.put(f"/cart/items/{kite['id']}", bob, json={"quantity": 1})
    ).status_code == 404
    assert (await shop.delete(f"/cart/items/{kite['id']}", bob)).status_code == 404
    await shop.delete("/cart", bob)
    assert (await shop.get("/cart", alice)).json()["items"][0]["quantity"] == 2
    # identity comes only from the credentials: a user id in the body or query changes nothing
    await shop.post(
        "/cart/items?userId=" + alice.id, bob, json={"productId": yoyo["id"], "userId": alice.id}
    )
    assert [i["productId"] for i in (await shop.get("/cart", alice)).json()["items"]] == [
        kite["id"]
    ]


async def test_anonymous_callers_are_refused(shop, goods):
    kite, _ = goods
    for method, path, body in [
        ("GET", "/cart", None),
        ("DELETE", "/cart", None),
        ("POST", "/cart/items", {"productId": kite["id"]}),
        ("PUT", f"/cart/items/{kite['id']}", {"quantity": 1}),
        ("DELETE", f"/cart/items/{kite['id']}", None),
    ]:
        response = await shop.request(method, path, json=body)
        assert (response.status_code, response.json()) == (
            401,
            {"error": "Authentication required"},
        )
        assert response.headers["www-authenticate"] == "Bearer"
        bad = await shop.request(method, path, headers={"authorization": "Bearer nope"}, json=body)
        assert bad.status_code == 401


async def test_quantities_are_bounded(shop, alice, goods):
    _, yoyo = goods
    path = "/cart/items"
    for quantity, message in [
        (0, "quantity must be between 1 and 99"),
        (-1, "quantity must be between 1 and 99"),
        (100, "quantity must be between 1 and 99"),
        (10**20, "quantity must be between 1 and 99"),
        ("2", "quantity must be an integer"),
        (2.5, "quantity must be an integer"),
        (True, "quantity must be an integer"),
        ([1], "quantity must be an integer"),
    ]:
        response = await shop.post(
            path, alice, json={"productId": yoyo["id"], "quantity": quantity}
        )
        assert (response.status_code, response.json()) == (400, {"error": message}), quantity
    await shop.post(path, alice, json={"productId": yoyo["id"], "quantity": 99})
    over = await shop.post(path, alice, json={"productId": yoyo["id"]})
    assert (over.status_code, over.json()) == (400, {"error": "A cart holds 1 to 99 of a product"})
    for quantity in (0, 100, "1", None):
        response = await shop.put(f"/cart/items/{yoyo['id']}", alice, json={"quantity": quantity})
        assert response.status_code == 400
    missing = await shop.put(f"/cart/items/{yoyo['id']}", alice, json={})
    assert missing.json() == {"error": "quantity is required"}
    assert (await shop.get("/cart", alice)).json()["items"][0]["quantity"] == 99


async def test_products_are_checked_in_d1(shop, admin, alice, goods):
    kite, _ = goods
    unknown = await shop.post("/cart/items", alice, json={"productId": 424242})
    assert (unknown.status_code, unknown.json()) == (404, {"error": "Product not found"})
    short = await shop.post("/cart/items", alice, json={"productId": kite["id"], "quantity": 6})
    assert (short.status_code, short.json()) == (400, {"error": "Insufficient inventory"})
    await shop.post("/cart/items", alice, json={"productId": kite["id"], "quantity": 4})
    beyond = await shop.post("/cart/items", alice, json={"productId": kite["id"], "quantity": 2})
    assert beyond.json() == {"error": "Insufficient inventory"}  # 4 + 2 > 5 in stock
    assert (
        await shop.put(f"/cart/items/{kite['id']}", alice, json={"quantity": 6})
    ).status_code == 400
    await shop.put(f"/products/{kite['id']}", admin, json={"active": False})
    withdrawn = await shop.post("/cart/items", alice, json={"productId": kite["id"]})
    assert (withdrawn.status_code, withdrawn.json()) == (404, {"error": "Product not found"})
    assert (
        await shop.put(f"/cart/items/{kite['id']}", alice, json={"quantity": 1})
    ).status_code == 404
    assert (await shop.get("/cart", alice)).json()["items"][0]["quantity"] == 4


async def test_bad_bodies_and_ids(shop, alice, goods):
    kite, _ = goods
    cases = [
        (dict(content=b"{", headers=AS_JSON), 400, "Malformed JSON body"),
        (dict(content=b"[1]", headers=AS_JSON), 400, "The body must be a JSON object"),
        (dict(data={"productId": "1"}), 415, "Content-Type must be application/json"),
        (dict(json={}), 400, "productId is required"),
        (dict(json={"productId": "1"}), 400, "productId must be an integer"),
        (dict(json={"productId": 0}), 400, f"productId must be between 1 and {2**53 - 1}"),
        (dict(json={"productId": 2**60}), 400, f"productId must be between 1 and {2**53 - 1}"),
        (
            dict(json={"productId": kite["id"], "pad": "x" * 5000}),
            413,
            "Request body is larger than 4096 bytes",
        ),
    ]
    for kwargs, status, message in cases:
        response = await shop.post("/cart/items", alice, **kwargs)
        assert (response.status_code, response.json()) == (status, {"error": message}), kwargs
    for path in [
        "/cart/items/abc",
        "/cart/items/0",
        "/cart/items/99999999999999999999",
        "/cart/items/-1",
    ]:
        response = await shop.put(path, alice, json={"quantity": 1})
        assert (response.status_code, response.json()) == (404, {"error": "Item not found"}), path
        assert (await shop.delete(path, alice)).status_code == 404
    assert (await shop.delete(f"/cart/items/{kite['id']}", alice)).json() == {
        "error": "Item not in cart"
    }
    assert (await shop.get("/cart/nope", alice)).status_code == 404
    assert (await shop.request("PATCH", "/cart", alice)).status_code == 405


async def test_cart_size_is_bounded(shop, admin, alice, monkeypatch):
    monkeypatch.setattr("workers.cart.cart.MAX_LINES", 3)
    category = await shop.category(admin)
    made = [await shop.product(admin, category) for _ in range(4)]
    for product in made[:3]:
        assert (
            await shop.post("/cart/items", alice, json={"productId": product["id"]})
        ).status_code == 200
    full = await shop.post("/cart/items", alice, json={"productId": made[3]["id"]})
    assert (full.status_code, full.json()) == (
        400,
        {"error": "A cart holds at most 3 different products"},
    )
    assert MAX_LINES == 100


async def test_concurrent_adds_lose_nothing(shop, alice, goods):
    _, yoyo = goods
    responses = await asyncio.gather(
        *(
            shop.post("/cart/items", alice, json={"productId": yoyo["id"], "quantity": 2})
            for _ in range(30)
        )
    )
    assert all(r.status_code == 200 for r in responses)
    assert (await shop.get("/cart", alice)).json()["items"][0]["quantity"] == 60


async def test_the_cart_survives_a_restart(hearth, tmp_path):
    shop = await start_shop(hearth, tmp_path)
    admin, alice = await shop.user(role="admin"), await shop.user()
    kite = await shop.product(admin, await shop.category(admin))
    await shop.post("/cart/items", alice, json={"productId": kite["id"], "quantity": 3})
    await shop.h.aclose()
    again = await start_shop(hearth, tmp_path)
    assert (await again.get("/cart", alice)).json()["items"][0]["quantity"] == 3


async def test_an_abandoned_checkout_expires(shop, alice, goods, monkeypatch):
    kite, _ = goods
    await shop.post("/cart/items", alice, json={"productId": kite["id"]})
    stub = cart_stub(shop.h.env("cart").CART, alice.id)
    now = [1_000_000.0]
    monkeypatch.setattr(CartDurableObject, "clock", staticmethod(lambda: now[0]))
    held = await stub.beginCheckout()
    assert held["status"] == 200
    assert (await shop.post("/orders", alice)).status_code == 409  # still held
    now[0] += 31  # the process that began it died; after 30 s the cart is free again
    assert (await shop.post("/orders", alice)).status_code == 201
    await stub.completeCheckout(held["body"]["token"], [[kite["id"], 1]])  # late: harmless
    assert (await shop.get("/cart", alice)).json()["items"] == []
