"""``/webhooks/stripe``: public, proven by Stripe's signature instead of a key.

A verified event is stored once by id and handed to the QUEUE (the consumer applies it), so
the answer is quick and a retried delivery, or a replayed request, changes nothing twice. An
event stored but not yet applied is queued again when Stripe retries it (the consumer applies
it once either way).
"""

from __future__ import annotations

import json
import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from workers.common.http import read_body
from workers.profiles import stripe
from workers.profiles.billing import StripeEvents
from workers.profiles.handlers.profiles import env_of
from workers.profiles.ids import now_ms
from workers.profiles.tasks import STRIPE_EVENT, price_plans

log = logging.getLogger("hearth.profiles")
MAX_EVENT_BYTES = 512 * 1024
SECRET = "STRIPE_WEBHOOK_SECRET"  # noqa: S105 - the secret's name in env, not a secret


async def stripe_webhook(request: Request) -> Response:
    env = env_of(request)
    secret = getattr(env, SECRET, None)
    if not secret:
        log.error("%s is not set (.dev.vars or a secret): Stripe webhooks are refused", SECRET)
        raise HTTPException(503, "Webhooks are not configured")
    payload = await read_body(request, MAX_EVENT_BYTES)
    try:
        stripe.verify(payload, request.headers.get("stripe-signature"), secret, now_ms() / 1000)
    except stripe.SignatureError as exc:
        raise HTTPException(400, f"Invalid signature: {exc}") from None
    try:
        event = json.loads(payload)
        valid = (
            isinstance(event, dict)
            and isinstance(event.get("id"), str)
            and isinstance(event.get("type"), str)
            and isinstance(event.get("created"), int)
        )
    except ValueError:
        valid = False
    if not valid:
        raise HTTPException(400, "The payload is not a Stripe event")
    new, pending = await StripeEvents(env.DB, price_plans(env)).record(event, payload)
    if pending:
        await env.QUEUE.send({"type": STRIPE_EVENT, "id": event["id"]})
    return JSONResponse({"received": True, "duplicate": not new})
