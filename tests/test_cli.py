"""The command line: check, and dev serving real sockets."""

import subprocess
import sys

import httpx

from bindings.testing import server
from tests.conftest import FIXTURES, ROOT


def run_cli(*args, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "bindings", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_reports_file_key_and_problem_and_exits_2(tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text(
        '[[workers]]\nname = "a"\nmain = "m"\n[[workers.kv_namespacez]]\nbinding = "X"\n'
    )
    result = run_cli("check", "--config", str(broken))
    assert result.returncode == 2
    assert f"{broken}: workers[0].kv_namespacez: unknown key" in result.stderr


def test_check_accepts_the_project_config():
    result = run_cli("check")
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_dev_serves_cloudflare_worker_files_unchanged(tmp_path):
    for project, path, expected in [
        (
            FIXTURES / "cf_default" / "wrangler.toml",
            "/",
            {"message": "HELLO!", "max": 5, "secret": None},
        ),
        (FIXTURES / "cf_asgi" / "wrangler.jsonc", "/", {"message": "from starlette", "path": "/"}),
    ]:
        with server(project, tmp_path / project.parent.name) as s:
            r = httpx.get(s.url + path)
            assert r.status_code == 200
            assert r.json() == expected
    with server(FIXTURES / "cf_legacy" / "wrangler.toml", tmp_path / "legacy") as s:
        assert httpx.get(s.url + "/").text == "Hello World!"


def test_dev_serves_the_project_and_404s_unrouted_paths(tmp_path):
    # Secrets as `make dev` makes them, but in tmp_path: a clean clone has no .dev.vars.
    secrets = tmp_path / "secrets.env"
    made = subprocess.run(
        [sys.executable, ROOT / "scripts" / "dev-vars", ROOT / ".dev.vars.example", secrets],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    with server(
        ROOT / "wrangler_compat.toml", tmp_path / "state", args=["--env-file", str(secrets)]
    ) as s:
        health = httpx.get(s.url + "/__hearth/health").json()
        assert health["status"] == "ok"
        assert {w["name"] for w in health["workers"]} >= {"hello"}
        assert httpx.get(s.url + "/hello").json()["hello"] == "Hello from Hearth"
        r = httpx.get(s.url + "/no-such-route-anywhere")
        assert r.status_code == 404 and r.json() == {"error": "Not Found"}
        smoke = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "smoke"), "--url", s.url],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert smoke.returncode == 0, smoke.stdout
        assert "11/11 checks passed" in smoke.stdout
