"""``/api/teams``: the caller's teams, a team with its members, invitations by email, roles,
and the team's audit log.

Roles: members read the team; admins rename it, invite, change and remove members (not owners)
and read the audit log; owners also grant and take the owner role and delete the team. Anyone
may leave, except the last owner and a personal team's owner.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from workers.auth.client import require_scope
from workers.common.validation import parse_body, parse_query
from workers.profiles import audit, billing
from workers.profiles.caller import TEAM_NOT_FOUND, Caller, caller
from workers.profiles.handlers.profiles import env_of
from workers.profiles.tasks import send_purges
from workers.profiles.teams import Teams

MEMBER_NOT_FOUND = "Member not found"


async def _team(request: Request, scope: str, role: str = "member") -> Caller:
    return await caller(request, scope, role, team_id=request.path_params["id"])


async def _team_json(request: Request, team_id: str) -> dict[str, object]:
    team = await Teams(env_of(request).DB).get(team_id)
    if team is None:
        raise HTTPException(404, TEAM_NOT_FOUND)
    return team


async def list_teams(request: Request) -> Response:
    identity = await require_scope(request, "teams:read")
    teams = Teams(env_of(request).DB)
    await teams.personal(identity.user_id, identity.name or identity.email)
    return JSONResponse({"teams": await teams.of_user(identity.user_id)})


async def create_team(request: Request) -> Response:
    from workers.profiles.schemas import CreateTeam

    identity = await require_scope(request, "teams:write")
    body = await parse_body(request, CreateTeam)
    team_id = await Teams(env_of(request).DB).create(body.name, identity.user_id)
    return JSONResponse(await _team_json(request, team_id), status_code=201)


async def get_team(request: Request) -> Response:
    member = await _team(request, "teams:read")
    return JSONResponse({**await _team_json(request, member.team_id), "role": member.role})


async def update_team(request: Request) -> Response:
    from workers.profiles.schemas import CreateTeam

    member = await _team(request, "teams:write", "admin")
    body = await parse_body(request, CreateTeam)
    await Teams(env_of(request).DB).rename(member.team_id, body.name, member.user_id)
    return JSONResponse(await _team_json(request, member.team_id))


async def delete_team(request: Request) -> Response:
    """Delete the team with its profiles, proxies and log; session data goes via the queue."""
    member = await _team(request, "teams:write", "owner")
    env = env_of(request)
    deleted, profile_ids = await Teams(env.DB).delete(member.team_id)
    if not deleted:
        raise HTTPException(409, "A personal team cannot be deleted")
    await send_purges(env.QUEUE, profile_ids)
    return JSONResponse({"success": True, "profilesDeleted": len(profile_ids)})


async def update_member(request: Request) -> Response:
    from workers.profiles.schemas import UpdateMember

    member = await _team(request, "teams:write", "admin")
    body = await parse_body(request, UpdateMember)
    teams = Teams(env_of(request).DB)
    user_id = request.path_params["userId"]
    current = await teams.role_of(member.team_id, user_id)
    if current is None:
        raise HTTPException(404, MEMBER_NOT_FOUND)
    if "owner" in (current, body.role):
        member.require("owner")
    if not await teams.set_role(member.team_id, user_id, body.role, member.user_id):
        raise HTTPException(409, "A team needs at least one owner")
    return JSONResponse({"user_id": user_id, "role": body.role})


async def remove_member(request: Request) -> Response:
    user_id = request.path_params["userId"]
    member = await _team(request, "teams:write")
    teams = Teams(env_of(request).DB)
    current = await teams.role_of(member.team_id, user_id)
    if current is None:
        raise HTTPException(404, MEMBER_NOT_FOUND)
    if user_id != member.user_id:
        member.require("owner" if current == "owner" else "admin")
    if not await teams.remove(member.team_id, user_id, member.user_id):
        raise HTTPException(409, "The last owner, or a personal team's owner, cannot leave")
    return JSONResponse({"success": True})


async def invite(request: Request) -> Response:
    from workers.profiles.schemas import Invite

    member = await _team(request, "teams:write", "admin")
    body = await parse_body(request, Invite)
    made = await Teams(env_of(request).DB).invite(
        member.team_id, body.email, body.role, member.user_id
    )
    return JSONResponse(made, status_code=201)


async def team_invites(request: Request) -> Response:
    member = await _team(request, "teams:read", "admin")
    return JSONResponse(
        {"invites": await Teams(env_of(request).DB).invites_of_team(member.team_id)}
    )


async def revoke_invite(request: Request) -> Response:
    member = await _team(request, "teams:write", "admin")
    teams = Teams(env_of(request).DB)
    if not await teams.revoke(member.team_id, request.path_params["inviteId"], member.user_id):
        raise HTTPException(404, "Invitation not found")
    return JSONResponse({"success": True})


async def my_invitations(request: Request) -> Response:
    """The invitations addressed to the caller's email."""
    identity = await require_scope(request, "teams:read")
    return JSONResponse({"invites": await Teams(env_of(request).DB).invites_for(identity.email)})


async def accept_invitation(request: Request) -> Response:
    identity = await require_scope(request, "teams:write")
    db = env_of(request).DB
    teams = Teams(db)
    found = await teams.pending(request.path_params["inviteId"], identity.email)
    if found is None:
        raise HTTPException(404, "Invitation not found")
    allowed = await billing.limit(db, found["team_id"], "members")
    if not await teams.join(found, identity.user_id, identity.email, allowed):
        raise HTTPException(403, f"The team's plan allows {allowed} members")
    return JSONResponse(await _team_json(request, found["team_id"]))


async def audit_log(request: Request) -> Response:
    from workers.profiles.schemas import Page

    member = await _team(request, "teams:read", "admin")
    page = parse_query(request, Page)
    return JSONResponse(
        await audit.page(env_of(request).DB, member.team_id, page.limit, page.offset)
    )
