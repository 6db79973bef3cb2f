"""Work that can wait: the QUEUE consumer's messages and the cron's cleanup.

Messages (JSON bodies): ``{"type": "stripe.event", "id": "evt_..."}`` applies a recorded
Stripe event (once, however often delivered); ``{"type": "sessions.purge", "profileIds":
[...]}`` deletes profiles' session data from R2 (after a team is deleted). A message whose
handling fails is retried (the consumer's ``max_retries``); an unknown type is logged and
acknowledged, since retrying cannot help it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from workers.profiles import sessions
from workers.profiles.billing import StripeEvents
from workers.profiles.locks import Locks

log = logging.getLogger("hearth.profiles")

STRIPE_EVENT = "stripe.event"
PURGE_SESSIONS = "sessions.purge"
PURGE_IDS_PER_MESSAGE = 100
QUEUE_BATCH_MAX = 100  # messages per sendBatch


def price_plans(env: Any) -> Mapping[str, str]:
    """The ``STRIPE_PRICE_PLANS`` var (a table, or JSON text): price id or lookup key → plan."""
    value = getattr(env, "STRIPE_PRICE_PLANS", None) or {}
    return json.loads(value) if isinstance(value, str) else dict(value)


async def send_purges(queue: Any, profile_ids: list[str]) -> None:
    """Queue the deletion of these profiles' session data."""
    step = PURGE_IDS_PER_MESSAGE
    messages = [
        {"body": {"type": PURGE_SESSIONS, "profileIds": profile_ids[i : i + step]}}
        for i in range(0, len(profile_ids), step)
    ]
    for start in range(0, len(messages), QUEUE_BATCH_MAX):
        await queue.sendBatch(messages[start : start + QUEUE_BATCH_MAX])


async def handle(env: Any, body: Mapping[str, Any]) -> None:
    """Do what one message asks."""
    kind = body.get("type") if isinstance(body, Mapping) else None
    if kind == STRIPE_EVENT:
        outcome = await StripeEvents(env.DB, price_plans(env)).apply(str(body["id"]))
        log.info("Stripe event %s: %s", body["id"], outcome)
    elif kind == PURGE_SESSIONS:
        await sessions.purge(env.R2, [str(pid) for pid in body["profileIds"]])
    else:
        log.warning("queue message of unknown type %r dropped", kind)


async def consume(batch: Any, env: Any) -> None:
    """The queue handler: each message acked when done, retried when it failed."""
    for message in batch.messages:
        try:
            await handle(env, message.body)
        except Exception:
            log.exception("queue message %s failed (attempt %s)", message.id, message.attempts)
            message.retry()
        else:
            message.ack()


async def cleanup(env: Any, now_ms: int) -> dict[str, int]:
    """The cron: free locks without a heartbeat for 5 minutes, drop expired invitations."""
    freed = await Locks(env.DB).release_stale(now_ms)
    expired = await (
        env.DB.prepare("DELETE FROM team_invites WHERE expires_at <= ?").bind(now_ms).run()
    )
    result = {"locksReleased": freed, "invitesExpired": int(expired["meta"]["changes"])}
    log.info("profiles cleanup: %s", result)
    return result
