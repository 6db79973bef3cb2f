"""scripts/dev-vars: .dev.vars made from the example with random secrets, and later extended
with the names the example gained, keeping every value already there."""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "dev-vars"


def run(example: Path, target: Path) -> str:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(example), str(target)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout


def values(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k: v for k, v in pairs if not k.startswith("#")}


def test_creates_then_appends_missing_names(tmp_path):
    example, target = tmp_path / "example", tmp_path / ".dev.vars"
    example.write_text("# comment\nFIRST=\nFIXED=value\n")
    assert "created" in run(example, target)
    first = values(target)
    assert len(first["FIRST"]) >= 48 and first["FIXED"] == "value"
    assert target.stat().st_mode & 0o777 == 0o600
    example.write_text("# comment\nFIRST=\nFIXED=value\nSTRIPE_WEBHOOK_SECRET=\n")
    target.write_text(target.read_text().replace("FIXED=value", "FIXED=mine"))
    assert "added STRIPE_WEBHOOK_SECRET" in run(example, target)
    second = values(target)
    assert second["FIRST"] == first["FIRST"] and second["FIXED"] == "mine"
    assert len(second["STRIPE_WEBHOOK_SECRET"]) >= 48
    assert run(example, target) == ""  # nothing missing: nothing changes
    assert values(target) == second
