"""``/api/sync/{profileId}``: upload (``POST {cookies, localStorage, clientHash?}``) and
download (``GET``) of a profile's session data. An upload whose hash equals the stored one
writes nothing (``skipped``); one for a profile another client holds the lock of is refused."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from workers.common.validation import InvalidRequest, parse_body
from workers.profiles import sessions
from workers.profiles.caller import caller
from workers.profiles.handlers.profiles import (
    CLIENT_HEADER,
    PROFILE_NOT_FOUND,
    env_of,
    in_use,
    profiles_of,
)
from workers.profiles.ids import now_ms
from workers.profiles.locks import LOCK_TIMEOUT_MS


async def upload(request: Request) -> Response:
    from workers.profiles.schemas import SyncUpload

    member = await caller(request, "sync:write")
    body = await parse_body(request, SyncUpload, sessions.SYNC_MAX_BYTES)
    declared = request.headers.get("content-length", "")
    size = int(declared) if declared.isdigit() else sessions.SYNC_MAX_BYTES  # chunked: assume big
    digest = await sessions.digest_of(body.cookies, body.localStorage, size)
    if body.clientHash is not None and body.clientHash != digest:
        raise InvalidRequest(
            [{"path": "clientHash", "message": "does not match the MD5 of the canonical JSON"}]
        )
    env = env_of(request)
    profiles = profiles_of(env)
    profile_id = request.path_params["id"]
    row = await profiles.get(profile_id, member.team_id)
    if row is None:
        raise HTTPException(404, PROFILE_NOT_FOUND)
    holder, locked_at = row["locked_by"], row["locked_at"]
    if (
        holder is not None
        and holder != request.headers.get(CLIENT_HEADER)
        and locked_at >= now_ms() - LOCK_TIMEOUT_MS
    ):
        return in_use(locked_at)
    if row["session_hash"] == digest:
        return JSONResponse({"synced": False, "skipped": True, "hash": digest})
    await sessions.store(env.R2, profile_id, body.cookies, body.localStorage, digest, size)
    await profiles.synced(profile_id, member.team_id, member.user_id, digest)
    return JSONResponse({"synced": True, "skipped": False, "hash": digest})


async def download(request: Request) -> Response:
    member = await caller(request, "sync:read")
    env = env_of(request)
    profile_id = request.path_params["id"]
    row = await profiles_of(env).get(profile_id, member.team_id)
    if row is None:
        raise HTTPException(404, PROFILE_NOT_FOUND)
    data = await sessions.load(env.R2, profile_id)
    return JSONResponse({**data, "hash": row["session_hash"], "syncedAt": row["synced_at"]})
