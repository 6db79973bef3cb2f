"""Profiles worker: what a call costs through the middleware chain and the auth worker, and
how long lock acquisition takes, through a real server (the project's auth and profiles
workers, one process).

Load scenarios (wrk): ``/health`` (middleware only), ``/api/templates`` (plus authentication
over the AUTH service binding, team membership), a page of 50 profiles from D1, and an
unchanged sync upload (hash and skip). Callers use a session cookie: an API key is limited to
1,000 calls a minute by the auth worker. The guard against failed authentications (one KV
``list`` per call) is measured off and on.
Last, one launch + release at a time: milliseconds per launch.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import httpx

from benchmarks._util import (
    ROOT,
    Options,
    fmt,
    hearth_argv,
    load,
    new_port,
    percentiles_ms,
    process,
    section,
    table,
)

EMAIL, PASSWORD = "bench@example.com", "bench-password-1"
PROFILES = 50
SYNC_BODY = json.dumps({"cookies": [{"name": "sid", "value": "x" * 64}] * 20,
                        "localStorage": {f"k{i}": "v" * 32 for i in range(50)}})  # fmt: skip


def run(opts: Options) -> None:
    section("profiles: API calls through the middleware chain and the auth worker")
    rows: list[list[object]] = []
    launch = (0.0, 0.0)
    for limit in (0, 30):  # the failed-authentication guard off, then on (never reached)
        note = "guard " + ("on" if limit else "off")
        with tempfile.TemporaryDirectory() as tmp:
            config = _setup(Path(tmp), limit)
            port = new_port()
            base = f"http://127.0.0.1:{port}"
            with process(hearth_argv(config, Path(tmp) / "state", port), base + "/health"):
                cookie, profile = asyncio.run(_seed(base))
                auth = {"Cookie": cookie}
                cases = [
                    (f"GET /api/templates ({note})",
                     load(base + "/api/templates", opts, headers=auth)),
                    (f"GET /api/profiles, {PROFILES} rows ({note})",
                     load(base + "/api/profiles?limit=50", opts, headers=auth)),
                    (f"POST /api/sync unchanged ({note})",
                     load(f"{base}/api/sync/{profile}", opts, "POST", SYNC_BODY, auth)),
                ]  # fmt: skip
                if not limit:
                    cases.insert(0, ("GET /health", load(base + "/health", opts)))
                    launch = asyncio.run(_launches(base, cookie, profile, opts))
        for label, result in cases:
            rows.append([label, fmt(result.rps), fmt(result.p50_ms, 2), fmt(result.p99_ms, 2)])
    table(["scenario", "req/s", "p50 ms", "p99 ms"], rows)
    print(f"\nload: {result.tool}, {opts.connections} connections, {opts.duration:g}s each")
    print(f"launch + release, one at a time: launch p50 {launch[0]:.2f} ms, p99 {launch[1]:.2f} ms")


def _setup(folder: Path, limit: int) -> Path:
    """The project's auth and profiles workers, migrated, with one user."""
    doc = tomllib.loads((ROOT / "wrangler_compat.toml").read_text())
    workers = [w for w in doc["workers"] if w["name"] in ("auth", "profiles")]
    for w in workers:
        for db in w.get("d1_databases", []):
            db["migrations_dir"] = str(ROOT / "migrations")
        if w["name"] == "profiles":
            w["vars"]["AUTH_FAILURE_LIMIT"] = limit
    config = folder / "wrangler.json"
    config.write_text(json.dumps({"compatibility_date": doc["compatibility_date"],
                                  "workers": workers}))  # fmt: skip
    names = ("BETTER_AUTH_SECRET", "JWT_SECRET", "STRIPE_WEBHOOK_SECRET", "PROXY_CREDENTIALS_KEY")
    (folder / ".dev.vars").write_text("".join(f"{n}={secrets.token_urlsafe(32)}\n" for n in names))
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "create-admin"), "--email", EMAIL, "--name",
         "Bench", "--config", str(config), "--persist-to", str(folder / "state")],
        input=PASSWORD + "\n", capture_output=True, text=True, check=True,
    )  # fmt: skip
    return config


async def _seed(base: str) -> tuple[str, str]:
    """Sign in; make the profiles and one synced profile. Returns (Cookie header, its id)."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        signed = await http.post("/api/auth/sign-in/email",
                                 json={"email": EMAIL, "password": PASSWORD})  # fmt: skip
        signed.raise_for_status()
        cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
        http.cookies.clear()
        headers = {"cookie": cookie}
        body = {"templateId": "mac-chrome"}
        made = [
            await http.post("/api/profiles", json={**body, "name": f"p{i}"}, headers=headers)
            for i in range(PROFILES)
        ]
        profile = made[0].json()["id"]
        as_json = {**headers, "content-type": "application/json"}
        synced = await http.post(f"/api/sync/{profile}", content=SYNC_BODY, headers=as_json)
        synced.raise_for_status()
        return cookie, profile


async def _launches(base: str, cookie: str, profile: str, opts: Options) -> tuple[float, float]:
    samples: list[int] = []
    headers = {"cookie": cookie, "x-client-id": "bench"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
        until = time.perf_counter() + min(opts.duration, 5.0)
        while time.perf_counter() < until or len(samples) < 50:
            start = time.perf_counter_ns()
            launched = await http.post(f"/api/profiles/{profile}/launch")
            samples.append(time.perf_counter_ns() - start)
            launched.raise_for_status()
            (await http.post(f"/api/profiles/{profile}/release")).raise_for_status()
    return percentiles_ms(samples)
