"""``/api/proxies``: a team's proxies (members read, admins and owners write). Credentials are
masked in every answer (see ``workers.profiles.proxies``)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from workers.common.validation import parse_body, parse_query
from workers.profiles import billing
from workers.profiles.caller import caller
from workers.profiles.handlers.profiles import env_of, proxies_of
from workers.profiles.proxies import proxy_json

PROXY_NOT_FOUND = "Proxy not found"


async def list_proxies(request: Request) -> Response:
    from workers.profiles.schemas import Page

    member = await caller(request, "proxies:read")
    page = parse_query(request, Page)
    found = await proxies_of(env_of(request)).list(member.team_id, page.limit, page.offset)
    return JSONResponse(
        {"proxies": [proxy_json(row) for row in found["proxies"]], "total": found["total"]}
    )


async def get_proxy(request: Request) -> Response:
    member = await caller(request, "proxies:read")
    row = await proxies_of(env_of(request)).get(request.path_params["id"], member.team_id)
    if row is None:
        raise HTTPException(404, PROXY_NOT_FOUND)
    return JSONResponse(proxy_json(row))


async def create_proxy(request: Request) -> Response:
    from workers.profiles.schemas import CreateProxy

    member = await caller(request, "proxies:write", "admin")
    body = await parse_body(request, CreateProxy)
    env = env_of(request)
    allowed = await billing.limit(env.DB, member.team_id, "proxies")
    row = await proxies_of(env).create(member.team_id, member.user_id, body.model_dump(), allowed)
    if row is None:
        raise HTTPException(403, f"The team's plan allows {allowed} proxies")
    return JSONResponse(proxy_json(row), status_code=201)


async def update_proxy(request: Request) -> Response:
    from workers.profiles.schemas import UpdateProxy

    member = await caller(request, "proxies:write", "admin")
    body = await parse_body(request, UpdateProxy)
    row = await proxies_of(env_of(request)).update(
        request.path_params["id"], member.team_id, member.user_id, body.given()
    )
    if row is None:
        raise HTTPException(404, PROXY_NOT_FOUND)
    return JSONResponse(proxy_json(row))


async def delete_proxy(request: Request) -> Response:
    member = await caller(request, "proxies:write", "admin")
    proxies = proxies_of(env_of(request))
    if not await proxies.delete(request.path_params["id"], member.team_id, member.user_id):
        raise HTTPException(404, PROXY_NOT_FOUND)
    return JSONResponse({"success": True})
