"""Durable Object test helpers: a worker module written to a temp folder, run by ``hearth``."""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path
from typing import Any

import pytest

_modules = itertools.count()


def worker_config(
    folder: Path,
    source: str,
    *,
    bindings: dict[str, str],
    sqlite: tuple[str, ...] = (),
    kv: tuple[str, ...] = (),
    name: str = "app",
    compatibility_date: str = "2026-11-01",
    hearth: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A one-worker config dict whose main is ``source`` written beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    module = f"do_worker_{next(_modules)}.py"  # a fresh module name per test: no cached imports
    (folder / module).write_text(textwrap.dedent(source))
    migrations = []
    if sqlite:
        migrations.append({"tag": "v1", "new_sqlite_classes": list(sqlite)})
    if kv:
        migrations.append({"tag": "v2", "new_classes": list(kv)})
    doc: dict[str, Any] = {
        "name": name,
        "main": module,
        "compatibility_date": compatibility_date,
        "durable_objects": {
            "bindings": [{"name": b, "class_name": c} for b, c in bindings.items()]
        },
        "migrations": migrations,
    }
    if hearth is not None:
        doc["hearth"] = hearth
    return doc


@pytest.fixture
def do_app(hearth, tmp_path):
    """``h = await do_app(SOURCE, bindings={"NS": "Class"}, sqlite=("Class",))``."""

    async def make(source: str, *, state: str = "state", **options: Any):
        config = worker_config(tmp_path, source, **options)
        return await hearth(config, state_dir=tmp_path / state)

    return make
