"""Page / limit / offset query parameters, bounded, with 400 for bad values."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException


@dataclass(frozen=True)
class Page:
    page: int
    limit: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


def int_param(query: QueryParams, name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within [low, high]; 400 naming it otherwise."""
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise HTTPException(400, f"{name} must be an integer") from None
    if not low <= value <= high:
        raise HTTPException(400, f"{name} must be between {low} and {high}")
    return value


def page_params(query: QueryParams, default_limit: int = 20, max_limit: int = 100) -> Page:
    """``?page=`` (from 1) and ``?limit=`` (1..max_limit)."""
    return Page(
        page=int_param(query, "page", 1, 1, 1_000_000),
        limit=int_param(query, "limit", default_limit, 1, max_limit),
    )
