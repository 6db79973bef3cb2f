"""Proxy passwords are sealed at rest: D1 holds ciphertext bound to its row, ``launch`` opens
it, and without the key nothing that needs it works (503) while everything else does."""

from __future__ import annotations

import pytest
from starlette.exceptions import HTTPException

from workers.profiles.credentials import PREFIX, Sealer, open_url, password_of, seal_url

CLIENT = {"x-client-id": "laptop"}
PROXY = {"name": "res", "type": "socks5", "host": "10.0.0.9", "port": 1080,
         "username": "customer-77", "password": "hunter22"}  # fmt: skip
URL = "socks5://u1:p%40ss:w0rd@[2001:db8::1]:1080"  # a percent-encoded '@' and an IPv6 host


def test_a_sealed_value_opens_only_with_its_key_and_in_its_place():
    keys = Sealer("k" * 32)
    sealed = keys.seal("hunter22", "proxies.password:a")
    assert sealed.startswith(PREFIX) and "hunter22" not in sealed
    assert sealed != keys.seal("hunter22", "proxies.password:a")  # a fresh nonce every time
    assert keys.open(sealed, "proxies.password:a") == "hunter22"
    assert keys.open("written-before-sealing", "proxies.password:a") == "written-before-sealing"
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    for wrong in (
        lambda: keys.open(sealed, "proxies.password:b"),  # copied into another row
        lambda: Sealer("x" * 32).open(sealed, "proxies.password:a"),  # another key
        lambda: keys.open(flipped, "proxies.password:a"),  # tampered with
    ):
        with pytest.raises(HTTPException) as raised:
            wrong()
        assert raised.value.status_code == 503


def test_only_the_password_of_a_url_is_sealed():
    keys = Sealer("k" * 32)
    sealed = seal_url(URL, keys, "profiles.proxy:p")
    assert sealed.startswith("socks5://u1:enc1.") and sealed.endswith("@[2001:db8::1]:1080")
    assert password_of(sealed).startswith(PREFIX) and "w0rd" not in sealed
    assert open_url(sealed, keys, "profiles.proxy:p") == URL
    assert seal_url("http://10.0.0.1:3128", keys, "profiles.proxy:p") == "http://10.0.0.1:3128"


async def test_d1_holds_ciphertext_and_launch_reveals_the_original(alice, fleet):
    proxy = (await alice.post("/api/proxies", PROXY)).json()
    made = await alice.profile(proxyId=proxy["id"], proxy=URL)
    [stored] = await fleet.rows("SELECT password FROM proxies")
    [profile] = await fleet.rows("SELECT proxy FROM profiles WHERE id = ?", made["id"])
    assert stored["password"].startswith(PREFIX) and "hunter22" not in stored["password"]
    assert password_of(profile["proxy"]).startswith(PREFIX) and "w0rd" not in profile["proxy"]
    shown = (await alice.get(f"/api/profiles/{made['id']}")).json()
    assert shown["proxy"] == "socks5://***:***@[2001:db8::1]:1080"  # masked without the key

    launched = (await alice.post(f"/api/profiles/{made['id']}/launch", headers=CLIENT)).json()
    assert launched["profile"]["proxy"] == URL
    assert launched["proxy"]["password"] == "hunter22"


async def test_a_password_copied_into_another_row_does_not_open(alice, fleet):
    first = (await alice.post("/api/proxies", PROXY)).json()
    second = (await alice.post("/api/proxies", {**PROXY, "password": "other"})).json()
    await fleet.rows(
        "UPDATE proxies SET password = (SELECT password FROM proxies WHERE id = ?) WHERE id = ?",
        first["id"], second["id"],
    )  # fmt: skip
    made = await alice.profile(proxyId=second["id"])
    launched = await alice.post(f"/api/profiles/{made['id']}/launch", headers=CLIENT)
    assert launched.status_code == 503
    assert launched.json() == {"error": "Proxy credentials cannot be decrypted"}


async def test_a_password_stored_before_sealing_is_read_as_it_is(alice, fleet):
    proxy = (await alice.post("/api/proxies", PROXY)).json()
    await fleet.rows("UPDATE proxies SET password = 'plain-old' WHERE id = ?", proxy["id"])
    made = await alice.profile(proxyId=proxy["id"])
    launched = (await alice.post(f"/api/profiles/{made['id']}/launch", headers=CLIENT)).json()
    assert launched["proxy"]["password"] == "plain-old"


async def test_without_the_key_passwords_are_refused_and_the_rest_works(start, caplog):
    fleet = await start(secrets={"PROXY_CREDENTIALS_KEY": ""})
    from tests.profiles.conftest import ALICE, Client

    user, key = fleet.seeded[ALICE]
    alice = Client(fleet, key, user, ALICE)
    refused = await alice.post("/api/proxies", PROXY)
    assert refused.status_code == 503
    assert refused.json() == {"error": "Proxy credentials are not configured"}
    assert "PROXY_CREDENTIALS_KEY is not set" in caplog.text
    assert (await alice.get("/api/proxies")).json()["total"] == 0  # nothing half-written
    bare = await alice.post("/api/proxies", {**PROXY, "password": None})
    assert bare.status_code == 201
    made = await alice.profile(proxyId=bare.json()["id"], proxy="http://10.0.0.1:3128")
    launched = await alice.post(f"/api/profiles/{made['id']}/launch", headers=CLIENT)
    assert launched.status_code == 200 and launched.json()["proxy"]["password"] is None
