"""``/orders``: place an order from the caller's cart; the caller's own orders only."""

from __future__ import annotations

import re

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from workers.api import catalog, orders
from workers.auth.client import require_user
from workers.common.pagination import page_params

_ORDER_ID = re.compile(r"[0-9a-f]{32}")


async def create_order(request: Request) -> JSONResponse:
    user = await require_user(request)
    try:
        order = await orders.place_order(request.scope["env"], user.user_id)
    except orders.OrderRefused as refused:
        return JSONResponse(refused.body, status_code=refused.status)
    return JSONResponse(order, status_code=201)


async def list_orders(request: Request) -> JSONResponse:
    user = await require_user(request)
    page = page_params(request.query_params, default_limit=20, max_limit=100)
    found, total = await orders.list_orders(request.scope["env"].DB, user.user_id, page)
    return JSONResponse({"orders": found, "pagination": catalog.pagination(page, total)})


async def get_order(request: Request) -> JSONResponse:
    user = await require_user(request)
    order_id = request.path_params["id"]
    order = None
    if _ORDER_ID.fullmatch(order_id):
        order = await orders.get_order(request.scope["env"].DB, user.user_id, order_id)
    if order is None:  # someone else's order is "not found" too: ids reveal nothing
        raise HTTPException(404, "Order not found")
    return JSONResponse(order)
