"""Fingerprint templates and the consistency rules: every fingerprint generated from any
template passes them (a property test), each rule catches what it is about, and the
``/api/templates`` routes."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workers.profiles import fingerprints

TEMPLATE_IDS = sorted(fingerprints.templates())


def test_the_data_file_has_several_os_and_browsers():
    summaries = fingerprints.summaries()
    assert {s["os"] for s in summaries} >= {"Windows", "macOS", "Linux"}
    assert {s["browser"] for s in summaries} >= {"Chrome", "Safari", "Firefox", "Edge"}
    assert {"id": "mac-safari", "name": "macOS Safari", "os": "macOS", "browser": "Safari"} in (
        summaries
    )


@settings(max_examples=300, deadline=None)
@given(template_id=st.sampled_from(TEMPLATE_IDS), rng=st.randoms(use_true_random=False))
def test_every_generated_fingerprint_is_consistent(template_id: str, rng: random.Random):
    fp = fingerprints.generate(template_id, rng)
    assert fingerprints.check(fp) == []
    template = fingerprints.templates()[template_id]
    assert fp.userAgent in template["userAgents"] and fp.screen in template["screens"]
    assert fp.webgl["renderer"] in template["webglRenderer"]
    assert fp.templateId == template_id


def good() -> dict:
    return fingerprints.generate("windows-chrome", random.Random(1)).to_json()


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"platform": "MacIntel"}, "Windows UA requires Win32 platform"),
        ({"vendor": "Apple Computer, Inc."}, "Chrome UA requires Google Inc. vendor"),
        ({"userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
                       "(KHTML, like Gecko) Version/17.6 Safari/605.1.15"},
         "Mac UA requires MacIntel platform"),
        ({"userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
                       "(KHTML, like Gecko) Version/17.6 Safari/605.1.15", "platform": "MacIntel"},
         "Safari UA requires Apple vendor"),
        ({"userAgent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
          "platform": "Linux x86_64", "deviceMemory": None},
         "Firefox UA requires an empty vendor"),
        ({"deviceMemory": None}, "Only Chromium browsers expose deviceMemory"),
    ],
)  # fmt: skip
def test_each_rule_catches_its_mismatch(change, error):
    assert error in fingerprints.check({**good(), **change})


def test_rules_hold_both_ways():
    # A Win32 platform with a Mac user agent breaks both the Mac rule and Win32's converse.
    mac = good()["userAgent"].replace("Windows NT 10.0; Win64; x64", "Macintosh; Intel Mac OS X")
    fp = {**good(), "userAgent": mac}
    errors = fingerprints.check(fp)
    assert "Mac UA requires MacIntel platform" in errors
    assert "platform 'Win32' requires a matching UA" in errors


async def test_template_routes(alice):
    listed = (await alice.get("/api/templates")).json()["templates"]
    assert [t["id"] for t in listed] == list(fingerprints.templates())
    one = await alice.get("/api/templates/mac-safari")
    assert one.json()["platform"] == "MacIntel" and one.json()["id"] == "mac-safari"
    preview = (await alice.get("/api/templates/linux-chrome/preview")).json()
    assert preview["valid"] is True and preview["errors"] == []
    assert preview["fingerprint"]["platform"] == "Linux x86_64"
    missing = await alice.get("/api/templates/amiga")
    assert (missing.status_code, missing.json()) == (404, {"error": "Template not found"})
    assert (await alice.get("/api/profiles")).json()["total"] == 0  # previews store nothing
