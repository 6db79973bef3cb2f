"""The api worker (seed 000's e-commerce API): catalogue, media, orders, search, recommendations.

| route | who | what |
|---|---|---|
| ``GET /products?page&limit&category&search`` | anyone | newest first, KV-cached 5 min |
| ``GET /products/{id}`` | anyone | with images and the 5 latest reviews, KV-cached 10 min |
| ``POST /products`` · ``PUT /products/{id}`` | admin | multipart (``images``) or JSON |
| ``POST /products/{id}/reviews`` | signed in | ``{rating 1-5, title?, body?}``, one per user |
| ``GET /categories`` · ``POST /categories`` | anyone · admin | |
| ``POST /media/upload`` · ``GET /media/{key}`` | signed in · anyone | R2, Range and 304 |
| ``POST /orders`` · ``GET /orders`` · ``GET /orders/{id}`` | signed in | own orders only |
| ``GET /search?q`` · ``GET /recommendations?productId`` | anyone | FTS5 · bought together |

Bindings: ``DB`` (D1 ``hearth``), ``CACHE`` (KV: product cache and metrics), ``STORAGE`` (R2),
``AI``, ``CART`` (the cart worker's CartDurableObject) and ``AUTH`` (the auth worker). See
docs/apps/api-and-cart.md.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from workers import asgi
from workers.api.handlers import categories, discovery, media, orders, products
from workers.api.monitor import PerformanceMonitor
from workers.auth.client import exception_handlers as auth_errors
from workers.common.http import exception_handlers

__all__ = ["Default", "app"]

app = Starlette(
    routes=[
        Route("/products", products.list_products, methods=["GET"]),
        Route("/products", products.create_product, methods=["POST"]),
        Route("/products/{id}", products.get_product, methods=["GET"]),
        Route("/products/{id}", products.update_product, methods=["PUT"]),
        Route("/products/{id}/reviews", products.add_review, methods=["POST"]),
        Route("/categories", categories.list_categories, methods=["GET"]),
        Route("/categories", categories.create_category, methods=["POST"]),
        Route("/media/upload", media.upload, methods=["POST"]),
        Route("/media/{key:path}", media.serve, methods=["GET", "HEAD"]),
        Route("/orders", orders.create_order, methods=["POST"]),
        Route("/orders", orders.list_orders, methods=["GET"]),
        Route("/orders/{id}", orders.get_order, methods=["GET"]),
        Route("/search", discovery.search, methods=["GET"]),
        Route("/recommendations", discovery.recommendations, methods=["GET"]),
    ],
    middleware=[Middleware(PerformanceMonitor, worker="api")],
    exception_handlers={**exception_handlers, **auth_errors},
)
Default = asgi.entrypoint(app)
