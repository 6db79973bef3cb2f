"""The admin plugin's endpoints: create, list, set-role, ban, unban and remove users."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from workers.auth.accounts import ban, create_account, unban
from workers.auth.context import AuthContext
from workers.auth.errors import APIError, api_error
from workers.auth.settings import DEFAULT_ROLE
from workers.auth.store import USER_COLUMNS, user_json
from workers.auth.validation import (
    NUMBER,
    OBJECT,
    STRING,
    STRING_OR_LIST,
    Field,
    validate,
)

CREATE_FIELDS = (
    Field("email", STRING),
    Field("password", STRING, required=False),
    Field("name", STRING),
    Field("role", STRING_OR_LIST, required=False),
    Field("data", OBJECT, required=False),
)


def parse_role(value: Any) -> str:
    """A role or list of roles as stored: ``"user,admin"``."""
    roles = value if isinstance(value, list) else [value]
    if not all(isinstance(r, str) for r in roles):
        raise api_error(400, "INVALID_ROLE_TYPE")
    return ",".join(roles)


async def create_user(ctx: AuthContext, body: Any) -> Response:
    """``POST /admin/create-user``: the only way users come to exist (sign-up is off)."""
    await ctx.require_admin("YOU_ARE_NOT_ALLOWED_TO_CREATE_USERS")
    body = validate(body, CREATE_FIELDS)
    data = body.get("data") or {}
    requested = body.get("role", data.get("role"))
    role = parse_role(requested) if requested is not None else DEFAULT_ROLE
    image = data.get("image") if isinstance(data.get("image"), str) else None
    user = await create_account(
        ctx.store,
        email=body["email"],
        name=body["name"],
        password=body.get("password"),
        role=role,
        image=image,
    )
    return ctx.json({"user": user_json(user)})


_SEARCH_FIELDS = ("email", "name")
_SEARCH_OPERATORS = ("contains", "starts_with", "ends_with")
_FILTER_OPERATORS = ("eq", "ne", "lt", "lte", "gt", "gte", "contains", "starts_with", "ends_with")


def _int(value: str | None) -> int | None:
    """``Number(x) || undefined`` for a non-negative page parameter."""
    try:
        number = int(float(value)) if value not in (None, "") else 0
    except ValueError:
        return None
    return number if number > 0 else None


async def list_users(ctx: AuthContext, body: Any) -> Response:
    """``GET /admin/list-users``: search, filter, sort and page the users."""
    await ctx.require_admin("YOU_ARE_NOT_ALLOWED_TO_LIST_USERS")
    q = ctx.request.query_params
    where: list[tuple[str, str, Any]] = []
    if q.get("searchValue"):
        field = q.get("searchField") or "email"
        operator = q.get("searchOperator") or "contains"
        if field not in _SEARCH_FIELDS or operator not in _SEARCH_OPERATORS:
            raise APIError(400, "[query] Invalid search", "VALIDATION_ERROR")
        where.append((field, operator, q["searchValue"]))
    if "filterValue" in q:
        field = q.get("filterField") or "email"
        operator = q.get("filterOperator") or "eq"
        if field not in USER_COLUMNS or operator not in _FILTER_OPERATORS:
            raise APIError(400, "[query] Invalid filter", "VALIDATION_ERROR")
        value: Any = q["filterValue"]
        if field in ("banned", "emailVerified") and value in ("true", "false"):
            value = int(value == "true")
        where.append((field, operator, value))
    sort = None
    if q.get("sortBy"):
        if q["sortBy"] not in USER_COLUMNS:
            raise APIError(400, "[query] Invalid sortBy", "VALIDATION_ERROR")
        direction = q.get("sortDirection") or "asc"
        if direction not in ("asc", "desc"):
            raise APIError(400, "[query] Invalid sortDirection", "VALIDATION_ERROR")
        sort = (q["sortBy"], direction)
    limit, offset = _int(q.get("limit")), _int(q.get("offset"))
    try:
        rows, total = await ctx.store.list_users(where, limit=limit, offset=offset, sort=sort)
    except Exception:  # Better Auth answers an empty page when the query fails (a LIKE too long)
        return ctx.json({"users": [], "total": 0})
    out: dict[str, Any] = {"users": [user_json(r) for r in rows], "total": total}
    if limit is not None:
        out["limit"] = limit
    if offset is not None:
        out["offset"] = offset
    return ctx.json(out)


async def set_role(ctx: AuthContext, body: Any) -> Response:
    """``POST /admin/set-role``: replace a user's role(s)."""
    await ctx.require_admin("YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE")
    body = validate(body, (Field("userId", STRING), Field("role", STRING_OR_LIST)))
    role = parse_role(body["role"])
    if await ctx.store.user_by_id(body["userId"]) is None:
        raise api_error(404, "USER_NOT_FOUND")
    user = await ctx.store.update_user(body["userId"], {"role": role})
    assert user is not None
    return ctx.json({"user": user_json(user)})


BAN_FIELDS = (
    Field("userId", STRING),
    Field("banReason", STRING, required=False),
    Field("banExpiresIn", NUMBER, required=False),
)


async def ban_user(ctx: AuthContext, body: Any) -> Response:
    """``POST /admin/ban-user``: ban, end every session and revoke every refresh token."""
    admin = await ctx.require_admin("YOU_ARE_NOT_ALLOWED_TO_BAN_USERS")
    body = validate(body, BAN_FIELDS)
    user_id = body["userId"]
    if await ctx.store.user_by_id(user_id) is None:
        raise api_error(404, "USER_NOT_FOUND")
    if user_id == admin.user["id"]:
        raise api_error(400, "YOU_CANNOT_BAN_YOURSELF")
    user = await ban(
        ctx.store, user_id, reason=body.get("banReason"), expires_in=body.get("banExpiresIn")
    )
    assert user is not None
    return ctx.json({"user": user_json(user)})


async def unban_user(ctx: AuthContext, body: Any) -> Response:
    """``POST /admin/unban-user``."""
    await ctx.require_admin("YOU_ARE_NOT_ALLOWED_TO_BAN_USERS")
    body = validate(body, (Field("userId", STRING),))
    if await ctx.store.user_by_id(body["userId"]) is None:
        raise api_error(404, "USER_NOT_FOUND")
    user = await unban(ctx.store, body["userId"])
    assert user is not None
    return ctx.json({"user": user_json(user)})


async def remove_user(ctx: AuthContext, body: Any) -> Response:
    """``POST /admin/remove-user``: delete a user with its sessions, accounts and keys."""
    admin = await ctx.require_admin("YOU_ARE_NOT_ALLOWED_TO_DELETE_USERS")
    body = validate(body, (Field("userId", STRING),))
    if body["userId"] == admin.user["id"]:
        raise api_error(400, "YOU_CANNOT_REMOVE_YOURSELF")
    if await ctx.store.user_by_id(body["userId"]) is None:
        raise api_error(404, "USER_NOT_FOUND")
    await ctx.store.delete_user(body["userId"])
    return ctx.json({"success": True})
