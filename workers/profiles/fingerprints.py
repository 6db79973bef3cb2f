"""Browser fingerprints generated from templates (``data/fingerprint-templates.json``), and the
consistency rules every generated fingerprint passes.

A template lists the values one OS/browser pair shows (user agents, screens, memory, cores,
WebGL renderers, languages, time zones); a fingerprint takes one of each, so it never mixes a
Windows user agent with a Mac platform. ``check`` states the rules both ways (seed 002's four,
plus Linux and Firefox): a Windows UA if and only if ``Win32``, Mac if and only if ``MacIntel``,
Linux if and only if ``Linux x86_64``, Chrome if and only if ``Google Inc.``, Safari (without
Chrome) if and only if ``Apple Computer, Inc.``, Firefox if and only if an empty vendor; only
Chromium browsers expose ``deviceMemory``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

TEMPLATES_FILE = Path(__file__).parent / "data" / "fingerprint-templates.json"


@dataclass(frozen=True)
class Fingerprint:
    """One generated fingerprint (the seed's ``GeneratedFingerprint``)."""

    templateId: str
    userAgent: str
    platform: str
    vendor: str
    screen: dict[str, int]
    colorDepth: int
    deviceMemory: int | None
    hardwareConcurrency: int
    fonts: list[str]
    webgl: dict[str, str]
    language: str
    timezone: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@cache
def templates() -> Mapping[str, Mapping[str, Any]]:
    """Every template by id, read once per process."""
    data = json.loads(TEMPLATES_FILE.read_text())
    return data["templates"]  # type: ignore[no-any-return]


def summaries() -> list[dict[str, str]]:
    """``[{id, name, os, browser}]``, as the seed's ``getAvailableTemplates``."""
    return [
        {"id": tid, "name": f"{t['os']} {t['browser']}", "os": t["os"], "browser": t["browser"]}
        for tid, t in templates().items()
    ]


def generate(template_id: str, rng: random.Random | None = None) -> Fingerprint:
    """A fingerprint from one value of each of the template's lists; KeyError if unknown."""
    t = templates()[template_id]
    pick = (rng or random).choice
    return Fingerprint(
        templateId=template_id,
        userAgent=pick(t["userAgents"]),
        platform=t["platform"],
        vendor=t["vendor"],
        screen=dict(pick(t["screens"])),
        colorDepth=t["colorDepth"],
        deviceMemory=pick(t["deviceMemory"]),
        hardwareConcurrency=pick(t["hardwareConcurrency"]),
        fonts=list(t["fonts"]),
        webgl={"vendor": t["webglVendor"], "renderer": pick(t["webglRenderer"])},
        language=pick(t["languages"]),
        timezone=pick(t["timezones"]),
    )


def _chromium(ua: str) -> bool:
    return "Chrome/" in ua


def _safari(ua: str) -> bool:
    return "Safari/" in ua and not _chromium(ua)


# (what the user agent says, the field it implies, the value, the seed-style message)
RULES: tuple[tuple[Callable[[str], bool], str, str, str], ...] = (
    (lambda ua: "Windows" in ua, "platform", "Win32", "Windows UA requires Win32 platform"),
    (lambda ua: "Macintosh" in ua, "platform", "MacIntel", "Mac UA requires MacIntel platform"),
    (lambda ua: "Linux" in ua, "platform", "Linux x86_64", "Linux UA requires Linux x86_64"),
    (_chromium, "vendor", "Google Inc.", "Chrome UA requires Google Inc. vendor"),
    (_safari, "vendor", "Apple Computer, Inc.", "Safari UA requires Apple vendor"),
    (lambda ua: "Firefox/" in ua, "vendor", "", "Firefox UA requires an empty vendor"),
)  # fmt: skip


def check(fingerprint: Fingerprint | Mapping[str, Any]) -> list[str]:
    """The rules ``fingerprint`` breaks (empty when consistent)."""
    fp = fingerprint.to_json() if isinstance(fingerprint, Fingerprint) else fingerprint
    ua = str(fp.get("userAgent", ""))
    errors = []
    for says, field, value, message in RULES:
        if says(ua) != (fp.get(field) == value):
            errors.append(message if says(ua) else f"{field} {value!r} requires a matching UA")
    if (fp.get("deviceMemory") is not None) != _chromium(ua):
        errors.append("Only Chromium browsers expose deviceMemory")
    return errors
