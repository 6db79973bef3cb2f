"""``/api/sync``: upload and download round trip, the MD5 skip, the stored objects' format, the
client hash, size limits, and uploads against another client's lock."""

from __future__ import annotations

import gzip
import hashlib
import json

import pytest

from workers.profiles import sessions

COOKIES = [
    {"name": "sid", "value": "abc", "domain": ".example.com", "expirationDate": 1735689600.0,
     "secure": True},
    {"name": "pref", "value": "dark", "domain": "example.com", "expirationDate": 1735689600.25},
]  # fmt: skip
STORAGE = {"theme": "dark", "ключ": "значение"}


def canonical_md5(cookies, storage) -> str:
    """The documented canonical form, written out independently of the module."""

    def js(value):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, dict):
            return {k: js(v) for k, v in value.items()}
        if isinstance(value, list):
            return [js(v) for v in value]
        return value

    text = json.dumps(
        js({"cookies": cookies, "localStorage": storage}),
        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    )  # fmt: skip
    return hashlib.md5(text.encode()).hexdigest()


async def test_round_trip_and_skip(alice, fleet):
    made = await alice.profile()
    path = f"/api/sync/{made['id']}"
    empty = await alice.get(path)
    assert empty.json() == {"cookies": [], "localStorage": {}, "hash": None, "syncedAt": None}
    digest = canonical_md5(COOKIES, STORAGE)
    first = await alice.post(path, {"cookies": COOKIES, "localStorage": STORAGE})
    assert first.json() == {"synced": True, "skipped": False, "hash": digest}
    stored = await fleet.env.R2.get(f"sessions/{made['id']}/cookies.gz")
    assert stored.httpMetadata.contentEncoding == "gzip"
    assert stored.httpMetadata.contentType == "application/json"
    assert stored.customMetadata == {"hash": digest}
    assert json.loads(gzip.decompress(await stored.bytes())) == COOKIES
    storage_obj = await fleet.env.R2.get(f"sessions/{made['id']}/localStorage.gz")
    assert json.loads(gzip.decompress(await storage_obj.bytes())) == STORAGE
    version = stored.version

    fleet.clock.advance(60)
    # The same data (keys in another order, 1735689600 written without ".0") is skipped.
    reordered = [dict(reversed(list(c.items()))) for c in COOKIES]
    reordered[0]["expirationDate"] = 1735689600
    again = await alice.post(path, {"localStorage": STORAGE, "cookies": reordered,
                                    "clientHash": digest})  # fmt: skip
    assert again.json() == {"synced": False, "skipped": True, "hash": digest}
    assert (await fleet.env.R2.head(f"sessions/{made['id']}/cookies.gz")).version == version

    down = (await alice.get(path)).json()
    assert down == {"cookies": COOKIES, "localStorage": STORAGE, "hash": digest,
                    "syncedAt": int((fleet.clock() - 60) * 1000)}  # fmt: skip

    changed = await alice.post(path, {"cookies": COOKIES[:1], "localStorage": {}})
    assert changed.json()["synced"] is True
    assert (await alice.get(path)).json()["cookies"] == COOKIES[:1]
    syncs = await fleet.rows("SELECT count(*) AS n FROM audit_log WHERE action = 'profile.sync'")
    assert syncs == [{"n": 2}]  # skipped uploads are not changes


async def test_client_hash_must_match(alice):
    made = await alice.profile()
    wrong = await alice.post(
        f"/api/sync/{made['id']}",
        {"cookies": COOKIES, "localStorage": STORAGE, "clientHash": "0" * 32},
    )
    assert wrong.status_code == 400
    assert wrong.json()["details"][0]["path"] == "clientHash"


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"localStorage": {}}, "cookies"),
        ({"cookies": {}, "localStorage": {}}, "cookies"),
        ({"cookies": ["not an object"], "localStorage": {}}, "cookies.0"),
        ({"cookies": [], "localStorage": {"k": 1}}, "localStorage.k"),
        ({"cookies": [], "localStorage": {}, "clientHash": "XYZ"}, "clientHash"),
    ],
)
async def test_upload_validation(alice, body, path):
    made = await alice.profile()
    response = await alice.post(f"/api/sync/{made['id']}", body)
    assert response.status_code == 400
    assert path in [d["path"] for d in response.json()["details"]]


async def test_size_limits(alice, monkeypatch):
    made = await alice.profile()
    monkeypatch.setattr(sessions, "SYNC_MAX_BYTES", 10_000)
    big = {"cookies": [], "localStorage": {"blob": "x" * 20_000}}
    too_big = await alice.post(f"/api/sync/{made['id']}", big)
    assert (too_big.status_code, too_big.json()) == (
        413, {"error": "Request body is larger than 10000 bytes"}
    )  # fmt: skip
    many = {"cookies": [{}] * 5001, "localStorage": {}}
    monkeypatch.setattr(sessions, "SYNC_MAX_BYTES", 1_000_000)
    refused = await alice.post(f"/api/sync/{made['id']}", many)
    assert refused.status_code == 400 and refused.json()["details"][0]["path"] == "cookies"


async def test_large_upload_round_trips(alice):
    made = await alice.profile()
    storage = {f"key{i}": "v" * 200 for i in range(2000)}  # ~450 KB: compressed off the loop
    response = await alice.post(f"/api/sync/{made['id']}", {"cookies": [], "localStorage": storage})
    assert response.json()["synced"] is True
    assert (await alice.get(f"/api/sync/{made['id']}")).json()["localStorage"] == storage


async def test_upload_against_another_clients_lock(alice, fleet):
    made = await alice.profile()
    path = f"/api/sync/{made['id']}"
    await alice.post(f"/api/profiles/{made['id']}/launch", headers={"x-client-id": "holder"})
    body = {"cookies": [], "localStorage": {"a": "b"}}
    refused = await alice.post(path, body, headers={"x-client-id": "intruder"})
    assert refused.status_code == 409 and refused.json()["lastActive"]
    assert (await alice.post(path, body)).status_code == 409  # no client id: not the holder
    ok = await alice.post(path, body, headers={"x-client-id": "holder"})
    assert ok.json()["synced"] is True
    fleet.clock.advance(301)  # the holder went quiet: its lock no longer blocks
    other = {"cookies": [], "localStorage": {"a": "c"}}
    assert (await alice.post(path, other, headers={"x-client-id": "x"})).json()["synced"]


async def test_scopes_are_checked(fleet, alice):
    made = await alice.profile()
    reader = await fleet.client("reader@example.com", permissions={"sync": ["read"]})
    # A key is its user's: the reader acts in its own personal team, not Alice's.
    assert (await reader.get(f"/api/sync/{made['id']}")).status_code == 404
    narrow_alice_key = await fleet.key(alice.email, permissions={"sync": ["read"]})
    headers = {"x-api-key": narrow_alice_key}
    assert (
        await fleet.request("GET", f"/api/sync/{made['id']}", headers=headers)
    ).status_code == 200
    write = await fleet.request(
        "POST", f"/api/sync/{made['id']}", json={"cookies": [], "localStorage": {}}, headers=headers
    )
    assert (write.status_code, write.json()) == (
        403, {"error": "This API key lacks the scope 'sync:write'"}
    )  # fmt: skip
