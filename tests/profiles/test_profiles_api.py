"""``/api/profiles`` CRUD over HTTP: fingerprints from templates, validation, listing, team
isolation, the plan's limit, and deletion with the session data."""

from __future__ import annotations

import pytest

from tests.profiles.conftest import dumps
from workers.profiles import billing, fingerprints

AS_JSON = {"content-type": "application/json"}


async def test_create_get_update_delete(alice, fleet):
    made = await alice.profile(
        "Shop 1", tags=["ads", "eu"], groupId="g1", notes="first", timezone="Europe/Berlin",
        language="de-DE", proxy="socks5://user123:secret@10.0.0.1:1080",
    )  # fmt: skip
    assert made["team_id"] and made["owner_id"] == alice.id and made["launch_count"] == 0
    assert made["tags"] == ["ads", "eu"] and made["group_id"] == "g1"
    assert (made["timezone"], made["language"]) == ("Europe/Berlin", "de-DE")
    assert made["platform"] == "Win32" and made["vendor"] == "Google Inc."
    assert made["proxy"] == "socks5://us***:***@10.0.0.1:1080"  # credentials never shown
    fp = {"userAgent": made["user_agent"], "platform": made["platform"],
          "vendor": made["vendor"], "deviceMemory": made["device_memory"]}  # fmt: skip
    assert fingerprints.check(fp) == []
    got = await alice.get(f"/api/profiles/{made['id']}")
    assert got.status_code == 200 and got.json() == made

    fleet.clock.advance(5)
    updated = await alice.put(
        f"/api/profiles/{made['id']}", {"name": "Shop 1b", "groupId": None, "tags": []}
    )
    assert updated.status_code == 200, updated.text
    body = updated.json()
    assert (body["name"], body["group_id"], body["tags"]) == ("Shop 1b", None, [])
    assert body["notes"] == "first" and body["user_agent"] == made["user_agent"]
    unchanged = await alice.put(f"/api/profiles/{made['id']}", {})
    assert unchanged.status_code == 200 and unchanged.json() == body

    deleted = await alice.delete(f"/api/profiles/{made['id']}")
    assert deleted.status_code == 200 and deleted.json() == {"success": True}
    for method in ("get", "delete"):
        gone = await getattr(alice, method)(f"/api/profiles/{made['id']}")
        assert (gone.status_code, gone.json()) == (404, {"error": "Profile not found"})
    gone = await alice.put(f"/api/profiles/{made['id']}", {"name": "x"})
    assert gone.status_code == 404


async def test_every_template_makes_a_consistent_profile(alice):
    for template_id in fingerprints.templates():
        made = await alice.profile(template_id, templateId=template_id)
        fp = {"userAgent": made["user_agent"], "platform": made["platform"],
              "vendor": made["vendor"], "deviceMemory": made["device_memory"]}  # fmt: skip
        assert fingerprints.check(fp) == [], template_id


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"templateId": "windows-chrome"}, "name"),
        ({"name": "", "templateId": "windows-chrome"}, "name"),
        ({"name": "x" * 101, "templateId": "windows-chrome"}, "name"),
        ({"name": 5, "templateId": "windows-chrome"}, "name"),
        ({"name": "a"}, "templateId"),
        ({"name": "a", "templateId": "amiga-netscape"}, "templateId"),
        ({"name": "a", "templateId": "windows-chrome", "notes": "n" * 1001}, "notes"),
        ({"name": "a", "templateId": "windows-chrome", "tags": ["ok", 3]}, "tags.1"),
        ({"name": "a", "templateId": "windows-chrome", "tags": ["t"] * 21}, "tags"),
        ({"name": "a", "templateId": "windows-chrome", "timezone": "Mars/Olympus"}, "timezone"),
        ({"name": "a", "templateId": "windows-chrome", "timezone": "../etc/passwd"}, "timezone"),
        ({"name": "a", "templateId": "windows-chrome", "language": "english!"}, "language"),
        ({"name": "a", "templateId": "windows-chrome", "proxy": "ftp://h:21"}, "proxy"),
        ({"name": "a", "templateId": "windows-chrome", "proxy": "http://h"}, "proxy"),
        ({"name": "a", "templateId": "windows-chrome", "groupId": ["g"]}, "groupId"),
    ],
)
async def test_create_validation(alice, body, path):
    response = await alice.post("/api/profiles", body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["error"] == "Validation failed"
    assert path in [d["path"] for d in error["details"]], error
    assert all(set(d) == {"path", "message"} for d in error["details"])


async def test_bad_bodies_are_4xx_json(alice):
    made = await alice.profile()
    cases = [
        (dict(content=b"{", headers=AS_JSON), 400, "Malformed JSON body"),
        (dict(json=[1, 2]), 400, "The body must be a JSON object"),
        (dict(content=b"name=x"), 415, "Content-Type must be application/json"),
        (dict(content=dumps({"name": "x" * 2_000_000}), headers=AS_JSON), 413,
         "Request body is larger than 1048576 bytes"),
    ]  # fmt: skip
    for kwargs, status, message in cases:
        for method, path in (("POST", "/api/profiles"), ("PUT", f"/api/profiles/{made['id']}")):
            response = await alice.request(method, path, **kwargs)
            assert (response.status_code, response.json()) == (status, {"error": message})
    nulls = await alice.put(f"/api/profiles/{made['id']}", {"name": None, "notes": None})
    assert nulls.status_code == 400
    assert {d["path"] for d in nulls.json()["details"]} == {"name", "notes"}


async def test_list_filters_orders_and_pages(alice, fleet):
    for i, (name, group, tags) in enumerate(
        [("Bravo", "g1", ["ads"]), ("alpha", "g1", ["mail"]), ("Charlie", "g2", ["ADS-eu"])]
    ):
        fleet.clock.advance(1)
        await alice.profile(name, groupId=group, tags=tags, notes=str(i))

    async def names(query: str) -> tuple[list[str], int]:
        response = await alice.get(f"/api/profiles?{query}")
        assert response.status_code == 200, response.text
        body = response.json()
        return [p["name"] for p in body["profiles"]], body["total"]

    assert await names("") == (["Charlie", "alpha", "Bravo"], 3)  # last_active desc
    assert await names("orderBy=created_at&order=asc") == (["Bravo", "alpha", "Charlie"], 3)
    assert await names("orderBy=name&order=asc") == (["Bravo", "Charlie", "alpha"], 3)
    assert await names("groupId=g1") == (["alpha", "Bravo"], 2)
    assert await names("search=ads") == (["Charlie", "Bravo"], 2)  # tags, any case
    assert await names("search=ALP") == (["alpha"], 1)
    assert await names("search=%25") == ([], 0)  # "%" is a character, not a wildcard
    assert await names('search="') == ([], 0)  # tags are matched one by one, not as JSON text
    assert await names("limit=1&offset=1") == (["alpha"], 3)
    assert await names("offset=10") == ([], 3)


@pytest.mark.parametrize(
    ("query", "path"),
    [
        ("limit=0", "limit"), ("limit=101", "limit"), ("limit=abc", "limit"),
        ("offset=-1", "offset"), ("orderBy=name;DROP TABLE profiles", "orderBy"),
        ("orderBy=id", "orderBy"), ("order=sideways", "order"), ("search=" + "s" * 101, "search"),
    ],
)  # fmt: skip
async def test_list_validation(alice, query, path):
    response = await alice.get(f"/api/profiles?{query}")
    assert response.status_code == 400
    assert [d["path"] for d in response.json()["details"]] == [path]


async def test_team_a_never_reaches_team_b(alice, bob):
    mine = await alice.profile("Alice's")
    theirs = await bob.profile("Bob's")
    assert mine["team_id"] != theirs["team_id"]
    assert [p["name"] for p in (await alice.get("/api/profiles")).json()["profiles"]] == ["Alice's"]
    pid = theirs["id"]
    for method, path, body in [
        ("GET", f"/api/profiles/{pid}", None),
        ("PUT", f"/api/profiles/{pid}", {"name": "mine now"}),
        ("DELETE", f"/api/profiles/{pid}", None),
        ("POST", f"/api/profiles/{pid}/launch", None),
        ("POST", f"/api/profiles/{pid}/heartbeat", None),
        ("POST", f"/api/profiles/{pid}/release", None),
        ("GET", f"/api/sync/{pid}", None),
        ("POST", f"/api/sync/{pid}", {"cookies": [], "localStorage": {}}),
    ]:
        response = await alice.request(
            method, path, json=body, headers={"x-client-id": "alice-laptop"}
        )
        assert (response.status_code, response.json()) == (404, {"error": "Profile not found"})
    # Naming Bob's team explicitly does not help either.
    as_bob = await alice.get("/api/profiles", team=theirs["team_id"])
    assert (as_bob.status_code, as_bob.json()) == (404, {"error": "Team not found"})
    still = await bob.get(f"/api/profiles/{pid}")
    assert still.json()["name"] == "Bob's" and still.json()["locked_by"] is None


async def test_proxy_of_another_team_is_refused(alice, bob):
    theirs = await bob.post(
        "/api/proxies", {"name": "p", "type": "http", "host": "10.1.1.1", "port": 8080}
    )
    assert theirs.status_code == 201
    refused = await alice.post(
        "/api/profiles",
        {"name": "x", "templateId": "mac-safari", "proxyId": theirs.json()["id"]},
    )
    assert refused.status_code == 400
    assert refused.json()["details"][0]["path"] == "proxyId"
    made = await alice.profile()
    update = await alice.put(f"/api/profiles/{made['id']}", {"proxyId": theirs.json()["id"]})
    assert update.status_code == 400 and update.json()["details"][0]["path"] == "proxyId"
    mine = await alice.post(
        "/api/proxies", {"name": "p", "type": "socks5", "host": "10.2.2.2", "port": 1080}
    )
    ok = await alice.put(f"/api/profiles/{made['id']}", {"proxyId": mine.json()["id"]})
    assert ok.status_code == 200 and ok.json()["proxy_id"] == mine.json()["id"]


async def test_the_plan_limits_profiles(alice, monkeypatch):
    monkeypatch.setitem(billing.PLANS["free"], "profiles", 2)
    await alice.profile("one")
    await alice.profile("two")
    refused = await alice.post("/api/profiles", {"name": "3", "templateId": "mac-chrome"})
    assert refused.status_code == 403
    assert refused.json() == {"error": "The team's plan allows 2 profiles"}


async def test_delete_removes_the_session_data(alice, fleet):
    made = await alice.profile()
    synced = await alice.post(
        f"/api/sync/{made['id']}", {"cookies": [{"name": "a", "value": "1"}], "localStorage": {}}
    )
    assert synced.json()["synced"] is True
    listed = await fleet.env.R2.list(prefix=f"sessions/{made['id']}/")
    assert len(listed.objects) == 2
    assert (await alice.delete(f"/api/profiles/{made['id']}")).status_code == 200
    assert (await fleet.env.R2.list(prefix=f"sessions/{made['id']}/")).objects == []
