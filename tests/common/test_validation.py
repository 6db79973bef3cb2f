"""workers.common.validation: pydantic models for bodies and query strings, 400 with details."""

from typing import Annotated

import httpx
from pydantic import BaseModel, ConfigDict, Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bindings.env import Env
from workers.common import http, validation


class Item(BaseModel):
    model_config = ConfigDict(strict=True)
    name: Annotated[str, Field(min_length=1, max_length=5)]
    tags: list[str] = []


class Query(BaseModel):
    limit: int = Field(10, ge=1, le=50)


async def create(request: Request) -> JSONResponse:
    item = await validation.parse_body(request, Item, limit=100)
    query = validation.parse_query(request, Query)
    return JSONResponse({"name": item.name, "limit": query.limit})


def client() -> httpx.AsyncClient:
    app = Starlette(
        routes=[Route("/", create, methods=["POST"])],
        exception_handlers={**http.exception_handlers, **validation.exception_handlers},
    )

    async def with_env(scope, receive, send):
        scope["env"] = Env("t", {})
        await app(scope, receive, send)

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=with_env), base_url="http://t")


async def test_valid_requests_parse():
    async with client() as c:
        response = await c.post("/?limit=7", json={"name": "ok", "extra": 1})
        assert response.json() == {"name": "ok", "limit": 7}


async def test_problems_are_listed_without_the_values():
    async with client() as c:
        response = await c.post("/?limit=99", json={"name": "secret-toolong", "tags": ["a", 2]})
        assert response.status_code == 400
        body = response.json()
        assert body["error"] == "Validation failed"
        assert [d["path"] for d in body["details"]] == ["name", "tags.1"]
        assert "secret" not in response.text
        query = await c.post("/?limit=99", json={"name": "ok"})
        assert query.json()["details"] == [
            {"path": "limit", "message": "Input should be less than or equal to 50"}
        ]
        big = await c.post("/", json={"name": "x" * 200})
        assert (big.status_code, big.json()) == (
            413,
            {"error": "Request body is larger than 100 bytes"},
        )
