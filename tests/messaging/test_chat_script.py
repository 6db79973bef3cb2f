"""scripts/chat, the terminal client, driven through its standard input against a real server."""

import stat
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.messaging.conftest import fresh

pytestmark = pytest.mark.e2e


def chat(server, home, username, *lines):
    """Run scripts/chat with ``lines`` as its input (it quits at the end); its output."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "chat"), "--server", server.url,
         "--home", str(home), username],
        input="".join(f"{line}\n" for line in lines), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


async def test_a_person_at_the_terminal_talks_to_a_client(users, chat_server, tmp_path):
    (bob,) = await users("bob")
    b, me = bob.identity.username, fresh("alice")
    out = chat(chat_server, tmp_path, me, f"/request {b}")
    assert f"* registered {me}" in out and f"* {b}: request sent" in out
    (key_file,) = tmp_path.rglob(f"{me}.json")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700

    assert (await bob.next()).kind == "connection_request"
    await bob.accept(me)
    out = chat(chat_server, tmp_path, me, f"/to {b}", "hello from the terminal", f"/whois {b}")
    assert f"* {b} accepted" in out and f"* talking to {b}" in out
    assert (await bob.next()).text == "hello from the terminal"

    await bob.send([me], "hi, terminal")  # queued: the terminal is not connected
    out = chat(chat_server, tmp_path, me, "/contacts")
    assert f"] {b}: hi, terminal" in out and f"* {b}: contact" in out


def test_a_taken_name_is_refused_and_nothing_is_saved(chat_server, tmp_path):
    name = fresh("taken")
    chat(chat_server, tmp_path / "first", name)
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "chat"), "--server", chat_server.url,
         "--home", str(tmp_path / "second"), name],
        input="", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1 and "409" in result.stdout
    assert not list((tmp_path / "second").rglob("*.json"))
