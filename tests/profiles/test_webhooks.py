"""``/webhooks/stripe``: signatures (good, bad, stale, replayed, several v1), events applied by
the QUEUE consumer once and in order, and the consumer's handling of bad messages."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from tests.profiles.conftest import WEBHOOK_SECRET
from workers.profiles import stripe


def event(event_id: str, kind: str, obj: dict[str, Any], created: int) -> bytes:
    return json.dumps(
        {"id": event_id, "object": "event", "type": kind, "created": created,
         "data": {"object": obj}}
    ).encode()  # fmt: skip


def subscription(team_id: str | None, price: str = "price_pro_monthly", **extra: Any) -> dict:
    return {
        "id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "active",
        "cancel_at_period_end": False, "metadata": {"teamId": team_id} if team_id else {},
        "items": {"data": [{"price": {"id": price, "lookup_key": None},
                            "current_period_end": 1_802_592_000}]},
        **extra,
    }  # fmt: skip


def now_s(fleet) -> int:
    return int(fleet.clock())


async def deliver(fleet, payload: bytes, *, at: int | None = None, secret: str = WEBHOOK_SECRET,
                  header: str | None = None):  # fmt: skip
    t = now_s(fleet) if at is None else at
    signature = header or f"t={t},v1={stripe.sign(payload, secret, t)}"
    return await fleet.request(
        "POST", "/webhooks/stripe", content=payload,
        headers={"stripe-signature": signature, "content-type": "application/json"},
    )  # fmt: skip


async def processed(fleet, event_id: str) -> str:
    async def done() -> bool:
        rows = await fleet.rows("SELECT processed_at FROM stripe_events WHERE id = ?", event_id)
        return bool(rows and rows[0]["processed_at"])

    await fleet.until(done)
    rows = await fleet.rows("SELECT outcome FROM stripe_events WHERE id = ?", event_id)
    return str(rows[0]["outcome"])


async def team_of(client) -> str:
    return str((await client.get("/api/teams")).json()["teams"][0]["id"])


async def test_a_signed_subscription_event_updates_billing(alice, fleet):
    team = await team_of(alice)
    payload = event("evt_1", "customer.subscription.created", subscription(team), 100)
    response = await deliver(fleet, payload)
    assert (response.status_code, response.json()) == (200, {"received": True, "duplicate": False})
    assert await processed(fleet, "evt_1") == "applied"
    summary = (await alice.get("/api/billing")).json()
    assert (summary["plan"], summary["status"]) == ("pro", "active")
    assert summary["limits"]["profiles"] == 100 and summary["stripeLinked"] is True
    assert summary["currentPeriodEnd"] == 1_802_592_000_000
    log = (await alice.get(f"/api/teams/{team}/audit")).json()["entries"][0]
    assert log["action"] == "billing.update" and log["user_id"] is None
    assert log["details"]["plan"] == "pro" and log["details"]["event"] == "evt_1"


async def test_replay_is_accepted_once(alice, fleet):
    team = await team_of(alice)
    payload = event("evt_r", "customer.subscription.updated", subscription(team), 100)
    t = now_s(fleet)
    assert (await deliver(fleet, payload, at=t)).json()["duplicate"] is False
    await processed(fleet, "evt_r")
    replay = await deliver(fleet, payload, at=t)
    assert (replay.status_code, replay.json()) == (200, {"received": True, "duplicate": True})
    # Applying the same event again (a queue redelivery) changes nothing either.
    await fleet.in_worker("profiles", lambda: _apply(fleet, "evt_r"))
    rows = await fleet.rows("SELECT count(*) AS n FROM audit_log WHERE action = 'billing.update'")
    assert rows == [{"n": 1}]


async def _apply(fleet, event_id: str) -> str:
    from workers.profiles.billing import StripeEvents

    outcome = await StripeEvents(fleet.env.DB).apply(event_id)
    assert outcome == "already processed"
    return outcome


@pytest.mark.parametrize(
    ("make_header", "message"),
    [
        (lambda p, t: None, "Missing Stripe-Signature header"),
        (lambda p, t: f"t={t},v1={stripe.sign(p, 'whsec_wrong', t)}", "No signature matches"),
        (lambda p, t: f"t={t},v1={stripe.sign(p + b' ', WEBHOOK_SECRET, t)}", "No signature"),
        (lambda p, t: f"v1={stripe.sign(p, WEBHOOK_SECRET, t)}", "has no timestamp"),
        (lambda p, t: f"t={t},v0={stripe.sign(p, WEBHOOK_SECRET, t)}", "has no v1 signature"),
        (lambda p, t: f"t=soon,v1={stripe.sign(p, WEBHOOK_SECRET, t)}", "Malformed"),
        (lambda p, t: f"t={t - 301},v1={stripe.sign(p, WEBHOOK_SECRET, t - 301)}", "tolerance"),
        (lambda p, t: f"t={t + 301},v1={stripe.sign(p, WEBHOOK_SECRET, t + 301)}", "tolerance"),
    ],
)
async def test_unverified_payloads_are_refused(fleet, make_header, message):
    payload = event("evt_bad", "customer.subscription.created", subscription("x"), 1)
    t = now_s(fleet)
    header = make_header(payload, t)
    response = await fleet.request(
        "POST", "/webhooks/stripe", content=payload,
        headers={"stripe-signature": header} if header else {},
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["error"].startswith("Invalid signature: ")
    assert message in response.json()["error"]
    assert await fleet.rows("SELECT id FROM stripe_events") == []


async def test_tolerance_edge_and_rolled_secrets(alice, fleet):
    team = await team_of(alice)
    payload = event("evt_edge", "customer.subscription.created", subscription(team), 1)
    t = now_s(fleet) - 300
    header = (
        f"t={t},v1={stripe.sign(payload, 'whsec_old_secret', t)},"
        f"v1={stripe.sign(payload, WEBHOOK_SECRET, t)},v0=ignored"
    )
    response = await deliver(fleet, payload, header=header)
    assert response.status_code == 200, response.text


async def test_not_an_event(fleet):
    for payload in (b"[1]", b"{", json.dumps({"id": "evt", "type": "x"}).encode()):
        response = await deliver(fleet, payload)
        assert (response.status_code, response.json()) == (
            400, {"error": "The payload is not a Stripe event"}
        )  # fmt: skip


async def test_events_apply_in_order_of_creation(alice, fleet):
    team = await team_of(alice)
    newer = event("evt_new", "customer.subscription.updated",
                  subscription(team, "price_business_monthly"), 200)  # fmt: skip
    older = event("evt_old", "customer.subscription.updated", subscription(team), 100)
    await deliver(fleet, newer)
    assert await processed(fleet, "evt_new") == "applied"
    await deliver(fleet, older)
    assert await processed(fleet, "evt_old") == "stale"
    assert (await alice.get("/api/billing")).json()["plan"] == "business"


async def test_checkout_links_the_customer_and_deletion_ends_the_plan(alice, fleet):
    team = await team_of(alice)
    checkout = {"id": "cs_1", "object": "checkout.session", "client_reference_id": team,
                "customer": "cus_9", "subscription": "sub_9"}  # fmt: skip
    await deliver(fleet, event("evt_c", "checkout.session.completed", checkout, 10))
    assert await processed(fleet, "evt_c") == "applied"
    # Later events name only the customer.
    sub = subscription(None, customer="cus_9", id="sub_9", cancel_at_period_end=True)
    await deliver(fleet, event("evt_u", "customer.subscription.updated", sub, 20))
    assert await processed(fleet, "evt_u") == "applied"
    summary = (await alice.get("/api/billing")).json()
    assert summary["plan"] == "pro" and summary["cancelAtPeriodEnd"] is True
    ended = {**sub, "status": "canceled"}
    await deliver(fleet, event("evt_d", "customer.subscription.deleted", ended, 30))
    assert await processed(fleet, "evt_d") == "applied"
    summary = (await alice.get("/api/billing")).json()
    assert (summary["plan"], summary["status"]) == ("free", "canceled")


async def test_events_without_effect_are_recorded(fleet):
    await deliver(fleet, event("evt_i", "invoice.paid", {"id": "in_1"}, 1))
    assert await processed(fleet, "evt_i") == "ignored"
    await deliver(fleet, event("evt_n", "customer.subscription.created", subscription("nope"), 1))
    assert await processed(fleet, "evt_n") == "no team"


async def test_unknown_price_is_not_applied(alice, fleet):
    team = await team_of(alice)
    await deliver(fleet, event("evt_p", "customer.subscription.created",
                               subscription(team, "price_mystery"), 1))  # fmt: skip
    assert await processed(fleet, "evt_p") == "unknown price"
    assert (await alice.get("/api/billing")).json()["plan"] == "free"


async def test_without_a_secret_webhooks_are_refused(start):
    fleet = await start(secrets={"STRIPE_WEBHOOK_SECRET": ""})
    response = await deliver(fleet, event("evt", "invoice.paid", {}, 1))
    assert (response.status_code, response.json()) == (
        503, {"error": "Webhooks are not configured"}
    )  # fmt: skip


async def test_consumer_retries_failures_and_drops_unknown_messages(fleet, caplog):
    caplog.set_level(logging.INFO)
    await fleet.env.QUEUE.send({"type": "nonsense"})
    await fleet.env.QUEUE.send({"type": "sessions.purge", "profileIds": None})  # raises

    def count(text: str) -> int:
        return sum(text in r.getMessage() for r in caplog.records)

    await fleet.until(lambda: count("Dropped message") == 1)
    assert count("failed (attempt") == 4  # max_retries = 3: four attempts, then dropped
    assert count("unknown type 'nonsense'") == 1  # acknowledged, never retried
