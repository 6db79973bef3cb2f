"""``/api/profiles``: list, get, create, update, delete, and launch / heartbeat / release of a
profile's lock (``X-Client-ID`` names the client)."""

from __future__ import annotations

import functools
import re
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from workers.common.validation import InvalidRequest, parse_body, parse_query
from workers.profiles import billing, credentials, fingerprints, sessions
from workers.profiles.caller import caller
from workers.profiles.ids import iso
from workers.profiles.locks import HEARTBEAT_INTERVAL_MS, LOCK_TIMEOUT_MS, Locks
from workers.profiles.profiles import Profiles, profile_json
from workers.profiles.proxies import Proxies, proxy_json

CLIENT_HEADER = "x-client-id"
_CLIENT_ID = re.compile(r"^[\x21-\x7e]{1,128}$")
PROFILE_NOT_FOUND = "Profile not found"
IN_USE = "Profile is in use by another session"


def env_of(request: Request) -> Any:
    return request.scope["env"]


def profiles_of(env: Any) -> Profiles:
    """The worker's profiles; the credentials key is looked up only when a password needs it."""
    return Profiles(env.DB, functools.partial(credentials.sealer, env))


def proxies_of(env: Any) -> Proxies:
    """The worker's proxies (keys as for ``profiles_of``)."""
    return Proxies(env.DB, functools.partial(credentials.sealer, env))


def client_id(request: Request) -> str:
    """The ``X-Client-ID`` header; 400 when missing or not 1-128 visible ASCII characters."""
    value = request.headers.get(CLIENT_HEADER)
    if not value:
        raise HTTPException(400, "X-Client-ID header required")
    if not _CLIENT_ID.match(value):
        raise HTTPException(400, "X-Client-ID must be 1-128 visible ASCII characters")
    return value


def in_use(locked_at: int | None) -> JSONResponse:
    """409 for a profile another client holds, with when it was last active."""
    last = iso(locked_at) if locked_at is not None else None
    message = f"{IN_USE}. Last active: {last}" if last else IN_USE
    return JSONResponse({"error": message, "lastActive": last}, status_code=409)


def _bad_proxy() -> InvalidRequest:
    return InvalidRequest([{"path": "proxyId", "message": "no proxy of this team has this id"}])


async def list_profiles(request: Request) -> Response:
    from workers.profiles.schemas import ListProfiles

    member = await caller(request, "profiles:read")
    q = parse_query(request, ListProfiles)
    result = await profiles_of(env_of(request)).list(
        member.team_id, group_id=q.groupId, search=q.search, limit=q.limit, offset=q.offset,
        order_by=q.orderBy, order=q.order,
    )  # fmt: skip
    return JSONResponse(result)


async def get_profile(request: Request) -> Response:
    member = await caller(request, "profiles:read")
    row = await profiles_of(env_of(request)).get(request.path_params["id"], member.team_id)
    if row is None:
        raise HTTPException(404, PROFILE_NOT_FOUND)
    return JSONResponse(profile_json(row))


async def create_profile(request: Request) -> Response:
    from workers.profiles.schemas import CreateProfile

    member = await caller(request, "profiles:write")
    body = await parse_body(request, CreateProfile)
    env = env_of(request)
    db, profiles = env.DB, profiles_of(env)
    fp = fingerprints.generate(body.templateId)
    allowed = await billing.limit(db, member.team_id, "profiles")
    row = await profiles.create(member.team_id, member.user_id, body.given(), fp, allowed)
    if row is None:
        if body.proxyId and not await profiles.proxy_in_team(body.proxyId, member.team_id):
            raise _bad_proxy()
        raise HTTPException(403, f"The team's plan allows {allowed} profiles")
    return JSONResponse(profile_json(row), status_code=201)


async def update_profile(request: Request) -> Response:
    from workers.profiles.schemas import UpdateProfile

    member = await caller(request, "profiles:write")
    body = await parse_body(request, UpdateProfile)
    profiles = profiles_of(env_of(request))
    profile_id = request.path_params["id"]
    changes = body.given()
    if changes and not await profiles.update(profile_id, member.team_id, member.user_id, changes):
        proxy = changes.get("proxyId")
        if proxy and not await profiles.proxy_in_team(proxy, member.team_id):
            raise _bad_proxy()
    row = await profiles.get(profile_id, member.team_id)
    if row is None:
        raise HTTPException(404, PROFILE_NOT_FOUND)
    return JSONResponse(profile_json(row))


async def delete_profile(request: Request) -> Response:
    """Delete the profile and its session data in R2."""
    member = await caller(request, "profiles:write")
    env = env_of(request)
    profiles = profiles_of(env)
    profile_id = request.path_params["id"]
    row = await profiles.get(profile_id, member.team_id)
    if row is None or not await profiles.delete(
        profile_id, member.team_id, member.user_id, row["name"]
    ):
        raise HTTPException(404, PROFILE_NOT_FOUND)
    await sessions.purge(env.R2, [profile_id])
    return JSONResponse({"success": True})


async def launch(request: Request) -> Response:
    """Take the profile's lock; answer the profile (proxy credentials included), its session
    data and its proxy. 409 with ``lastActive`` when another client holds it."""
    member = await caller(request, "profiles:launch")
    client = client_id(request)
    env = env_of(request)
    profiles, locks, proxies = profiles_of(env), Locks(env.DB), proxies_of(env)
    profile_id = request.path_params["id"]
    row = await profiles.get(profile_id, member.team_id)
    if row is None:
        raise HTTPException(404, PROFILE_NOT_FOUND)
    if not await locks.acquire(profile_id, member.team_id, client, member.user_id, row["name"]):
        held = await locks.holder(profile_id, member.team_id)
        if held is None:
            raise HTTPException(404, PROFILE_NOT_FOUND)
        return in_use(held["locked_at"])
    row = await profiles.get(profile_id, member.team_id) or row
    proxy = await proxies.get(row["proxy_id"], member.team_id) if row["proxy_id"] else None
    return JSONResponse(
        {
            "profile": profile_json(profiles.revealed(row), reveal=True),
            "sessionData": await sessions.load(env.R2, profile_id),
            "proxy": proxy_json(proxies.revealed(proxy), reveal=True) if proxy else None,
            "lockAcquired": True,
            "heartbeatIntervalMs": HEARTBEAT_INTERVAL_MS,
            "lockTimeoutMs": LOCK_TIMEOUT_MS,
        }
    )


async def heartbeat(request: Request) -> Response:
    member = await caller(request, "profiles:launch")
    client = client_id(request)
    locks = Locks(env_of(request).DB)
    profile_id = request.path_params["id"]
    if not await locks.heartbeat(profile_id, member.team_id, client):
        if await locks.holder(profile_id, member.team_id) is None:
            raise HTTPException(404, PROFILE_NOT_FOUND)
        raise HTTPException(409, "Lock not found or expired")
    return JSONResponse({"success": True})


async def release(request: Request) -> Response:
    """``{success}``: true when this client held the lock and gave it up (as the seed)."""
    member = await caller(request, "profiles:launch")
    client = client_id(request)
    locks = Locks(env_of(request).DB)
    profile_id = request.path_params["id"]
    success = await locks.release(profile_id, member.team_id, client, member.user_id)
    if not success and await locks.holder(profile_id, member.team_id) is None:
        raise HTTPException(404, PROFILE_NOT_FOUND)
    return JSONResponse({"success": success})
