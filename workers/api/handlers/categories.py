"""``/categories``: every category with its product count; admins add categories."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from workers.api import catalog, products
from workers.auth.client import require_role
from workers.common import fields
from workers.common.http import json_object

MAX_NAME = 100
MAX_DESCRIPTION = 1000


async def list_categories(request: Request) -> JSONResponse:
    return JSONResponse({"categories": await catalog.categories(request.scope["env"].DB)})


async def create_category(request: Request) -> JSONResponse:
    await require_role(request, "admin")
    body = await json_object(request, 16 * 1024)
    name = fields.text(body.get("name", fields.MISSING), "name", MAX_NAME, min_length=1)
    description = fields.text(body.get("description"), "description", MAX_DESCRIPTION, default="")
    category = await products.create_category(request.scope["env"].DB, name, description)
    return JSONResponse({**category, "product_count": 0}, status_code=201)
