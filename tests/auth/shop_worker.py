"""A stand-in for the apps that call the auth worker (api, cart, ...): it only asks who calls.
Served under any first path segment, so one module can be mounted as several workers."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute

from workers.auth.client import (
    current_user,
    exception_handlers,
    require_role,
    require_scope,
    require_user,
)


async def me(request):
    user = await current_user(request)
    return JSONResponse(user.to_dict() if user else None)


async def admin_only(request):
    user = await require_role(request, "admin")
    return JSONResponse({"admin": user.email})


async def write_products(request):
    user = await require_scope(request, "products:write")
    return JSONResponse({"wrote": user.email})


async def socket(websocket):
    user = await require_user(websocket)
    await websocket.accept()
    await websocket.send_json({"user": user.email, "via": user.via})
    await websocket.close()


app = Starlette(
    routes=[
        Route("/{app}/me", me),
        Route("/{app}/admin", admin_only),
        Route("/{app}/products", write_products, methods=["POST"]),
        WebSocketRoute("/{app}/ws", socket),
    ],
    exception_handlers=exception_handlers,
)
