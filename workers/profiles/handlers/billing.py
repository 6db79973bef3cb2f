"""``/api/billing``: the team's plan, limits and usage (from the subscription state Stripe's
webhooks keep), and the plans there are."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from workers.auth.client import require_scope
from workers.profiles import billing
from workers.profiles.caller import caller
from workers.profiles.handlers.profiles import env_of


async def get_billing(request: Request) -> Response:
    member = await caller(request, "billing:read")
    summary = await billing.summary(env_of(request).DB, member.team_id)
    return JSONResponse({"teamId": member.team_id, **summary})


async def plans(request: Request) -> Response:
    await require_scope(request, "billing:read")
    return JSONResponse({"plans": billing.PLANS})
