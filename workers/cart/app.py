"""The cart worker: ``/cart`` routes, each forwarded to the caller's ``CartDurableObject``.

| route | body | answer |
|---|---|---|
| ``GET /cart`` | | the cart |
| ``POST /cart/items`` | ``{productId, quantity = 1}`` | the cart (404 unknown product, 400 stock) |
| ``PUT /cart/items/{productId}`` | ``{quantity}`` | the cart (404 not in cart) |
| ``DELETE /cart/items/{productId}`` | | the cart (404 not in cart) |
| ``DELETE /cart`` | | the empty cart |

The caller must be signed in (401 otherwise); the object is ``idFromName("cart:" + user_id)``
of the id the auth helper proved, so a user can only ever reach their own cart.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from workers import asgi
from workers.api.monitor import PerformanceMonitor
from workers.auth.client import exception_handlers as auth_errors
from workers.auth.client import require_user
from workers.cart.cart import MAX_QUANTITY, MIN_QUANTITY, CartDurableObject, cart_stub
from workers.common import fields
from workers.common.http import exception_handlers, json_object

__all__ = ["CartDurableObject", "Default", "app"]

MAX_BODY_BYTES = 4 * 1024


async def _cart(request: Request) -> Any:
    user = await require_user(request)
    return cart_stub(request.scope["env"].CART, user.user_id)


def _answer(reply: dict[str, Any]) -> JSONResponse:
    return JSONResponse(reply["body"], status_code=reply["status"])


def _quantity(body: dict[str, Any], default: Any = fields.MISSING) -> int:
    value = body.get("quantity", fields.MISSING)
    return int(fields.integer(value, "quantity", MIN_QUANTITY, MAX_QUANTITY, default=default))


async def get_cart(request: Request) -> JSONResponse:
    return _answer(await (await _cart(request)).getCart())


async def add_item(request: Request) -> JSONResponse:
    cart = await _cart(request)
    body = await json_object(request, MAX_BODY_BYTES)
    product = fields.integer(body.get("productId", fields.MISSING), "productId", 1, fields.MAX_ID)
    return _answer(await cart.addItem(product, _quantity(body, default=1)))


async def update_item(request: Request) -> JSONResponse:
    cart = await _cart(request)
    product = fields.path_id(request.path_params["productId"], "Item")
    body = await json_object(request, MAX_BODY_BYTES)
    return _answer(await cart.updateItem(product, _quantity(body)))


async def remove_item(request: Request) -> JSONResponse:
    cart = await _cart(request)
    product = fields.path_id(request.path_params["productId"], "Item")
    return _answer(await cart.removeItem(product))


async def clear_cart(request: Request) -> JSONResponse:
    return _answer(await (await _cart(request)).clear())


app = Starlette(
    routes=[
        Route("/cart", get_cart, methods=["GET"]),
        Route("/cart", clear_cart, methods=["DELETE"]),
        Route("/cart/items", add_item, methods=["POST"]),
        Route("/cart/items/{productId}", update_item, methods=["PUT"]),
        Route("/cart/items/{productId}", remove_item, methods=["DELETE"]),
    ],
    middleware=[Middleware(PerformanceMonitor, worker="cart")],
    exception_handlers={**exception_handlers, **auth_errors},
)
Default = asgi.entrypoint(app)
