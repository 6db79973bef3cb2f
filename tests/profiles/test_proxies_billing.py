"""``/api/proxies`` (credentials never shown in full, team isolation, validation, the plan's
limit) and ``/api/billing`` (plan and usage from the local subscription state)."""

from __future__ import annotations

import json

import pytest

from workers.profiles import billing

PROXY = {"name": "Residential DE", "type": "socks5", "host": "proxy.example.net", "port": 1080,
         "username": "customer-4711", "password": "s3cr3t-pass"}  # fmt: skip


async def test_proxy_crud_masks_credentials(alice, fleet):
    made = await alice.post("/api/proxies", PROXY)
    assert made.status_code == 201, made.text
    proxy = made.json()
    assert proxy["username"] == "cu***" and proxy["hasPassword"] is True
    assert "password" not in proxy and "s3cr3t" not in made.text and "4711" not in made.text
    pid = proxy["id"]
    for response in (await alice.get("/api/proxies"), await alice.get(f"/api/proxies/{pid}")):
        assert "s3cr3t" not in response.text and "customer-4711" not in response.text
    assert (await alice.get("/api/proxies")).json()["total"] == 1

    updated = await alice.put(f"/api/proxies/{pid}", {"port": 1081, "password": None})
    assert updated.json()["port"] == 1081 and updated.json()["hasPassword"] is False
    row = (await fleet.rows("SELECT username, password FROM proxies"))[0]
    assert row == {"username": "customer-4711", "password": None}
    log = await fleet.rows("SELECT details FROM audit_log WHERE action LIKE 'proxy.%'")
    assert all("s3cr3t" not in (r["details"] or "") for r in log)
    assert json.loads(log[-1]["details"]) == {"port": 1081, "password": "***"}

    nulls = await alice.put(f"/api/proxies/{pid}", {"host": None})
    assert nulls.status_code == 400 and nulls.json()["details"][0]["path"] == "host"
    assert (await alice.delete(f"/api/proxies/{pid}")).json() == {"success": True}
    assert (await alice.get(f"/api/proxies/{pid}")).status_code == 404
    assert (await alice.delete(f"/api/proxies/{pid}")).status_code == 404


async def test_deleting_a_proxy_unlinks_its_profiles(alice):
    proxy = (await alice.post("/api/proxies", PROXY)).json()
    made = await alice.profile(proxyId=proxy["id"])
    await alice.delete(f"/api/proxies/{proxy['id']}")
    assert (await alice.get(f"/api/profiles/{made['id']}")).json()["proxy_id"] is None


async def test_proxies_are_per_team(alice, bob):
    theirs = (await bob.post("/api/proxies", PROXY)).json()
    assert (await alice.get("/api/proxies")).json() == {"proxies": [], "total": 0}
    for method, body in (("GET", None), ("PUT", {"port": 2}), ("DELETE", None)):
        response = await alice.request(method, f"/api/proxies/{theirs['id']}", json=body)
        assert (response.status_code, response.json()) == (404, {"error": "Proxy not found"})


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"type": "ftp"}, "type"), ({"port": 0}, "port"), ({"port": 65536}, "port"),
        ({"port": "80"}, "port"), ({"host": "bad host"}, "host"), ({"name": ""}, "name"),
        ({"password": "p" * 256}, "password"),
    ],
)  # fmt: skip
async def test_proxy_validation(alice, change, path):
    response = await alice.post("/api/proxies", {**PROXY, **change})
    assert response.status_code == 400
    assert [d["path"] for d in response.json()["details"]] == [path]


async def test_billing_summary_and_plans(alice, fleet):
    await alice.profile()
    await alice.post("/api/proxies", PROXY)
    summary = (await alice.get("/api/billing")).json()
    assert summary["plan"] == "free" and summary["status"] == "active"
    assert summary["usage"] == {"profiles": 1, "members": 1, "proxies": 1}
    assert summary["limits"] == {"profiles": 10, "members": 3, "proxies": 10}
    assert summary["cancelAtPeriodEnd"] is False and summary["stripeLinked"] is False
    plans = (await alice.get("/api/billing/plans")).json()["plans"]
    assert set(plans) == {"free", "pro", "business"}


async def test_proxy_limit(alice, monkeypatch):
    monkeypatch.setitem(billing.PLANS["free"], "proxies", 1)
    assert (await alice.post("/api/proxies", PROXY)).status_code == 201
    refused = await alice.post("/api/proxies", PROXY)
    assert refused.json() == {"error": "The team's plan allows 1 proxies"}
