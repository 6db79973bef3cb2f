"""``/search`` (FTS5, ranked by bm25) and ``/recommendations`` (bought together, then the same
category)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from workers.api import catalog
from workers.common import fields
from workers.common.pagination import int_param, page_params

MAX_CATEGORY = 100
DEFAULT_RECOMMENDATIONS = 8
MAX_RECOMMENDATIONS = 50


async def search(request: Request) -> JSONResponse:
    """``GET /search?q=&page=&limit=&category=``: best matches first."""
    query = request.query_params
    q = fields.text(query.get("q") or None, "q", catalog.SEARCH_MAX_CHARS)
    match = catalog.fts_query(q)
    if match is None:
        raise HTTPException(400, "q must contain a word")
    page = page_params(query, default_limit=20, max_limit=100)
    category = fields.text(query.get("category") or None, "category", MAX_CATEGORY, default=None)
    found = await catalog.search(request.scope["env"].DB, match, page, category)
    return JSONResponse({"query": q, **found})


async def recommendations(request: Request) -> JSONResponse:
    """``GET /recommendations?productId=&limit=``."""
    query = request.query_params
    raw = query.get("productId")
    if raw is None:
        raise HTTPException(400, "productId is required")
    product_id = int_param(query, "productId", 0, 1, fields.MAX_ID)
    limit = int_param(query, "limit", DEFAULT_RECOMMENDATIONS, 1, MAX_RECOMMENDATIONS)
    found = await catalog.recommendations(request.scope["env"].DB, product_id, limit)
    if found is None:
        raise HTTPException(404, "Product not found")
    return JSONResponse({"productId": product_id, "recommendations": found})
