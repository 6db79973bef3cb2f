"""Reading the catalogue from D1: product pages, one product, search, recommendations, categories.

Rows are returned as the seed returned them (``p.*`` plus ``category_name``, ``review_count``,
``avg_rating``), with ``image_url`` (a list's thumbnail) and each image's ``url`` added. Money is
integer cents. Only active products are ever shown. SQL is fixed text with ``?`` parameters;
the only variable parts are chosen from constants here.
"""

from __future__ import annotations

import math
import re
from typing import Any

from workers.common.pagination import Page

REVIEWS_SHOWN = 5  # the seed's "recent reviews" on a product page
SEARCH_MAX_TERMS = 8
SEARCH_MAX_CHARS = 200
# bm25 weights of the FTS columns (name, description): a word in the name counts ten times.
RANK = "bm25(products_fts, 10.0, 1.0)"

_WORD = re.compile(r"\w+")

# A product's first image, as a URL (a list's thumbnail).
_IMAGE_URL = (
    "(SELECT '/media/' || i.filename FROM product_images i WHERE i.product_id = p.id"
    " ORDER BY i.sort_order, i.id LIMIT 1) AS image_url"
)
# The columns every product answer carries, as the seed's queries built them.
_PRODUCT = (
    "SELECT p.*, c.name AS category_name, c.slug AS category_slug,"  # noqa: S608 - constants
    " (SELECT COUNT(*) FROM reviews r WHERE r.product_id = p.id) AS review_count,"
    " (SELECT ROUND(AVG(r.rating), 2) FROM reviews r WHERE r.product_id = p.id) AS avg_rating,"
    f" {_IMAGE_URL} FROM products p LEFT JOIN categories c ON c.id = p.category_id"
)
_MATCHES = "p.id IN (SELECT rowid FROM products_fts WHERE products_fts MATCH ?)"
# Pages of the list: WHERE clauses by which filters are present (never built from input).
_LIST_WHERE = {
    (False, False): "p.active = 1",
    (True, False): "p.active = 1 AND c.slug = ?",
    (False, True): f"p.active = 1 AND {_MATCHES}",
    (True, True): f"p.active = 1 AND c.slug = ? AND {_MATCHES}",
}
_ORDER = " ORDER BY p.created_at DESC, p.id DESC LIMIT ? OFFSET ?"
_COUNT = "SELECT COUNT(*) AS total FROM products p LEFT JOIN categories c ON c.id = p.category_id"


def fts_query(text: str) -> str | None:
    """Words of ``text`` as an FTS5 query: each quoted (no operator can be injected), all
    required, the last one also as a prefix (search as you type). None when there is no word."""
    words = _WORD.findall(text.lower())[:SEARCH_MAX_TERMS]
    if not words:
        return None
    return " ".join(f'"{word}"' for word in words) + "*"


def pagination(page: Page, total: int) -> dict[str, int]:
    """The seed's ``pagination`` object."""
    return {"page": page.page, "limit": page.limit, "total": total,
            "pages": math.ceil(total / page.limit)}  # fmt: skip


async def list_products(
    db: Any, page: Page, category: str | None, match: str | None
) -> dict[str, Any]:
    """``GET /products``: newest first, optionally in one category and matching a search."""
    where = _LIST_WHERE[(category is not None, match is not None)]
    params = [v for v in (category, match) if v is not None]
    rows, count = await db.batch([
        db.prepare(f"{_PRODUCT} WHERE {where}{_ORDER}").bind(*params, page.limit, page.offset),
        db.prepare(f"{_COUNT} WHERE {where}").bind(*params),
    ])  # fmt: skip
    return {
        "products": rows["results"],
        "pagination": pagination(page, count["results"][0]["total"]),
    }


async def product_detail(
    db: Any, product_id: int, *, active_only: bool = True
) -> dict[str, Any] | None:
    """``GET /products/{id}``: the product with its images and the latest reviews, or None.
    Admins' writes answer with it even when it is not on sale (``active_only=False``)."""
    active = " AND p.active = 1" if active_only else ""
    product, images, reviews = await db.batch([
        db.prepare(f"{_PRODUCT} WHERE p.id = ?{active}").bind(product_id),
        db.prepare(
            "SELECT *, '/media/' || filename AS url FROM product_images"
            " WHERE product_id = ? ORDER BY sort_order, id"
        ).bind(product_id),
        db.prepare(
            "SELECT r.id, r.product_id, r.rating, r.title, r.body, r.verified_purchase,"
            ' r.created_at, u.name AS user_name FROM reviews r JOIN "user" u ON u.id = r.user_id'
            " WHERE r.product_id = ? ORDER BY r.created_at DESC, r.id DESC LIMIT ?"
        ).bind(product_id, REVIEWS_SHOWN),
    ])  # fmt: skip
    if not product["results"]:
        return None
    return {**product["results"][0], "images": images["results"], "reviews": reviews["results"]}


async def search(db: Any, match: str, page: Page, category: str | None) -> dict[str, Any]:
    """``GET /search``: active products matching ``match``, best first (bm25)."""
    where = "products_fts MATCH ? AND p.active = 1" + (" AND c.slug = ?" if category else "")
    params = [match, *([category] if category else [])]
    # CROSS JOIN keeps the full-text match as the outer loop (SQLite never reorders it): as a
    # plain JOIN the planner walks products and runs the match once per product, 10x slower.
    joined = (
        "FROM products_fts CROSS JOIN products p ON p.id = products_fts.rowid"
        " LEFT JOIN categories c ON c.id = p.category_id"
    )
    rows, count = await db.batch([
        db.prepare(
            "SELECT p.id, p.name, p.slug, p.description, p.price, p.inventory_count,"
            " p.category_id, c.name AS category_name, c.slug AS category_slug,"
            f" {_IMAGE_URL}, {RANK} AS rank {joined}"
            f" WHERE {where} ORDER BY rank, p.id LIMIT ? OFFSET ?"
        ).bind(*params, page.limit, page.offset),
        db.prepare(f"SELECT COUNT(*) AS total {joined} WHERE {where}").bind(*params),
    ])  # fmt: skip
    return {
        "results": rows["results"],
        "pagination": pagination(page, count["results"][0]["total"]),
    }


_SUMMARY = f"p.id, p.name, p.slug, p.price, p.inventory_count, p.category_id, {_IMAGE_URL}"


async def recommendations(db: Any, product_id: int, limit: int) -> list[dict[str, Any]] | None:
    """Products bought together with ``product_id`` (by how many orders held both), then
    products of its category (best reviewed, then newest); None when it is not on sale."""
    found = await db.prepare(
        "SELECT category_id FROM products WHERE id = ? AND active = 1"
    ).bind(product_id).first()  # fmt: skip
    if found is None:
        return None
    together = await db.prepare(
        f"SELECT {_SUMMARY}, 'bought_together' AS reason,"  # noqa: S608 - constants only
        " COUNT(DISTINCT b.order_id) AS score"
        " FROM order_items a JOIN order_items b ON b.order_id = a.order_id"
        " JOIN products p ON p.id = b.product_id AND p.active = 1"
        " WHERE a.product_id = ? AND b.product_id != a.product_id"
        " GROUP BY p.id ORDER BY score DESC, p.id LIMIT ?"
    ).bind(product_id, limit).all()  # fmt: skip
    picked: list[dict[str, Any]] = list(together["results"])
    if len(picked) < limit and found["category_id"] is not None:
        seen = {product_id, *(row["id"] for row in picked)}
        same = await db.prepare(
            f"SELECT {_SUMMARY}, 'same_category' AS reason,"  # noqa: S608 - constants only
            " (SELECT COUNT(*) FROM reviews r WHERE r.product_id = p.id) AS score"
            " FROM products p WHERE p.category_id = ? AND p.active = 1"
            " ORDER BY (SELECT AVG(r.rating) FROM reviews r WHERE r.product_id = p.id) DESC"
            " NULLS LAST, p.created_at DESC, p.id DESC LIMIT ?"
        ).bind(found["category_id"], limit + len(seen)).all()  # fmt: skip
        picked += [row for row in same["results"] if row["id"] not in seen][: limit - len(picked)]
    return picked


async def categories(db: Any) -> list[dict[str, Any]]:
    """``GET /categories``: every category with its number of products on sale."""
    result = await db.prepare(
        "SELECT c.*, (SELECT COUNT(*) FROM products p WHERE p.category_id = c.id AND p.active = 1)"
        " AS product_count FROM categories c ORDER BY c.name, c.id"
    ).all()  # fmt: skip
    return list(result["results"])
