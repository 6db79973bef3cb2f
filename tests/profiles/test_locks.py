"""Profile locks over HTTP: one winner among concurrent launches, heartbeat and release by the
holder only, takeover of a stale lock, and the cron that frees abandoned ones."""

from __future__ import annotations

import asyncio

from workers.profiles.ids import iso
from workers.profiles.locks import LOCK_TIMEOUT_MS


def client(name: str) -> dict[str, str]:
    return {"x-client-id": name}


async def test_launch_returns_the_profile_session_and_proxy(alice, fleet):
    proxy = await alice.post(
        "/api/proxies",
        {"name": "res", "type": "socks5", "host": "10.0.0.9", "port": 1080,
         "username": "customer-77", "password": "hunter22"},
    )  # fmt: skip
    made = await alice.profile(proxyId=proxy.json()["id"], proxy="http://u1:p1@10.0.0.1:3128")
    await alice.post(
        f"/api/sync/{made['id']}",
        {"cookies": [{"name": "sid", "value": "abc"}], "localStorage": {"k": "v"}},
    )
    launched = await alice.post(f"/api/profiles/{made['id']}/launch", headers=client("laptop"))
    assert launched.status_code == 200, launched.text
    body = launched.json()
    assert body["lockAcquired"] is True and body["heartbeatIntervalMs"] == 15_000
    assert body["profile"]["locked_by"] == "laptop" and body["profile"]["launch_count"] == 1
    assert body["profile"]["proxy"] == "http://u1:p1@10.0.0.1:3128"  # the holder gets it whole
    assert body["sessionData"] == {
        "cookies": [{"name": "sid", "value": "abc"}],
        "localStorage": {"k": "v"},
    }
    assert body["proxy"]["username"] == "customer-77" and body["proxy"]["password"] == "hunter22"
    # Elsewhere the credentials stay masked.
    shown = (await alice.get(f"/api/profiles/{made['id']}")).json()
    assert shown["proxy"] == "http://***:***@10.0.0.1:3128"  # short names are hidden whole
    listed = (await alice.get(f"/api/proxies/{proxy.json()['id']}")).json()
    assert listed["username"] == "cu***" and listed["hasPassword"] is True
    assert "password" not in listed


async def test_launch_needs_a_client_id(alice):
    made = await alice.profile()
    for path in ("launch", "heartbeat", "release"):
        missing = await alice.post(f"/api/profiles/{made['id']}/{path}")
        assert (missing.status_code, missing.json()) == (
            400, {"error": "X-Client-ID header required"}
        )  # fmt: skip
        bad = await alice.post(f"/api/profiles/{made['id']}/{path}", headers=client("a b"))
        assert bad.status_code == 400


async def test_twenty_concurrent_launches_have_one_winner(alice, fleet):
    made = await alice.profile()
    path = f"/api/profiles/{made['id']}/launch"
    responses = await asyncio.gather(
        *(alice.post(path, headers=client(f"client-{i}")) for i in range(20))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * 19
    winner = next(r for r in responses if r.status_code == 200).json()["profile"]["locked_by"]
    row = (await fleet.rows("SELECT locked_by, launch_count FROM profiles"))[0]
    assert row == {"locked_by": winner, "launch_count": 1}
    for r in responses:
        if r.status_code == 409:
            body = r.json()
            assert body["lastActive"] == iso(int(fleet.clock() * 1000))
            assert body["error"].startswith("Profile is in use by another session")
    audit = await fleet.rows("SELECT details FROM audit_log WHERE action = 'profile.launch'")
    assert audit == [{"details": f'{{"clientId":"{winner}"}}'}]


async def test_same_client_relaunches_and_others_wait_for_staleness(alice, fleet):
    made = await alice.profile()
    path = f"/api/profiles/{made['id']}/launch"
    assert (await alice.post(path, headers=client("one"))).status_code == 200
    assert (await alice.post(path, headers=client("one"))).status_code == 200  # refresh
    fleet.clock.advance(LOCK_TIMEOUT_MS / 1000)  # exactly 5 minutes: not stale yet
    busy = await alice.post(path, headers=client("two"))
    assert busy.status_code == 409
    fleet.clock.advance(0.001)
    taken = await alice.post(path, headers=client("two"))
    assert taken.status_code == 200 and taken.json()["profile"]["launch_count"] == 3
    # The old holder has lost it: its heartbeat and release do nothing.
    lost = await alice.post(f"/api/profiles/{made['id']}/heartbeat", headers=client("one"))
    assert (lost.status_code, lost.json()) == (409, {"error": "Lock not found or expired"})
    released = await alice.post(f"/api/profiles/{made['id']}/release", headers=client("one"))
    assert released.json() == {"success": False}
    assert (await alice.get(f"/api/profiles/{made['id']}")).json()["locked_by"] == "two"


async def test_heartbeat_keeps_and_release_frees_the_lock(alice, fleet):
    made = await alice.profile()
    base = f"/api/profiles/{made['id']}"
    await alice.post(base + "/launch", headers=client("one"))
    for _ in range(3):
        fleet.clock.advance(200)  # each gap is under five minutes, the total is over
        beat = await alice.post(base + "/heartbeat", headers=client("one"))
        assert beat.json() == {"success": True}
    assert (await alice.post(base + "/launch", headers=client("two"))).status_code == 409
    released = await alice.post(base + "/release", headers=client("one"))
    assert released.json() == {"success": True}
    assert (await alice.post(base + "/launch", headers=client("two"))).status_code == 200
    actions = [r["action"] for r in await fleet.rows("SELECT action FROM audit_log ORDER BY id")]
    assert actions[-3:] == ["profile.launch", "profile.release", "profile.launch"]


async def test_cron_releases_stale_locks(alice, fleet):
    stale, fresh = await alice.profile("stale"), await alice.profile("fresh")
    await alice.post(f"/api/profiles/{stale['id']}/launch", headers=client("gone"))
    fleet.clock.advance(LOCK_TIMEOUT_MS / 1000 + 1)
    await alice.post(f"/api/profiles/{fresh['id']}/launch", headers=client("alive"))
    now_ms = int(fleet.clock() * 1000)
    ran = await fleet.request(
        "GET", "/__scheduled", params={"cron": "0 */6 * * *", "time": str(now_ms)}
    )
    assert (ran.status_code, ran.text) == (200, "ok")
    rows = {
        r["name"]: r["locked_by"] for r in await fleet.rows("SELECT name, locked_by FROM profiles")
    }
    assert rows == {"stale": None, "fresh": "alive"}
    expired = await fleet.rows(
        "SELECT target_id, user_id, details FROM audit_log WHERE action = 'profile.lock_expired'"
    )
    assert expired == [
        {"target_id": stale["id"], "user_id": None,
         "details": f'{{"clientId":"gone","lockedAt":{now_ms - LOCK_TIMEOUT_MS - 1000}}}'}
    ]  # fmt: skip
    # A second run finds nothing more to do.
    again = await fleet.in_worker(
        "profiles", lambda: fleet.h.worker("profiles").call("scheduled", _Controller(now_ms))
    )
    assert again is None
    assert (
        len(await fleet.rows("SELECT 1 FROM audit_log WHERE action = 'profile.lock_expired'")) == 1
    )


class _Controller:
    cron = "0 */6 * * *"

    def __init__(self, scheduled_time: int) -> None:
        self.scheduledTime = scheduled_time

    def noRetry(self) -> None:
        pass
