"""Headless Chromium (Debian's, driven by Playwright): alice and bob open the same room page
in two windows, type into it at the same time, and both see both edits, under the page's
strict Content-Security-Policy."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bindings.testing import require_service
from tests.auth.test_browser import ARGS, CHROMIUM, chromium_ready
from tests.collaboration.conftest import ALICE, BOB
from tests.collaboration.test_server import fresh_room

pytestmark = pytest.mark.e2e


async def open_room(browser, srv, who, room, problems):
    context = await browser.new_context()
    page = await context.new_page()
    # Script errors, refused requests and CSP violations (the browser's own favicon request
    # is nobody's error).
    page.on("console", lambda m: problems.append(m.text)
            if m.type == "error" and "Failed to load resource" not in m.text else None)  # fmt: skip
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)  # fmt: skip
    await page.goto(f"{srv.url}/login")
    await page.fill("#email", who[0])
    await page.fill("#password", who[1])
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{srv.url}/dashboard")
    await page.goto(f"{srv.url}/rooms/{room}")
    return page


async def text_of(page):
    return await page.input_value("#editor")


async def test_two_windows_type_at_once_and_both_see_both_edits(srv):
    require_service(
        "chromium + playwright", chromium_ready(), "apt install chromium; pip install playwright"
    )
    from playwright.async_api import async_playwright, expect

    room = fresh_room("browser")
    token = srv.token[ALICE[0]]
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as http:
        saved = await http.post(f"/rooms/{room}/save", json={"content": "[middle]"},
                                headers={"authorization": f"Bearer {token}"})  # fmt: skip
    assert saved.status_code == 200
    problems: list[str] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            alice = await open_room(browser, srv, ALICE, room, problems)
            bob = await open_room(browser, srv, BOB, room, problems)
            for page in (alice, bob):
                await expect(page.locator("#status")).to_have_text("Connected")
                await expect(page.locator("#people li")).to_have_count(2)
                assert await text_of(page) == "[middle]"
            await alice.click("#editor")
            await alice.keyboard.press("Control+End")
            await bob.click("#editor")
            await bob.keyboard.press("Control+Home")
            await asyncio.gather(
                alice.keyboard.type(" Alice was here.", delay=25),
                bob.keyboard.type("Bob too. ", delay=25),
            )
            expected = "Bob too. [middle] Alice was here."
            for page in (alice, bob):
                await expect(page.locator("#editor")).to_have_value(expected)
            # Deleting in one window shows in the other.
            await bob.keyboard.press("Backspace")
            await bob.keyboard.press("Backspace")
            await expect(alice.locator("#editor")).to_have_value("Bob too[middle] Alice was here.")
            await expect(bob.locator("#people")).to_contain_text("line 1")  # alice's caret
        finally:
            await browser.close()
    document = srv.get(f"/rooms/{room}/document").json()
    assert document["content"] == "Bob too[middle] Alice was here."
    assert problems == []  # no script errors, nothing the CSP blocked
