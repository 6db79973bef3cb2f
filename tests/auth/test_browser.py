"""Headless Chromium (Debian's, driven by Playwright) uses /login and /dashboard: plain forms."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bindings.testing import free_port, require_service, server
from tests.auth.conftest import ADMIN, write_config
from tests.auth.test_processes import seed_user

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip


def chromium_ready() -> bool:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        return False
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return True


def test_sign_in_see_dashboard_create_user_sign_out(tmp_path):
    require_service(
        "chromium + playwright", chromium_ready(), "apt install chromium; pip install playwright"
    )
    from playwright.sync_api import sync_playwright

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = write_config(tmp_path / "config", vars={"BETTER_AUTH_URL": base})
    state = tmp_path / "state"
    seed_user(config, state, *ADMIN)
    with server(config, state, port=port), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page()
            page.goto(f"{base}/dashboard")
            assert page.url == f"{base}/login"  # not signed in: sent to the form
            page.fill("#email", ADMIN[0])
            page.fill("#password", "wrong-password")
            page.click("button[type=submit]")
            assert page.get_by_role("alert").inner_text() == "Invalid email or password"
            page.fill("#password", ADMIN[1])
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/dashboard")
            assert page.locator("h1").inner_text() == "Dashboard"
            assert ADMIN[0] in page.locator("table").inner_text()
            page.fill("#new-name", "Browser Made")
            page.fill("#new-email", "made@example.com")
            page.fill("#new-password", "made-password")
            page.select_option("#new-role", "user")
            page.click("text=Create user")
            page.wait_for_url(f"{base}/dashboard?created=made%40example.com")
            assert "Created made@example.com" in page.get_by_role("status").inner_text()
            assert "made@example.com" in page.locator("table").inner_text()
            page.click("button[aria-label='ban made@example.com']")
            page.wait_for_url(f"{base}/dashboard")
            row = page.locator("tr", has_text="made@example.com")
            assert "banned" in row.inner_text()
            cookies = {c["name"] for c in page.context.cookies()}
            assert "better-auth.session_token" in cookies
            page.click("text=Sign out")
            page.wait_for_url(f"{base}/login")
            assert "better-auth.session_token" not in {c["name"] for c in page.context.cookies()}
            page.goto(f"{base}/dashboard")
            assert page.url == f"{base}/login"
        finally:
            browser.close()
