"""Who is calling and for which team: the auth worker's identity (``require_scope``) plus the
caller's membership of the team they act on.

The team is the one named by ``X-Team-ID`` (or a ``/api/teams/{id}`` path), else the caller's
personal team. A team the caller does not belong to is answered exactly like one that does not
exist (404), so ids of other teams reveal nothing.

Scopes (an API key's ``permissions`` on the auth worker: ``{"profiles": ["read", "launch"]}``;
sessions and keys without permissions may do everything their user may):
``profiles:read|write|launch``, ``sync:read|write``, ``teams:read|write``,
``proxies:read|write``, ``billing:read``, ``templates:read``.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.requests import Request

from workers.auth.client import Identity, require_scope
from workers.profiles.teams import Teams, rank

TEAM_HEADER = "x-team-id"
TEAM_NOT_FOUND = "Team not found"


@dataclass(frozen=True)
class Caller:
    """An authenticated user acting in one team with a role there."""

    identity: Identity
    team_id: str
    role: str

    @property
    def user_id(self) -> str:
        return self.identity.user_id

    def require(self, role: str) -> None:
        """403 unless the caller's role in the team is at least ``role``."""
        if rank(self.role) < rank(role):
            raise HTTPException(403, f"This needs the {role} role in the team")


async def caller(
    request: Request, scope: str, role: str = "member", team_id: str | None = None
) -> Caller:
    """The caller, allowed ``scope``, with at least ``role`` in the team they act on."""
    identity = await require_scope(request, scope)
    teams = Teams(request.scope["env"].DB)
    team_id = team_id or request.headers.get(TEAM_HEADER)
    if team_id:
        found = await teams.role_of(team_id, identity.user_id)
        if found is None:
            raise HTTPException(404, TEAM_NOT_FOUND)
    else:
        team_id, found = await teams.personal(identity.user_id, identity.name or identity.email)
    member = Caller(identity, team_id, found)
    member.require(role)
    return member
