"""Shared test setup: Hearth's pytest plugin (the `hearth` fixture) and fixture paths."""

from pathlib import Path

import pytest

pytest_plugins = ["bindings.testing"]

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).parent.parent


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES
