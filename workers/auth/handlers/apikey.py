"""API keys under Better Auth's api-key plugin paths: create, list, get and delete.

Differences from the plugin, on purpose: ``permissions`` (the key's scopes) and
``rateLimitMax`` (requests per minute, 1..1000) may be set by the signed-in user for their own
keys — the plugin allows them only from server code, which Hearth's apps do not have — and a
key can never do more than its user, so this grants nothing new. Metadata is enabled.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.responses import Response

from workers.auth.apikeys import DEFAULT_RATE_LIMIT, MAX_RATE_LIMIT, ApiKeys, key_json
from workers.auth.context import AuthContext
from workers.auth.errors import APIError, api_error
from workers.auth.validation import NUMBER, OBJECT, STRING, Field, nullable, validate

NAME_LENGTH = (1, 32)
PREFIX_LENGTH = (1, 32)
EXPIRES_IN_DAYS = (1, 365)
_PREFIX = re.compile(r"^[a-zA-Z0-9_-]+$")

CREATE_FIELDS = (
    Field("name", STRING, required=False),
    Field("expiresIn", nullable(NUMBER), required=False),
    Field("prefix", STRING, required=False),
    Field("permissions", OBJECT, required=False),
    Field("rateLimitMax", NUMBER, required=False),
)


def _permissions(value: Any) -> dict[str, list[str]] | None:
    if value is None:
        return None
    if not all(
        isinstance(v, list) and all(isinstance(a, str) and a for a in v) for v in value.values()
    ):
        raise api_error(400, "INVALID_PERMISSIONS")
    return {str(k): list(v) for k, v in value.items()}


async def create(ctx: AuthContext, body: Any) -> Response:
    """``POST /api-key/create``: a new key for the signed-in user; the secret is in ``key``."""
    body = validate(body, CREATE_FIELDS)
    found = await ctx.session()
    if found is None:
        raise api_error(401, "UNAUTHORIZED_SESSION")
    name, prefix = body.get("name"), body.get("prefix")
    if prefix is not None and not _PREFIX.match(prefix):
        raise APIError(
            400,
            "[body.prefix] Invalid prefix format, must be alphanumeric and contain only "
            "underscores and hyphens.",
            "VALIDATION_ERROR",
        )
    if (
        "metadata" in body
        and body["metadata"] is not None
        and not isinstance(body["metadata"], dict)
    ):
        raise api_error(400, "INVALID_METADATA_TYPE")
    expires_in = body.get("expiresIn")
    if expires_in:
        days = expires_in / 86_400
        if days < EXPIRES_IN_DAYS[0]:
            raise api_error(400, "EXPIRES_IN_IS_TOO_SMALL")
        if days > EXPIRES_IN_DAYS[1]:
            raise api_error(400, "EXPIRES_IN_IS_TOO_LARGE")
    if prefix is not None and not PREFIX_LENGTH[0] <= len(prefix) <= PREFIX_LENGTH[1]:
        raise api_error(400, "INVALID_PREFIX_LENGTH")
    if name is not None and not NAME_LENGTH[0] <= len(name) <= NAME_LENGTH[1]:
        raise api_error(400, "INVALID_NAME_LENGTH")
    rate = body.get("rateLimitMax", DEFAULT_RATE_LIMIT)
    if int(rate) != rate or not 1 <= rate <= MAX_RATE_LIMIT:
        raise api_error(400, "INVALID_RATE_LIMIT")
    row, secret = await ApiKeys(ctx.store).create(
        found.user["id"],
        name=name,
        prefix=prefix,
        expires_in=int(expires_in) if expires_in else None,
        permissions=_permissions(body.get("permissions")),
        metadata=body.get("metadata"),
        rate_limit=int(rate),
    )
    return ctx.json(key_json(row, secret=secret))


async def list_keys(ctx: AuthContext, body: Any) -> Response:
    """``GET /api-key/list``: the user's keys, without secrets."""
    found = await ctx.require_session()
    rows = await ApiKeys(ctx.store).list(found.user["id"])
    return ctx.json({"apiKeys": [key_json(r) for r in rows], "total": len(rows)})


async def get_key(ctx: AuthContext, body: Any) -> Response:
    """``GET /api-key/get?id=``: one of the user's keys."""
    found = await ctx.require_session()
    key_id = ctx.request.query_params.get("id")
    if key_id is None:
        raise APIError(
            400, "[query.id] Invalid input: expected string, received undefined", "VALIDATION_ERROR"
        )
    row = await ApiKeys(ctx.store).get(key_id, found.user["id"])
    if row is None:
        raise api_error(404, "KEY_NOT_FOUND")
    return ctx.json(key_json(row))


async def delete(ctx: AuthContext, body: Any) -> Response:
    """``POST /api-key/delete``: revoke one of the user's keys (``{keyId}``)."""
    found = await ctx.require_session()
    body = validate(body, (Field("keyId", STRING),))
    if not await ApiKeys(ctx.store).delete(body["keyId"], found.user["id"]):
        raise api_error(404, "KEY_NOT_FOUND")
    return ctx.json({"success": True})
