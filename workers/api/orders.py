"""Orders: placed from the caller's cart in one all-or-nothing D1 batch; read back by their owner.

**Placing an order** (``POST /orders``):

1. The cart's ``beginCheckout()`` (RPC to the caller's CartDurableObject) returns its lines and
   a checkout token, and refuses a second checkout of the same cart while one is running, so a
   double click cannot order twice.
2. One ``db.batch()`` — one SQLite transaction — inserts the order, then for each line runs
   ``UPDATE products SET inventory_count = inventory_count - q WHERE id = ? AND active = 1 AND
   price = <cart price> AND inventory_count >= q`` followed at once by the line's insert, whose
   quantity is ``CASE changes() WHEN 1 THEN q ELSE 0 END``. When the conditional update changed
   no row (sold out, no longer on sale, or repriced since it was put in the cart) the line's
   quantity is 0, its ``stock_reserved`` CHECK fails, and the whole batch rolls back: no
   inventory is taken and no order exists. ``CHECK (inventory_count >= 0)`` on products holds
   the same line a second time. Transactions are serialised by SQLite (``BEGIN IMMEDIATE``, in
   one process and across processes), so concurrent buyers can never oversell.
3. On success ``completeCheckout(token, lines)`` takes the ordered quantities out of the cart
   (whatever was added meanwhile stays) and the touched products' cache entries are retired.
   On failure ``abortCheckout(token)`` releases the cart and the caller gets 409 with what
   went wrong per line.

Customers pay the cart's prices, which the batch checks against the catalogue's.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from typing import Any

from bindings.d1.errors import D1Error
from workers.api.cache import ProductCache
from workers.cart.cart import cart_stub
from workers.common.pagination import Page

log = logging.getLogger("hearth.api")

_RESERVE = (
    "UPDATE products SET inventory_count = inventory_count - ?1,"
    " updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
    " WHERE id = ?2 AND active = 1 AND price = ?3 AND inventory_count >= ?1"
)
# Must follow its _RESERVE directly: changes() is the number of rows that update changed.
_LINE = (
    "INSERT INTO order_items (order_id, product_id, name, price, quantity)"
    " VALUES (?1, ?2, (SELECT name FROM products WHERE id = ?2), ?3,"
    " CASE changes() WHEN 1 THEN ?4 ELSE 0 END)"
)
_ORDER_COLUMNS = "id, status, total, item_count, created_at, updated_at"


class OrderRefused(Exception):
    """The order could not be placed; ``status`` and ``body`` are the answer."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("error"))
        self.status = status
        self.body = body


def new_order_id() -> str:
    return uuid.uuid4().hex


async def place_order(env: Any, user_id: str) -> dict[str, Any]:
    """Order the caller's cart (see the module docstring); the order, or OrderRefused."""
    stub = cart_stub(env.CART, user_id)
    checkout = await stub.beginCheckout()
    if checkout["status"] != 200:
        raise OrderRefused(checkout["status"], checkout["body"])
    token = checkout["body"]["token"]
    lines: list[dict[str, Any]] = checkout["body"]["items"]
    order_id = new_order_id()
    try:
        await _write(env.DB, order_id, user_id, lines)
    except Exception as exc:
        await stub.abortCheckout(token)
        if isinstance(exc, D1Error):
            raise await _refusal(env.DB, lines, exc) from None
        raise
    # The order is committed: from here on nothing may turn it into an error response (a
    # client told "failed" would order again). A cart left full is released by the lock's
    # expiry; a cache not retired is the one thing that can then be stale, and is logged.
    try:
        ordered = [[line["productId"], line["quantity"]] for line in lines]
        await stub.completeCheckout(token, ordered)
    except Exception:
        log.exception("order %s placed, but its cart was not emptied", order_id)
    try:
        await ProductCache(env.CACHE).invalidate(line["productId"] for line in lines)
    except Exception:
        log.exception("order %s placed, but the product cache was not invalidated", order_id)
    order = await get_order(env.DB, user_id, order_id)
    assert order is not None
    return order


async def _write(db: Any, order_id: str, user_id: str, lines: Sequence[dict[str, Any]]) -> None:
    total = sum(line["price"] * line["quantity"] for line in lines)
    count = sum(line["quantity"] for line in lines)
    statements = [
        db.prepare(
            "INSERT INTO orders (id, user_id, status, total, item_count) VALUES (?, ?, ?, ?, ?)"
        ).bind(order_id, user_id, "pending", total, count)
    ]
    for line in lines:
        product, quantity, price = line["productId"], line["quantity"], line["price"]
        statements.append(db.prepare(_RESERVE).bind(quantity, product, price))
        statements.append(db.prepare(_LINE).bind(order_id, product, price, quantity))
    await db.batch(statements)


async def _refusal(db: Any, lines: Sequence[dict[str, Any]], exc: D1Error) -> Exception:
    """Why the batch failed, per line (read after the rollback), as a 409 OrderRefused."""
    message = str(exc)
    if "FOREIGN KEY constraint failed" in message:  # orders.user_id: the account is gone
        return OrderRefused(401, {"error": "Authentication required"})
    if "stock_reserved" not in message and "inventory_count" not in message:
        return exc
    ids = [line["productId"] for line in lines]
    rows = await db.prepare(
        "SELECT id, price, inventory_count, active FROM products"
        " WHERE id IN (SELECT value FROM json_each(?))"
    ).bind(json.dumps(ids)).all()  # fmt: skip
    current = {row["id"]: row for row in rows["results"]}
    problems = []
    for line in lines:
        row = current.get(line["productId"])
        problem: dict[str, Any] = {"productId": line["productId"], "name": line["name"]}
        if row is None or not row["active"]:
            problem["reason"] = "unavailable"
        elif row["price"] != line["price"]:
            problem.update(reason="price_changed", price=row["price"])
        elif row["inventory_count"] < line["quantity"]:
            problem.update(reason="insufficient_inventory", available=row["inventory_count"])
        else:
            continue
        problems.append(problem)
    return OrderRefused(409, {"error": "Some items cannot be ordered", "items": problems})


async def list_orders(db: Any, user_id: str, page: Page) -> tuple[list[dict[str, Any]], int]:
    """The caller's orders, newest first, with their items; and how many there are."""
    orders, count = await db.batch([
        db.prepare(
            f"SELECT {_ORDER_COLUMNS} FROM orders WHERE user_id = ?"  # noqa: S608 - constant
            " ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?"  # rowid: insertion order
        ).bind(user_id, page.limit, page.offset),
        db.prepare("SELECT COUNT(*) AS total FROM orders WHERE user_id = ?").bind(user_id),
    ])  # fmt: skip
    found = [dict(row) for row in orders["results"]]
    if found:
        items = await db.prepare(
            "SELECT order_id, product_id, name, price, quantity, price * quantity AS subtotal"
            " FROM order_items WHERE order_id IN (SELECT value FROM json_each(?)) ORDER BY id"
        ).bind(json.dumps([o["id"] for o in found])).all()  # fmt: skip
        by_order: dict[str, list[dict[str, Any]]] = {o["id"]: [] for o in found}
        for item in items["results"]:
            by_order[item.pop("order_id")].append(item)
        for order in found:
            order["items"] = by_order[order["id"]]
    return found, int(count["results"][0]["total"])


async def get_order(db: Any, user_id: str, order_id: str) -> dict[str, Any] | None:
    """One of the caller's orders with its items; None when it is not theirs or not there."""
    order, items = await db.batch([
        db.prepare(
            f"SELECT {_ORDER_COLUMNS} FROM orders WHERE id = ? AND user_id = ?"  # noqa: S608 - constant
        ).bind(order_id, user_id),
        db.prepare(
            "SELECT product_id, name, price, quantity, price * quantity AS subtotal"
            " FROM order_items WHERE order_id = ? AND EXISTS"
            " (SELECT 1 FROM orders WHERE id = ? AND user_id = ?) ORDER BY id"
        ).bind(order_id, order_id, user_id),
    ])  # fmt: skip
    if not order["results"]:
        return None
    return {**order["results"][0], "items": items["results"]}
