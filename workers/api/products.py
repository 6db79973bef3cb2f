"""Writing the catalogue: products (admin), their images, categories, reviews.

Each write commits to D1, then invalidates the product cache (``ProductCache.invalidate``), so
the next read anywhere in this process sees it. Fields are checked by ``product_fields`` before
anything is written; images are checked (type by their bytes, size) before the product row is.
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.exceptions import HTTPException

from bindings.d1.errors import D1Error
from workers.api.cache import ProductCache
from workers.api.images import Image, put_image
from workers.common import fields

log = logging.getLogger("hearth.api")

# The seed's model; map it to one of your endpoint's models in wrangler_compat.toml
# (docs/apps/api-and-cart.md).
AI_MODEL = "@cf/meta/llama-2-7b-chat-int8"
AI_MAX_TOKENS = 200
AI_MAX_CHARS = 2000  # an enhanced description longer than this is cut
MAX_NAME = 200
MAX_DESCRIPTION = 5000
MAX_SKU = 64
MAX_PRICE = 100_000_000  # cents: a million in the shop's currency
MAX_INVENTORY = 1_000_000
MAX_IMAGES = 10
MAX_SLUG = 80
SLUG_ATTEMPTS = 5  # inserts retried when a concurrent create took the same slug
NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"

# Columns a product update may set, and nothing else (never built from input).
UPDATABLE = ("name", "description", "ai_description", "price", "category_id",
             "inventory_count", "sku", "active")  # fmt: skip


def generate_slug(name: str) -> str:
    """The seed's SEO slug: lower case, ``[a-z0-9-]``, accents folded (``Crème`` → ``creme``)."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9 -]", "", folded.lower())
    slug = re.sub(r"-+", "-", re.sub(r"\s+", "-", slug)).strip("-")
    return slug[:MAX_SLUG].rstrip("-") or "product"


async def unique_slug(db: Any, name: str) -> str:
    """``generate_slug(name)``, or with the first free ``-2``, ``-3``... suffix."""
    base = generate_slug(name)
    # Every slug that is base or base-<anything>: '-' sorts just before '.', so the range holds
    # exactly the slugs starting with "base-" (LIKE is avoided: D1 caps its patterns at 50 bytes).
    taken = await db.prepare(
        "SELECT slug FROM products WHERE slug = ?1 OR (slug > ?1 || '-' AND slug < ?1 || '.')"
    ).bind(base).raw()  # fmt: skip
    used = {row[0] for row in taken}
    if base not in used:
        return base
    n = 2
    while f"{base}-{n}" in used:
        n += 1
    return f"{base}-{n}"


# Each field's check, and the defaults of the optional ones on create.
_CHECKS: dict[str, Any] = {
    "name": lambda v, form: fields.text(v, "name", MAX_NAME, min_length=1),
    "description": lambda v, form: fields.text(v, "description", MAX_DESCRIPTION),
    "price": lambda v, form: fields.integer(v, "price", 0, MAX_PRICE, form=form),
    "category_id": lambda v, form: fields.integer(v, "category_id", 1, fields.MAX_ID, form=form),
    "inventory_count": lambda v, form: fields.integer(
        v, "inventory_count", 0, MAX_INVENTORY, form=form
    ),
    "sku": lambda v, form: fields.text(v, "sku", MAX_SKU) or None,
    "active": lambda v, form: fields.boolean(v, "active", form=form),
}
_DEFAULTS = {"description": "", "inventory_count": 0, "sku": None, "active": True}


def product_fields(data: Mapping[str, Any], *, form: bool, partial: bool) -> dict[str, Any]:
    """The product columns in ``data`` (a form or a JSON object), checked; 400 names the field.
    On create (not ``partial``) name, price and category_id are required."""
    out: dict[str, Any] = {}
    for name, check in _CHECKS.items():
        value = data.get(name, fields.MISSING)
        if value is fields.MISSING or value is None:
            if partial:
                continue
            if name in _DEFAULTS:
                out[name] = _DEFAULTS[name]
                continue
        out[name] = check(value, form)
    return out


async def enhance_description(ai: Any, name: str, description: str) -> str:
    """The seed's AI-enhanced description, or ``description`` itself when AI is not configured
    or fails (the seed's fallback)."""
    prompt = (
        "Enhance this product description to be more appealing and SEO-friendly.\n"
        "Keep it concise but compelling.\n\n"
        f"Product: {name}\nCurrent description: {description}\n\nEnhanced description:"
    )
    try:
        response = await ai.run(
            AI_MODEL, {"messages": [{"role": "user", "content": prompt}],
                       "max_tokens": AI_MAX_TOKENS}
        )  # fmt: skip
        enhanced = str(response["response"]).strip()[:AI_MAX_CHARS]
    except Exception as exc:  # the seed's fallback: any failure keeps the original
        log.info("AI description not enhanced (%s): %s", type(exc).__name__, exc)
        return description
    return enhanced or description


async def _check_category(db: Any, category_id: int | None) -> None:
    if category_id is None:
        return
    found = await db.prepare("SELECT 1 FROM categories WHERE id = ?").bind(category_id).first()
    if found is None:
        raise HTTPException(400, f"category_id {category_id} is not a category")


def _conflict(exc: D1Error) -> HTTPException | None:
    """The client's mistake behind a failed write, if it was one."""
    message = str(exc)
    if "UNIQUE constraint failed: products.sku" in message:
        return HTTPException(409, "Another product has this sku")
    if "FOREIGN KEY constraint failed" in message:
        return HTTPException(400, "category_id is not a category")
    return None


async def create_product(env: Any, values: dict[str, Any], images: Sequence[Image]) -> int:
    """Insert a product (unique slug, enhanced description), store its images; its id."""
    db = env.DB
    await _check_category(db, values["category_id"])
    if values["description"]:
        values["ai_description"] = await enhance_description(
            env.AI, values["name"], values["description"]
        )
    columns = [c for c in UPDATABLE if c in values]
    for attempt in range(SLUG_ATTEMPTS):
        slug = await unique_slug(db, values["name"])
        try:
            row = await db.prepare(
                f"INSERT INTO products ({', '.join(columns)}, slug)"  # noqa: S608 - columns from UPDATABLE
                f" VALUES ({', '.join('?' * len(columns))}, ?) RETURNING id"
            ).bind(*(values[c] for c in columns), slug).first()  # fmt: skip
            break
        except D1Error as exc:
            if (
                "UNIQUE constraint failed: products.slug" in str(exc)
                and attempt + 1 < SLUG_ATTEMPTS
            ):
                continue  # a concurrent create took this slug: find the next free one
            raise _conflict(exc) or exc from None
    product_id = int(row["id"])
    await add_images(env, product_id, images)
    await ProductCache(env.CACHE).invalidate([product_id])
    return product_id


async def update_product(
    env: Any, product_id: int, values: dict[str, Any], images: Sequence[Image]
) -> bool:
    """Change the given columns (a new description is enhanced again) and append images;
    False when there is no such product (active or not)."""
    db = env.DB
    exists = await db.prepare("SELECT name FROM products WHERE id = ?").bind(product_id).first()
    if exists is None:
        return False
    await _check_category(db, values.get("category_id"))
    if values.get("description"):
        name = values.get("name", exists["name"])
        values["ai_description"] = await enhance_description(env.AI, name, values["description"])
    elif "description" in values:
        values["ai_description"] = None
    columns = [c for c in UPDATABLE if c in values]
    if columns:
        assignments = ", ".join(f"{c} = ?" for c in columns)
        try:
            await db.prepare(
                f"UPDATE products SET {assignments}, updated_at = {NOW} WHERE id = ?"  # noqa: S608 - columns from UPDATABLE
            ).bind(*(values[c] for c in columns), product_id).run()  # fmt: skip
        except D1Error as exc:
            raise _conflict(exc) or exc from None
    await add_images(env, product_id, images)
    await ProductCache(env.CACHE).invalidate([product_id])
    return True


async def add_images(env: Any, product_id: int, images: Sequence[Image]) -> None:
    """Put ``images`` into R2 under ``products/{id}/`` and record them after the existing ones."""
    if not images:
        return
    db = env.DB
    last = await db.prepare(
        "SELECT COALESCE(MAX(sort_order), -1) AS n FROM product_images WHERE product_id = ?"
    ).bind(product_id).first("n")  # fmt: skip
    stamp = int(time.time() * 1000)
    rows = []
    for i, image in enumerate(images):
        # The seed's key: products/{id}/{Date.now()}-{i}-{name}, the name made URL-safe.
        key = f"products/{product_id}/{stamp}-{i}-{image.name}"
        await put_image(env.STORAGE, key, image, {"productId": str(product_id)})
        rows.append(
            db.prepare(
                "INSERT INTO product_images (product_id, filename, alt_text, sort_order,"
                " content_type, size) VALUES (?, ?, ?, ?, ?, ?)"
            ).bind(
                product_id,
                key,
                f"{image.name} for product {product_id}",
                last + 1 + i,
                image.content_type,
                image.size,
            )
        )
    await db.batch(rows)


async def add_review(
    env: Any, product_id: int, user_id: str, rating: int, title: str, body: str
) -> dict[str, Any]:
    """One review per user per product; 404 unknown product, 409 already reviewed."""
    db = env.DB
    try:
        row = await db.prepare(
            "INSERT INTO reviews (product_id, user_id, rating, title, body, verified_purchase)"
            " SELECT p.id, ?2, ?3, ?4, ?5, EXISTS (SELECT 1 FROM order_items oi"
            "   JOIN orders o ON o.id = oi.order_id WHERE o.user_id = ?2 AND oi.product_id = p.id)"
            " FROM products p WHERE p.id = ?1 AND p.active = 1"
            " RETURNING id, product_id, rating, title, body, verified_purchase, created_at"
        ).bind(product_id, user_id, rating, title, body).first()  # fmt: skip
    except D1Error as exc:
        if "UNIQUE constraint failed: reviews" in str(exc):
            raise HTTPException(409, "You have already reviewed this product") from None
        if "FOREIGN KEY constraint failed" in str(exc):  # the account is gone; its JWT lives on
            raise HTTPException(401, "Authentication required") from None
        raise
    if row is None:
        raise HTTPException(404, "Product not found")
    await ProductCache(env.CACHE).invalidate([product_id])
    return dict(row)


async def create_category(db: Any, name: str, description: str) -> dict[str, Any]:
    """A category with a slug from its name; 409 when the slug is taken."""
    try:
        row = await db.prepare(
            "INSERT INTO categories (name, slug, description) VALUES (?, ?, ?) RETURNING *"
        ).bind(name, generate_slug(name), description).first()  # fmt: skip
    except D1Error as exc:
        if "UNIQUE constraint failed: categories.slug" in str(exc):
            raise HTTPException(409, "A category with this name exists") from None
        raise
    return dict(row)
