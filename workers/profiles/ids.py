"""Ids and time for the profiles worker (the runtime's clock, so tests can pin it)."""

from __future__ import annotations

from workers.auth.crypto import generate_id
from workers.auth.dates import iso, now_ms

__all__ = ["ID_LENGTH", "iso", "new_id", "now_ms"]

ID_LENGTH = 12  # the seed's nanoid(12), from [A-Za-z0-9]: 71 bits


def new_id() -> str:
    """A fresh random id for a team, profile, proxy or invite."""
    return generate_id(ID_LENGTH)
