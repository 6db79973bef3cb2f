"""``CartDurableObject``: one shopping cart per user (seed 000), kept in the object's storage.

The cart worker reaches a user's object as ``env.CART.idFromName("cart:" + user_id)`` with the
id the auth helper proved, so nobody can name another user's cart. Each RPC method answers
``{"status", "body"}``; the body of a success is the seed's cart::

    {"items": [{"productId", "name", "price", "quantity", "subtotal"}], "total", "updatedAt"}

Money is integer cents; ``updatedAt`` is epoch milliseconds. Adding or changing a line reads the
product from D1 (it must be on sale, and hold enough inventory for the line's whole quantity),
refreshing the line's name and price; lines hold 1-99 of a product, a cart at most
``MAX_LINES`` lines. Concurrency: storage calls never yield, and every change re-reads the
cart after its D1 await, so concurrent calls of one user never lose an update.

Checkout (for the api worker's ``POST /orders``): ``beginCheckout`` hands out the lines with a
token and holds the cart for ``CHECKOUT_SECONDS`` so a second checkout is refused;
``completeCheckout`` takes the ordered quantities out, ``abortCheckout`` releases it.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from workers import DurableObject

MIN_QUANTITY = 1
MAX_QUANTITY = 99
MAX_LINES = 100
CHECKOUT_SECONDS = 30  # how long an unfinished checkout holds the cart
_CART = "cart"
_CHECKOUT = "checkout"


def cart_stub(namespace: Any, user_id: str) -> Any:
    """The stub of ``user_id``'s cart object (the seed's ``idFromName(`cart:${userId}`)``)."""
    return namespace.get(namespace.idFromName(f"cart:{user_id}"))


def _reply(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"status": status, "body": body}


def _error(status: int, message: str) -> dict[str, Any]:
    return _reply(status, {"error": message})


class CartDurableObject(DurableObject):
    """A user's cart: ``getCart``, ``addItem``, ``updateItem``, ``removeItem``, ``clear``, and
    ``beginCheckout`` / ``completeCheckout`` / ``abortCheckout`` for orders."""

    clock = staticmethod(time.time)  # tests pin it

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    async def _load(self) -> dict[str, Any]:
        stored = await self.ctx.storage.get(_CART)
        if stored is None:
            return {"items": [], "total": 0, "updatedAt": self._now_ms()}
        return dict(stored)

    async def _save(self, cart: dict[str, Any]) -> dict[str, Any]:
        cart["total"] = sum(item["subtotal"] for item in cart["items"])
        cart["updatedAt"] = self._now_ms()
        await self.ctx.storage.put(_CART, cart)
        return _reply(200, cart)

    async def _product(self, product_id: int) -> Any:
        return await self.env.DB.prepare(
            "SELECT id, name, price, inventory_count FROM products WHERE id = ? AND active = 1"
        ).bind(product_id).first()  # fmt: skip

    async def getCart(self) -> dict[str, Any]:
        return _reply(200, await self._load())

    async def addItem(self, product_id: int, quantity: int) -> dict[str, Any]:
        """Add ``quantity`` of a product (to its line, if it has one)."""
        product = await self._product(product_id)
        if product is None:
            return _error(404, "Product not found")
        cart = await self._load()  # after the await: another call may have changed it
        line = _line(cart, product_id)
        return await self._set(cart, product, (line["quantity"] if line else 0) + quantity)

    async def updateItem(self, product_id: int, quantity: int) -> dict[str, Any]:
        """Set the quantity of a line already in the cart."""
        product = await self._product(product_id)
        cart = await self._load()
        if _line(cart, product_id) is None:
            return _error(404, "Item not in cart")
        if product is None:
            return _error(404, "Product not found")
        return await self._set(cart, product, quantity)

    async def _set(self, cart: dict[str, Any], product: Any, quantity: int) -> dict[str, Any]:
        if not MIN_QUANTITY <= quantity <= MAX_QUANTITY:
            return _error(400, f"A cart holds {MIN_QUANTITY} to {MAX_QUANTITY} of a product")
        if product["inventory_count"] < quantity:
            return _error(400, "Insufficient inventory")
        line = _line(cart, product["id"])
        if line is None:
            if len(cart["items"]) >= MAX_LINES:
                return _error(400, f"A cart holds at most {MAX_LINES} different products")
            line = {"productId": product["id"]}
            cart["items"].append(line)
        line.update(name=product["name"], price=product["price"], quantity=quantity,
                    subtotal=quantity * product["price"])  # fmt: skip
        return await self._save(cart)

    async def removeItem(self, product_id: int) -> dict[str, Any]:
        cart = await self._load()
        if _line(cart, product_id) is None:
            return _error(404, "Item not in cart")
        cart["items"] = [item for item in cart["items"] if item["productId"] != product_id]
        return await self._save(cart)

    async def clear(self) -> dict[str, Any]:
        return await self._save({"items": []})

    async def beginCheckout(self) -> dict[str, Any]:
        """The lines to order and a token; 400 empty cart, 409 a checkout already running."""
        cart = await self._load()
        if not cart["items"]:
            return _error(400, "Cart is empty")
        held = await self.ctx.storage.get(_CHECKOUT)
        now = self._now_ms()
        if held is not None and held["expires"] > now:
            return _error(409, "A checkout of this cart is already in progress")
        token = secrets.token_hex(16)
        expires = now + CHECKOUT_SECONDS * 1000
        await self.ctx.storage.put(_CHECKOUT, {"token": token, "expires": expires})
        return _reply(200, {"token": token, "items": cart["items"], "total": cart["total"]})

    async def completeCheckout(self, token: str, ordered: list[list[int]]) -> dict[str, Any]:
        """Take the ordered ``[productId, quantity]`` pairs out of the cart; release it."""
        await self._release(token)
        cart = await self._load()
        taken = dict((int(product), int(quantity)) for product, quantity in ordered)
        kept = []
        for item in cart["items"]:
            left = item["quantity"] - taken.get(item["productId"], 0)
            if left > 0:
                kept.append({**item, "quantity": left, "subtotal": left * item["price"]})
        cart["items"] = kept
        return await self._save(cart)

    async def abortCheckout(self, token: str) -> None:
        await self._release(token)

    async def _release(self, token: str) -> None:
        held = await self.ctx.storage.get(_CHECKOUT)
        if held is not None and held["token"] == token:
            await self.ctx.storage.delete(_CHECKOUT)


def _line(cart: dict[str, Any], product_id: int) -> dict[str, Any] | None:
    return next((item for item in cart["items"] if item["productId"] == product_id), None)
