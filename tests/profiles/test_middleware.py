"""The seed's middleware chain: secure headers and response time, ``?pretty``, CORS from the
allowlist, ``/health``, auth and rate limits on ``/api/*``, and JSON 404/405/500."""

from __future__ import annotations

import json

from tests.profiles.conftest import ALICE

ALLOWED = "http://localhost:3000"  # in the profiles worker's CORS_ORIGINS


async def test_health_and_secure_headers(fleet):
    response = await fleet.request("GET", "/health")
    assert response.json() == {
        "status": "healthy", "timestamp": int(fleet.clock() * 1000), "version": "1.0.0"
    }  # fmt: skip
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "SAMEORIGIN"
    assert headers["strict-transport-security"].startswith("max-age=")
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-response-time"].endswith("ms")
    assert float(headers["x-response-time"][:-2]) >= 0


async def test_pretty_json(alice):
    plain = await alice.get("/api/templates")
    pretty = await alice.get("/api/templates?pretty")
    assert "\n" not in plain.text and pretty.text.startswith('{\n  "templates": [\n')
    assert json.loads(pretty.text) == plain.json()
    assert int(pretty.headers["content-length"]) == len(pretty.content)
    also = await alice.get("/api/templates?limit=3&pretty=1")
    assert also.text == pretty.text
    error = await alice.get("/api/profiles/nope?pretty")
    assert error.text == '{\n  "error": "Profile not found"\n}'


async def test_cors_allowlist(fleet, alice):
    preflight = {
        "origin": ALLOWED,
        "access-control-request-method": "PUT",
        "access-control-request-headers": "x-client-id, x-team-id, content-type",
    }
    ok = await fleet.request("OPTIONS", "/api/profiles/abc", headers=preflight)
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == ALLOWED
    assert ok.headers["access-control-allow-credentials"] == "true"
    assert "PUT" in ok.headers["access-control-allow-methods"]
    assert "X-Client-ID" in ok.headers["access-control-allow-headers"]
    evil = await fleet.request(
        "OPTIONS", "/api/profiles/abc", headers={**preflight, "origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in evil.headers
    simple = await alice.get("/api/templates", headers={"origin": ALLOWED})
    assert simple.headers["access-control-allow-origin"] == ALLOWED
    assert "X-Response-Time" in simple.headers["access-control-expose-headers"]


async def test_api_needs_a_caller(fleet):
    for headers in ({}, {"x-api-key": "not-a-key"}, {"authorization": "Bearer nope"}):
        response = await fleet.request("GET", "/api/profiles", headers=headers)
        assert (response.status_code, response.json()) == (
            401, {"error": "Authentication required"}
        )  # fmt: skip
    # Unknown /api paths are behind auth too; the public paths are not.
    assert (await fleet.request("GET", "/api/profiles/x/y/z")).status_code == 401
    assert (await fleet.request("GET", "/health")).status_code == 200


async def test_not_found_and_method_not_allowed_are_json(alice, fleet):
    for path in ("/api/profiles/a/b/c", "/api/teams/x/y", "/webhooks/unknown"):
        response = await alice.get(path)
        assert (response.status_code, response.json()) == (404, {"error": "Not Found"}), path
    wrong = await alice.request("PATCH", "/api/profiles")
    assert (wrong.status_code, wrong.json()) == (405, {"error": "Method Not Allowed"})
    hook = await fleet.request("GET", "/webhooks/stripe")
    assert hook.status_code == 405


async def test_internal_errors_are_json_without_internals(alice, fleet):
    await fleet.env.DB.exec("DROP TABLE proxies")
    response = await alice.get("/api/proxies")
    assert (response.status_code, response.json()) == (500, {"error": "Internal Server Error"})
    assert "proxies" not in response.text and "SQLITE" not in response.text


async def test_failed_authentications_block_the_address(start):
    fleet = await start(vars={"AUTH_FAILURE_LIMIT": 3})
    alice_key = fleet.seeded[ALICE][1]
    for _ in range(20):  # valid callers are not counted
        assert (
            await fleet.request("GET", "/api/templates", headers={"x-api-key": alice_key})
        ).status_code == 200
    guesses = [
        (
            await fleet.request("GET", "/api/templates", headers={"x-api-key": f"guess{i}"})
        ).status_code
        for i in range(4)
    ]
    assert guesses == [401, 401, 401, 429]
    # Now even the right key waits: the address is blocked before credentials are checked.
    refused = await fleet.request("GET", "/api/profiles", headers={"x-api-key": alice_key})
    assert (refused.status_code, refused.json()) == (
        429, {"error": "Too many failed authentications"}
    )  # fmt: skip
    assert 1 <= int(refused.headers["retry-after"]) <= 61
    assert (await fleet.request("GET", "/health")).status_code == 200
    fleet.clock.advance(61)
    assert (
        await fleet.request("GET", "/api/templates", headers={"x-api-key": alice_key})
    ).status_code == 200


async def test_api_key_limit_and_last_use_come_from_the_auth_worker(fleet):
    carol = await fleet.client("carol@example.com", rateLimitMax=2)
    statuses = [(await carol.get("/api/templates")).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    await fleet.h.runtime.tasks.drain()
    row = await (
        fleet.auth_env.DB.prepare(
            'SELECT "requestCount", "lastRequest" FROM "apikey" WHERE "referenceId" = ?'
        )
        .bind(carol.id)
        .first()
    )
    assert row["requestCount"] == 2 and row["lastRequest"] is not None
