"""The profiles worker (seed 002): a browser-profile fleet API for teams.

Routes (docs/apps/profiles.md): ``/health``, ``/webhooks/stripe`` (public), and behind
API-key (or session) auth ``/api/profiles``, ``/api/sync``, ``/api/templates``, ``/api/teams``,
``/api/proxies``, ``/api/billing``. The seed's middleware chain, outermost first: secure
headers + response time, pretty JSON, CORS from ``CORS_ORIGINS``, then for ``/api/*`` the rate
limit and authentication. Errors are JSON: 400 with ``details`` for invalid input, 404 for
unknown paths, 500 without internals. ``Default`` also consumes the QUEUE and runs the cron.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from workers import asgi
from workers.auth.client import exception_handlers as auth_errors
from workers.common.cors import AllowlistCORS
from workers.common.http import exception_handlers as http_errors
from workers.common.validation import exception_handlers as validation_errors
from workers.profiles import tasks
from workers.profiles.handlers import billing, profiles, proxies, sync, teams, templates, webhooks
from workers.profiles.ids import now_ms
from workers.profiles.middleware import ApiGuard, PrettyJSON, SecureHeaders

__all__ = ["Default", "app"]

VERSION = "1.0.0"
GET, POST, PUT, DELETE = ["GET"], ["POST"], ["PUT"], ["DELETE"]


async def health(request: Request) -> Response:
    return JSONResponse({"status": "healthy", "timestamp": now_ms(), "version": VERSION})


async def on_error(request: Request, exc: Exception) -> Response:
    """The seed's ``onError``: a bare 500. Starlette re-raises after answering, and the host
    writes the traceback to the log (once)."""
    return JSONResponse({"error": "Internal Server Error"}, status_code=500)


P, T = "/api/profiles", "/api/teams"
routes = [
    Route("/health", health, methods=GET),
    Route("/webhooks/stripe", webhooks.stripe_webhook, methods=POST),
    Route(P, profiles.list_profiles, methods=GET),
    Route(P, profiles.create_profile, methods=POST),
    Route(P + "/{id}", profiles.get_profile, methods=GET),
    Route(P + "/{id}", profiles.update_profile, methods=PUT),
    Route(P + "/{id}", profiles.delete_profile, methods=DELETE),
    Route(P + "/{id}/launch", profiles.launch, methods=POST),
    Route(P + "/{id}/heartbeat", profiles.heartbeat, methods=POST),
    Route(P + "/{id}/release", profiles.release, methods=POST),
    Route("/api/sync/{id}", sync.download, methods=GET),
    Route("/api/sync/{id}", sync.upload, methods=POST),
    Route("/api/templates", templates.list_templates, methods=GET),
    Route("/api/templates/{id}", templates.get_template, methods=GET),
    Route("/api/templates/{id}/preview", templates.preview, methods=GET),
    Route(T, teams.list_teams, methods=GET),
    Route(T, teams.create_team, methods=POST),
    Route(T + "/invitations", teams.my_invitations, methods=GET),
    Route(T + "/invitations/{inviteId}/accept", teams.accept_invitation, methods=POST),
    Route(T + "/{id}", teams.get_team, methods=GET),
    Route(T + "/{id}", teams.update_team, methods=PUT),
    Route(T + "/{id}", teams.delete_team, methods=DELETE),
    Route(T + "/{id}/members/{userId}", teams.update_member, methods=PUT),
    Route(T + "/{id}/members/{userId}", teams.remove_member, methods=DELETE),
    Route(T + "/{id}/invites", teams.team_invites, methods=GET),
    Route(T + "/{id}/invites", teams.invite, methods=POST),
    Route(T + "/{id}/invites/{inviteId}", teams.revoke_invite, methods=DELETE),
    Route(T + "/{id}/audit", teams.audit_log, methods=GET),
    Route("/api/proxies", proxies.list_proxies, methods=GET),
    Route("/api/proxies", proxies.create_proxy, methods=POST),
    Route("/api/proxies/{id}", proxies.get_proxy, methods=GET),
    Route("/api/proxies/{id}", proxies.update_proxy, methods=PUT),
    Route("/api/proxies/{id}", proxies.delete_proxy, methods=DELETE),
    Route("/api/billing", billing.get_billing, methods=GET),
    Route("/api/billing/plans", billing.plans, methods=GET),
]

CORS_HEADERS = ["Content-Type", "Authorization", "X-Client-ID", "X-Team-ID", "X-API-Key"]
app = Starlette(
    routes=routes,
    middleware=[
        Middleware(SecureHeaders),
        Middleware(PrettyJSON),
        Middleware(
            AllowlistCORS,
            methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
            headers=CORS_HEADERS,
            credentials=True,
            expose=["X-Response-Time", "Retry-After"],
        ),
        Middleware(ApiGuard),
    ],
    exception_handlers={**http_errors, **validation_errors, **auth_errors, Exception: on_error},
)


class Default(asgi.entrypoint(app)):  # type: ignore[misc]
    """Fetch goes straight to ``app``; the QUEUE consumer and the cron live here too."""

    async def queue(self, batch: Any, env: Any, ctx: Any) -> None:
        await tasks.consume(batch, env)

    async def scheduled(self, controller: Any, env: Any, ctx: Any) -> None:
        await tasks.cleanup(env, int(controller.scheduledTime))
