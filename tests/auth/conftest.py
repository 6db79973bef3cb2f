"""Shared helpers of the auth worker's tests: the official JS client's folder and a Node runner."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

JS_DIR = Path(__file__).parent / "js"


def node_ready() -> bool:
    """Node and the pinned npm packages (``npm ci`` in tests/auth/js) are installed."""
    return shutil.which("node") is not None and (JS_DIR / "node_modules" / "better-auth").is_dir()


def node(*args: str, timeout: float = 60) -> str:
    """Run ``node <args>`` in tests/auth/js and return its stdout (raises on failure)."""
    done = subprocess.run(
        ["node", *args], cwd=JS_DIR, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise AssertionError(f"node {args[0]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout
