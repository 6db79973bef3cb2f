"""``/api/teams``: personal teams, shared teams, invitations by email, roles and their limits,
the audit log (paginated, per team), and acting in a team with ``X-Team-ID``."""

from __future__ import annotations

import pytest

from tests.profiles.conftest import CAROL
from workers.profiles import billing


async def shared_team(alice, bob, role: str = "member") -> str:
    """A team of Alice's that Bob joined with ``role``."""
    made = await alice.post("/api/teams", {"name": "Agency"})
    assert made.status_code == 201, made.text
    team_id = made.json()["id"]
    invite = await alice.post(f"/api/teams/{team_id}/invites", {"email": bob.email.upper(),
                                                                "role": role})  # fmt: skip
    assert invite.status_code == 201, invite.text
    mine = (await bob.get("/api/teams/invitations")).json()["invites"]
    assert [(i["team_id"], i["team_name"], i["role"]) for i in mine] == [(team_id, "Agency", role)]
    joined = await bob.post(f"/api/teams/invitations/{mine[0]['id']}/accept")
    assert joined.status_code == 200, joined.text
    return str(team_id)


async def test_personal_team_is_made_once(alice, fleet):
    listed = await alice.get("/api/teams")
    teams = listed.json()["teams"]
    assert len(teams) == 1 and teams[0]["personal"] is True and teams[0]["role"] == "owner"
    assert teams[0]["name"] == "Alice's team" and teams[0]["members"] == 1
    await alice.profile()
    assert (await alice.get("/api/teams")).json()["teams"] == teams
    assert len(await fleet.rows("SELECT id FROM teams")) == 1


async def test_concurrent_first_calls_make_one_personal_team(fleet):
    import asyncio

    carol = await fleet.client(CAROL, "Carol")
    responses = await asyncio.gather(*(carol.get("/api/profiles") for _ in range(10)))
    assert {r.status_code for r in responses} == {200}
    assert len(await fleet.rows("SELECT id FROM teams WHERE personal_owner = ?", carol.id)) == 1


async def test_shared_team_profiles_are_seen_by_members_only(alice, bob, fleet):
    team_id = await shared_team(alice, bob)
    made = await alice.profile("team profile", team=team_id)
    assert made["team_id"] == team_id
    seen = await bob.get("/api/profiles", team=team_id)
    assert [p["id"] for p in seen.json()["profiles"]] == [made["id"]]
    assert (await bob.get("/api/profiles")).json()["total"] == 0  # Bob's personal team
    carol = await fleet.client(CAROL, "Carol")
    outsider = await carol.get(f"/api/profiles/{made['id']}", team=team_id)
    assert (outsider.status_code, outsider.json()) == (404, {"error": "Team not found"})
    team = (await bob.get(f"/api/teams/{team_id}")).json()
    assert team["role"] == "member" and team["personal"] is False
    assert {(m["email"], m["role"]) for m in team["members"]} == {
        (alice.email, "owner"), (bob.email, "member")
    }  # fmt: skip


async def test_roles_limit_what_members_do(alice, bob):
    team_id = await shared_team(alice, bob)
    base = f"/api/teams/{team_id}"
    needs_admin = [
        ("PUT", base, {"name": "Mine"}),
        ("POST", base + "/invites", {"email": "x@example.com"}),
        ("GET", base + "/invites", None),
        ("GET", base + "/audit", None),
        ("PUT", f"{base}/members/{alice.id}", {"role": "member"}),
        ("POST", "/api/proxies", {"name": "p", "type": "http", "host": "h", "port": 1}),
    ]
    for method, path, body in needs_admin:
        response = await bob.request(method, path, json=body, team=team_id)
        assert response.status_code == 403, (method, path)
        assert response.json() == {"error": "This needs the admin role in the team"}
    for path in (base, f"{base}/members/{alice.id}"):  # the team; its owner
        deleted = await bob.delete(path)
        assert deleted.json() == {"error": "This needs the owner role in the team"}

    promoted = await alice.put(f"{base}/members/{bob.id}", {"role": "admin"})
    assert promoted.json() == {"user_id": bob.id, "role": "admin"}
    assert (await bob.put(base, {"name": "Renamed"})).json()["name"] == "Renamed"
    # An admin cannot touch owners or make new ones.
    for body in ({"role": "owner"},):
        refused = await bob.put(f"{base}/members/{bob.id}", body)
        assert refused.json() == {"error": "This needs the owner role in the team"}
    refused = await bob.delete(f"{base}/members/{alice.id}")
    assert refused.status_code == 403


async def test_last_owner_stays(alice, bob):
    team_id = await shared_team(alice, bob)
    base = f"/api/teams/{team_id}"
    demote = await alice.put(f"{base}/members/{alice.id}", {"role": "admin"})
    assert (demote.status_code, demote.json()) == (
        409,
        {"error": "A team needs at least one owner"},
    )
    leave = await alice.delete(f"{base}/members/{alice.id}")
    assert leave.status_code == 409
    await alice.put(f"{base}/members/{bob.id}", {"role": "owner"})
    assert (await alice.put(f"{base}/members/{alice.id}", {"role": "member"})).status_code == 200
    assert (await bob.delete(f"{base}/members/{alice.id}")).json() == {"success": True}
    gone = await alice.get(base)
    assert (gone.status_code, gone.json()) == (404, {"error": "Team not found"})
    missing = await bob.put(f"{base}/members/{alice.id}", {"role": "admin"})
    assert (missing.status_code, missing.json()) == (404, {"error": "Member not found"})


async def test_personal_team_cannot_be_left_or_deleted(alice):
    personal = (await alice.get("/api/teams")).json()["teams"][0]["id"]
    assert (await alice.delete(f"/api/teams/{personal}/members/{alice.id}")).status_code == 409
    deleted = await alice.delete(f"/api/teams/{personal}")
    assert (deleted.status_code, deleted.json()) == (
        409, {"error": "A personal team cannot be deleted"}
    )  # fmt: skip


async def test_invitations(alice, bob, fleet):
    team = (await alice.post("/api/teams", {"name": "Ops"})).json()["id"]
    base = f"/api/teams/{team}/invites"
    bad = await alice.post(base, {"email": "not-an-email", "role": "owner"})
    assert {d["path"] for d in bad.json()["details"]} == {"email", "role"}
    first = (await alice.post(base, {"email": bob.email})).json()
    again = (await alice.post(base, {"email": bob.email, "role": "admin"})).json()
    assert again["id"] == first["id"] and again["role"] == "admin"  # renewed, not doubled
    assert [i["email"] for i in (await alice.get(base)).json()["invites"]] == [bob.email]
    # Someone else cannot accept Bob's invitation.
    carol = await fleet.client(CAROL, "Carol")
    stolen = await carol.post(f"/api/teams/invitations/{first['id']}/accept")
    assert (stolen.status_code, stolen.json()) == (404, {"error": "Invitation not found"})
    assert (await alice.delete(f"{base}/{first['id']}")).json() == {"success": True}
    assert (await bob.post(f"/api/teams/invitations/{first['id']}/accept")).status_code == 404
    # Expired invitations are not shown, cannot be used, and the cron drops them.
    await alice.post(base, {"email": CAROL})
    fleet.clock.advance(8 * 24 * 3600)
    assert (await carol.get("/api/teams/invitations")).json() == {"invites": []}
    await fleet.request("GET", "/__scheduled", params={"cron": "0 */6 * * *"})
    assert await fleet.rows("SELECT id FROM team_invites") == []


async def test_member_limit_of_the_plan(alice, bob, monkeypatch):
    team = (await alice.post("/api/teams", {"name": "Small"})).json()["id"]
    invite = (await alice.post(f"/api/teams/{team}/invites", {"email": bob.email})).json()
    with monkeypatch.context() as patch:
        patch.setitem(billing.PLANS["free"], "members", 1)
        full = await bob.post(f"/api/teams/invitations/{invite['id']}/accept")
        assert (full.status_code, full.json()) == (
            403, {"error": "The team's plan allows 1 members"}
        )  # fmt: skip
    assert (await bob.post(f"/api/teams/invitations/{invite['id']}/accept")).status_code == 200


async def test_delete_team_purges_its_profiles_through_the_queue(alice, bob, fleet):
    team_id = await shared_team(alice, bob)
    made = await alice.profile("doomed", team=team_id)
    await alice.post(
        f"/api/sync/{made['id']}", {"cookies": [], "localStorage": {"a": "b"}}, team=team_id
    )
    assert len((await fleet.env.R2.list(prefix="sessions/")).objects) == 2
    deleted = await alice.delete(f"/api/teams/{team_id}")
    assert deleted.json() == {"success": True, "profilesDeleted": 1}
    assert await fleet.rows("SELECT id FROM profiles WHERE team_id = ?", team_id) == []

    async def purged() -> bool:
        return (await fleet.env.R2.list(prefix="sessions/")).objects == []

    await fleet.until(purged)
    assert (await bob.get("/api/profiles", team=team_id)).status_code == 404


async def test_audit_log_is_per_team_and_paginated(alice, bob, fleet):
    made = await alice.profile("audited")
    await alice.put(f"/api/profiles/{made['id']}", {"notes": "n", "proxy": "http://u:pw@h:1"})
    await alice.delete(f"/api/profiles/{made['id']}")
    await bob.profile("bob's")
    personal = made["team_id"]
    log = (await alice.get(f"/api/teams/{personal}/audit")).json()
    actions = [e["action"] for e in log["entries"]]
    assert actions == ["profile.delete", "profile.update", "profile.create", "team.create"]
    assert log["total"] == 4 and {e["team_id"] for e in log["entries"]} == {personal}
    update = log["entries"][1]
    assert update["user_id"] == alice.id and update["target_id"] == made["id"]
    assert update["details"] == {"notes": "n", "proxy": "http://***:***@h:1"}
    page = (await alice.get(f"/api/teams/{personal}/audit?limit=2&offset=1")).json()
    assert [e["action"] for e in page["entries"]] == ["profile.update", "profile.create"]
    bobs = (await bob.get("/api/teams")).json()["teams"][0]["id"]
    assert (await alice.get(f"/api/teams/{bobs}/audit")).status_code == 404
    bad = await alice.get(f"/api/teams/{personal}/audit?limit=1000")
    assert bad.status_code == 400


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "n" * 101}, {"name": None}])
async def test_team_validation(alice, body):
    response = await alice.post("/api/teams", body)
    assert response.status_code == 400 and response.json()["details"][0]["path"] == "name"
