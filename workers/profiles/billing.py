"""Plans, limits and each team's subscription state, kept locally from Stripe's events.

A team without a ``team_billing`` row is on ``free``. Stripe's subscription events set the plan
(from the price: the ``STRIPE_PRICE_PLANS`` var maps price ids or lookup keys to plans, else a
lookup key that names a plan), status, period end and cancellation flag. Events can arrive out
of order and more than once: an event older than the last one applied (``created``) changes
nothing, and each event id is applied once — the change and the "processed" mark are one
transaction, guarded on the mark.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from workers.profiles import audit
from workers.profiles.ids import now_ms

log = logging.getLogger("hearth.profiles")

PLANS: dict[str, dict[str, int]] = {
    "free": {"profiles": 10, "members": 3, "proxies": 10},
    "pro": {"profiles": 100, "members": 10, "proxies": 100},
    "business": {"profiles": 1000, "members": 50, "proxies": 1000},
}
DEFAULT_PLAN = "free"
# Stripe statuses that keep the paid plan; others (canceled, unpaid, ...) fall back to free.
PAID_STATUSES = ("active", "trialing", "past_due")
SUBSCRIPTION_EVENTS = (
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
)
CHECKOUT_COMPLETED = "checkout.session.completed"
HANDLED_EVENTS = (*SUBSCRIPTION_EVENTS, CHECKOUT_COMPLETED)


async def plan_of(db: Any, team_id: str) -> str:
    row = await db.prepare("SELECT plan FROM team_billing WHERE team_id = ?").bind(team_id).first()
    return str(row["plan"]) if row else DEFAULT_PLAN


async def limit(db: Any, team_id: str, resource: str) -> int:
    """How many ``resource`` (profiles, members, proxies) the team's plan allows."""
    return PLANS.get(await plan_of(db, team_id), PLANS[DEFAULT_PLAN])[resource]


async def summary(db: Any, team_id: str) -> dict[str, Any]:
    """``{plan, status, limits, usage, currentPeriodEnd, cancelAtPeriodEnd}`` of a team."""
    state, usage = await db.batch(
        [
            db.prepare(
                "SELECT plan, status, current_period_end, cancel_at_period_end, "
                "stripe_customer_id IS NOT NULL AS linked FROM team_billing WHERE team_id = ?"
            ).bind(team_id),
            db.prepare(
                "SELECT (SELECT count(*) FROM profiles WHERE team_id = ?1) AS profiles, "
                "(SELECT count(*) FROM team_members WHERE team_id = ?1) AS members, "
                "(SELECT count(*) FROM proxies WHERE team_id = ?1) AS proxies"
            ).bind(team_id),
        ]
    )
    row = state["results"][0] if state["results"] else {}
    plan = row.get("plan", DEFAULT_PLAN)
    return {
        "plan": plan,
        "status": row.get("status", "active"),
        "limits": PLANS.get(plan, PLANS[DEFAULT_PLAN]),
        "usage": dict(usage["results"][0]),
        "currentPeriodEnd": row.get("current_period_end"),
        "cancelAtPeriodEnd": bool(row.get("cancel_at_period_end", 0)),
        "stripeLinked": bool(row.get("linked", 0)),
    }


def plan_for_price(price: Mapping[str, Any], mapping: Mapping[str, str]) -> str | None:
    """The plan a Stripe price stands for, or None when it is not one of ours."""
    for key in (price.get("id"), price.get("lookup_key")):
        if key and key in mapping and mapping[key] in PLANS:
            return mapping[key]
    lookup = price.get("lookup_key")
    return lookup if lookup in PLANS else None


def _period_end(sub: Mapping[str, Any]) -> int | None:
    """Period end in ms: on the subscription (older API versions) or its first item."""
    seconds = sub.get("current_period_end")
    if seconds is None:
        items = (sub.get("items") or {}).get("data") or [{}]
        seconds = items[0].get("current_period_end")
    return int(seconds) * 1000 if isinstance(seconds, int | float) else None


class StripeEvents:
    """Recording Stripe's events (the webhook) and applying them (the queue consumer)."""

    def __init__(self, db: Any, price_plans: Mapping[str, str] | None = None) -> None:
        self.db = db
        self.price_plans = price_plans or {}

    async def record(self, event: Mapping[str, Any], payload: bytes) -> tuple[bool, bool]:
        """Store an event once; returns (new, still to process)."""
        done = await (
            self.db.prepare(
                "INSERT INTO stripe_events (id, type, created, payload, received_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"
            )
            .bind(event["id"], event["type"], int(event["created"]), payload.decode(), now_ms())
            .run()
        )
        if done["meta"]["changes"]:
            return True, True
        row = await (
            self.db.prepare("SELECT processed_at FROM stripe_events WHERE id = ?")
            .bind(event["id"])
            .first()
        )
        return False, row is not None and row["processed_at"] is None

    async def apply(self, event_id: str) -> str:
        """Apply a recorded event once; returns its outcome (also stored with the event)."""
        row = await (
            self.db.prepare("SELECT payload, processed_at FROM stripe_events WHERE id = ?")
            .bind(event_id)
            .first()
        )
        if row is None:
            return "unknown event"
        if row["processed_at"] is not None:
            return "already processed"
        event = json.loads(row["payload"])
        statements, outcome = await self._changes(event_id, event)
        db = self.db
        # After [upsert, audit entry]: no audit row means the upsert found newer state.
        stale = "CASE WHEN ?2 = 'applied' AND changes() = 0 THEN 'stale' ELSE ?2 END"
        statements.append(
            db.prepare(
                f"UPDATE stripe_events SET processed_at = ?1, outcome = {stale} "
                "WHERE id = ?3 AND processed_at IS NULL RETURNING outcome"
            ).bind(now_ms(), outcome, event_id)
        )
        results = await db.batch(statements)
        marked = results[-1]["results"]
        return str(marked[0]["outcome"]) if marked else "already processed"

    async def _team_for(self, obj: Mapping[str, Any]) -> str | None:
        team_id = (obj.get("metadata") or {}).get("teamId") or obj.get("client_reference_id")
        if team_id:
            found = await self.db.prepare("SELECT id FROM teams WHERE id = ?").bind(team_id).first()
            return str(found["id"]) if found else None
        customer = obj.get("customer")
        if not customer:
            return None
        row = await (
            self.db.prepare("SELECT team_id FROM team_billing WHERE stripe_customer_id = ?")
            .bind(customer)
            .first()
        )
        return str(row["team_id"]) if row else None

    async def _changes(self, event_id: str, event: Mapping[str, Any]) -> tuple[list[Any], str]:
        """The statements applying one event (to run before its "processed" mark) and the
        outcome. The change is guarded on the event still being unprocessed, in the same
        transaction as the mark: a second delivery, even a concurrent one, applies nothing."""
        kind, obj = event["type"], (event.get("data") or {}).get("object") or {}
        if kind not in HANDLED_EVENTS:
            return [], "ignored"
        team_id = await self._team_for(obj)
        if team_id is None:
            log.warning("Stripe event %s (%s): no team for it", event_id, kind)
            return [], "no team"
        if kind == CHECKOUT_COMPLETED:
            state: dict[str, Any] = {
                "stripe_customer_id": obj.get("customer"),
                "stripe_subscription_id": obj.get("subscription"),
            }
        else:
            items = (obj.get("items") or {}).get("data") or [{}]
            plan = plan_for_price(items[0].get("price") or {}, self.price_plans)
            status = "canceled" if kind.endswith(".deleted") else str(obj.get("status"))
            if status not in PAID_STATUSES:
                plan = DEFAULT_PLAN
            elif plan is None:
                log.warning("Stripe event %s: price of no known plan", event_id)
                return [], "unknown price"
            state = {
                "plan": plan,
                "status": status,
                "stripe_customer_id": obj.get("customer"),
                "stripe_subscription_id": None if status == "canceled" else obj.get("id"),
                "current_period_end": _period_end(obj),
                "cancel_at_period_end": int(bool(obj.get("cancel_at_period_end"))),
            }
        columns = list(state)  # fixed names from the dicts above, never from the event
        db = self.db
        upsert = db.prepare(
            f"INSERT INTO team_billing (team_id, {', '.join(columns)}, event_created, updated_at) "
            f"SELECT ?, {', '.join('?' * len(columns))}, ?, ? WHERE EXISTS (SELECT 1 FROM "
            "stripe_events WHERE id = ? AND processed_at IS NULL) "
            "ON CONFLICT (team_id) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in columns)
            + ", event_created = excluded.event_created, updated_at = excluded.updated_at "
            "WHERE team_billing.event_created <= excluded.event_created"
        ).bind(team_id, *state.values(), int(event["created"]), now_ms(), event_id)
        details = {"event": event_id, "type": kind, **state}
        entry = audit.Log(db, team_id, None).entry(
            "billing.update", "team", team_id, None, details, if_changed=True
        )
        return [upsert, entry], "applied"
