"""POST /orders from the cart in one all-or-nothing batch; GET /orders, /orders/{id} of the
caller only; concurrent buyers never oversell."""

from __future__ import annotations

import asyncio


async def add(shop, user, product, quantity=1):
    response = await shop.post(
        "/cart/items", user, json={"productId": product["id"], "quantity": quantity}
    )
    assert response.status_code == 200, response.text
    return response.json()


async def inventory(shop, product):
    return (
        await shop.db.prepare("SELECT inventory_count FROM products WHERE id = ?")
        .bind(product["id"])
        .first("inventory_count")
    )


async def counts(shop):
    orders = await shop.db.prepare("SELECT COUNT(*) AS n FROM orders").first("n")
    items = await shop.db.prepare("SELECT COALESCE(SUM(quantity), 0) AS n FROM order_items").first(
        "n"
    )
    return orders, items


async def test_order_from_cart(shop, alice, goods):
    kite, yoyo = goods
    await add(shop, alice, kite, 2)
    cart = await add(shop, alice, yoyo, 3)
    assert cart["total"] == 2 * 1250 + 3 * 399
    response = await shop.post("/orders", alice)
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["status"] == "pending" and order["total"] == cart["total"]
    assert order["item_count"] == 5 and len(order["id"]) == 32
    assert order["items"] == [
        {"product_id": kite["id"], "name": "Kite", "price": 1250, "quantity": 2, "subtotal": 2500},
        {"product_id": yoyo["id"], "name": "Yoyo", "price": 399, "quantity": 3, "subtotal": 1197},
    ]
    assert await inventory(shop, kite) == 3 and await inventory(shop, yoyo) == 197
    assert (await shop.get("/cart", alice)).json()["items"] == []
    assert (await shop.get(f"/orders/{order['id']}", alice)).json() == order
    listed = (await shop.get("/orders", alice)).json()
    assert listed["orders"] == [order]
    assert listed["pagination"] == {"page": 1, "limit": 20, "total": 1, "pages": 1}


async def test_orders_list_newest_first_and_paged(shop, alice, goods):
    kite, _ = goods
    ids = []
    for _ in range(3):
        await add(shop, alice, kite)
        ids.append((await shop.post("/orders", alice)).json()["id"])
    page = (await shop.get("/orders?limit=2", alice)).json()
    assert [o["id"] for o in page["orders"]] == ids[::-1][:2]
    assert page["pagination"]["pages"] == 2
    assert [
        o["id"] for o in (await shop.get("/orders?limit=2&page=2", alice)).json()["orders"]
    ] == ids[:1]
    assert (await shop.get("/orders?limit=500", alice)).status_code == 400


async def test_nobody_sees_another_users_orders(shop, alice, bob, goods):
    kite, _ = goods
    await add(shop, alice, kite)
    order = (await shop.post("/orders", alice)).json()
    theirs = await shop.get(f"/orders/{order['id']}", bob)
    assert (theirs.status_code, theirs.json()) == (404, {"error": "Order not found"})
    assert (await shop.get("/orders", bob)).json()["orders"] == []
    admin = await shop.user(role="admin")
    assert (await shop.get(f"/orders/{order['id']}", admin)).status_code == 404
    for path in ["/orders", f"/orders/{order['id']}"]:
        anonymous = await shop.get(path)
        assert (anonymous.status_code, anonymous.json()) == (
            401,
            {"error": "Authentication required"},
        )
    assert (await shop.post("/orders")).status_code == 401
    for junk in ["nope", "0" * 32 + "0", order["id"].upper(), "../" + order["id"]]:
        assert (await shop.get(f"/orders/{junk}", alice)).status_code == 404


async def test_empty_cart(shop, alice):
    response = await shop.post("/orders", alice)
    assert (response.status_code, response.json()) == (400, {"error": "Cart is empty"})
    assert await counts(shop) == (0, 0)


async def test_a_failed_line_fails_the_whole_order(shop, admin, alice, goods):
    kite, yoyo = goods
    await add(shop, alice, yoyo, 2)
    await add(shop, alice, kite, 5)
    await (
        shop.db.prepare("UPDATE products SET inventory_count = 4 WHERE id = ?")
        .bind(kite["id"])
        .run()
    )
    response = await shop.post("/orders", alice)
    assert response.status_code == 409
    assert response.json() == {
        "error": "Some items cannot be ordered",
        "items": [
            {
                "productId": kite["id"],
                "name": "Kite",
                "reason": "insufficient_inventory",
                "available": 4,
            }
        ],
    }
    assert await counts(shop) == (0, 0)
    assert await inventory(shop, yoyo) == 200 and await inventory(shop, kite) == 4  # untouched
    assert len((await shop.get("/cart", alice)).json()["items"]) == 2  # the cart is kept
    fixed = await shop.put(f"/cart/items/{kite['id']}", alice, json={"quantity": 4})
    assert fixed.status_code == 200
    assert (await shop.post("/orders", alice)).status_code == 201  # released, and it works now


async def test_repriced_and_withdrawn_products(shop, admin, alice, goods):
    kite, yoyo = goods
    await add(shop, alice, kite)
    await add(shop, alice, yoyo)
    await shop.put(f"/products/{kite['id']}", admin, json={"price": 1500})
    await shop.put(f"/products/{yoyo['id']}", admin, json={"active": False})
    response = await shop.post("/orders", alice)
    assert response.status_code == 409
    assert response.json()["items"] == [
        {"productId": kite["id"], "name": "Kite", "reason": "price_changed", "price": 1500},
        {"productId": yoyo["id"], "name": "Yoyo", "reason": "unavailable"},
    ]
    assert await counts(shop) == (0, 0)
    updated = await shop.put(f"/cart/items/{kite['id']}", alice, json={"quantity": 1})
    assert updated.json()["items"][0]["price"] == 1500  # the line takes the new price
    await shop.delete(f"/cart/items/{yoyo['id']}", alice)
    order = await shop.post("/orders", alice)
    assert order.status_code == 201 and order.json()["total"] == 1500


async def test_a_double_submit_orders_once(shop, alice, goods):
    kite, _ = goods
    await add(shop, alice, kite, 2)
    first, second = await asyncio.gather(shop.post("/orders", alice), shop.post("/orders", alice))
    statuses = sorted([first.status_code, second.status_code])
    assert statuses in ([201, 409], [201, 400]), (first.text, second.text)
    assert await counts(shop) == (1, 2)
    assert await inventory(shop, kite) == 3


async def test_twenty_concurrent_buyers_for_five_items_never_oversell(shop, goods):
    kite, _ = goods  # five in stock
    buyers = [await shop.user(name=f"Buyer {n}") for n in range(20)]
    for buyer in buyers:
        await add(shop, buyer, kite)  # each cart holds one: stock allows it at this point
    responses = await asyncio.gather(*(shop.post("/orders", b) for b in buyers))
    statuses = [r.status_code for r in responses]
    assert statuses.count(201) == 5 and statuses.count(409) == 15, statuses
    for refused in (r for r in responses if r.status_code == 409):
        assert refused.json()["items"][0]["reason"] == "insufficient_inventory"
    assert await inventory(shop, kite) == 0
    assert await counts(shop) == (5, 5)
    winners = {r.json()["id"] for r in responses if r.status_code == 201}
    owners = await shop.db.prepare("SELECT DISTINCT user_id FROM orders").raw()
    assert len(winners) == len(owners) == 5
    page = (await shop.get(f"/products/{kite['id']}")).json()
    assert page["inventory_count"] == 0


async def test_concurrent_buyers_of_several_products(shop, admin, goods):
    """Each buyer wants two products; stock runs out of one of them first. Whatever the
    interleaving, stock never goes below zero and every order holds both of its lines."""
    kite, yoyo = goods  # 5 kites, 200 yoyos
    buyers = [await shop.user() for _ in range(12)]
    for buyer in buyers:
        await add(shop, buyer, yoyo)
        await add(shop, buyer, kite)
    responses = await asyncio.gather(*(shop.post("/orders", b) for b in buyers))
    assert [r.status_code for r in responses].count(201) == 5
    assert await inventory(shop, kite) == 0 and await inventory(shop, yoyo) == 195
    assert await counts(shop) == (5, 10)
