"""``/products``: the list and one product (cached in KV), admin create/update, reviews."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from workers import wait_until
from workers.api import catalog, products
from workers.api.cache import (
    DETAIL_TTL,
    LIST_TTL,
    LISTS_GENERATION,
    ProductCache,
    list_key,
    product_generation,
    product_key,
)
from workers.api.images import Image, check_image, max_bytes
from workers.auth.client import require_role, require_user
from workers.common import fields
from workers.common.http import json_object, limit_body
from workers.common.pagination import page_params

MAX_CATEGORY = 100
FORM_OVERHEAD = 64 * 1024  # multipart boundaries, headers and the text fields
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
REVIEW_BYTES = 16 * 1024
MAX_TITLE = 200
MAX_REVIEW = 5000


def dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def json_text(body: str, status: int = 200, cache: str | None = None) -> Response:
    """A JSON response from text already encoded (a cache hit is served as stored)."""
    headers = {"x-cache": cache} if cache else None
    return Response(body, status, headers=headers, media_type="application/json")


async def _cached(request: Request, key: str, generation: str, ttl: int, compute: Any) -> Response:
    """The seed's read-through cache: the stored body on a hit; else ``compute()`` (None: 404),
    stored after the response."""
    cache = ProductCache(request.scope["env"].CACHE)
    lookup = await cache.lookup(key, generation)
    if lookup is not None and lookup.body is not None:
        return json_text(lookup.body, cache="HIT")
    data = await compute()
    if data is None:
        raise HTTPException(404, "Product not found")
    body = dumps(data)
    if lookup is not None:
        wait_until(cache.store(lookup, body, ttl))
    return json_text(body, cache="MISS")


async def list_products(request: Request) -> Response:
    query = request.query_params
    page = page_params(query, default_limit=20, max_limit=100)
    category = fields.text(query.get("category") or None, "category", MAX_CATEGORY, default=None)
    search = fields.text(query.get("search") or None, "search", catalog.SEARCH_MAX_CHARS,
                         default=None)  # fmt: skip
    match = catalog.fts_query(search) if search else None
    if search and match is None:
        raise HTTPException(400, "search must contain a word")
    db = request.scope["env"].DB
    return await _cached(
        request, list_key(page.page, page.limit, category, search), LISTS_GENERATION, LIST_TTL,
        lambda: catalog.list_products(db, page, category or None, match),
    )  # fmt: skip


async def get_product(request: Request) -> Response:
    product_id = fields.path_id(request.path_params["id"], "Product")
    db = request.scope["env"].DB
    return await _cached(
        request, product_key(product_id), product_generation(product_id), DETAIL_TTL,
        lambda: catalog.product_detail(db, product_id),
    )  # fmt: skip


@asynccontextmanager
async def _product_input(
    request: Request, *, partial: bool
) -> AsyncIterator[tuple[dict[str, Any], list[Image]]]:
    """The product fields and images of a form (multipart, with ``images``) or a JSON object;
    the form's files are closed when the block ends."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in FORM_TYPES:
        body = await json_object(request)
        yield products.product_fields(body, form=False, partial=partial), []
        return
    limit = max_bytes(request.scope["env"])
    bounded = limit_body(request, products.MAX_IMAGES * limit + FORM_OVERHEAD)
    form = await bounded.form(max_files=products.MAX_IMAGES, max_fields=50)
    try:
        values = products.product_fields(form, form=True, partial=partial)
        # A file input left empty still sends a part with no name and no bytes: not an image.
        uploads = [u for u in form.getlist("images") if not _empty_file_input(u)]
        yield values, [await check_image(upload, "images", limit) for upload in uploads]
    finally:
        await form.close()


def _empty_file_input(value: Any) -> bool:
    return getattr(value, "filename", None) == "" and getattr(value, "size", None) == 0


async def create_product(request: Request) -> Response:
    await require_role(request, "admin")
    env = request.scope["env"]
    async with _product_input(request, partial=False) as (values, images):
        product_id = await products.create_product(env, values, images)
    detail = await catalog.product_detail(env.DB, product_id, active_only=False)
    return json_text(dumps(detail), 201)


async def update_product(request: Request) -> Response:
    await require_role(request, "admin")
    env = request.scope["env"]
    product_id = fields.path_id(request.path_params["id"], "Product")
    async with _product_input(request, partial=True) as (values, images):
        if not await products.update_product(env, product_id, values, images):
            raise HTTPException(404, "Product not found")
    detail = await catalog.product_detail(env.DB, product_id, active_only=False)
    return json_text(dumps(detail))


async def add_review(request: Request) -> Response:
    user = await require_user(request)
    product_id = fields.path_id(request.path_params["id"], "Product")
    body = await json_object(request, REVIEW_BYTES)
    rating = fields.integer(body.get("rating", fields.MISSING), "rating", 1, 5)
    title = fields.text(body.get("title"), "title", MAX_TITLE, default="")
    text = fields.text(body.get("body"), "body", MAX_REVIEW, default="")
    review = await products.add_review(
        request.scope["env"], product_id, user.user_id, rating, title, text
    )
    return JSONResponse({**review, "user_name": user.name}, status_code=201)
