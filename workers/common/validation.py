"""Request validation with pydantic models: a bad body or query is a 400 naming each problem.

    body = await parse_body(request, CreateProfile)          # 400/413/415 as json_object
    query = parse_query(request, ListQuery)                   # ?limit=...&order=...

A failure answers ``{"error": "Validation failed", "details": [{"path": "name", "message":
"String should have at most 100 characters"}, ...]}``; install ``exception_handlers``. The
details never echo the rejected values (they may be secrets).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from workers.common.http import MAX_JSON_BYTES, json_object

if TYPE_CHECKING:  # pydantic itself is imported on first use (startup time)
    from pydantic import BaseModel, ValidationError

__all__ = ["InvalidRequest", "exception_handlers", "parse", "parse_body", "parse_query"]

Model = TypeVar("Model", bound="BaseModel")
VALIDATION_FAILED = "Validation failed"


class InvalidRequest(HTTPException):
    """400 with a list of ``{path, message}`` problems."""

    def __init__(self, details: list[dict[str, str]], message: str = VALIDATION_FAILED) -> None:
        super().__init__(400, message)
        self.details = details


def problems(error: ValidationError) -> list[dict[str, str]]:
    """pydantic's errors as ``{path, message}``: ``tags.2`` for the third tag."""
    out = []
    for item in error.errors(include_url=False, include_input=False):
        path = ".".join(str(part) for part in item["loc"])
        out.append({"path": path, "message": str(item["msg"])})
    return out


def parse(model: type[Model], data: Any) -> Model:
    """``data`` validated into ``model``; InvalidRequest (400) otherwise."""
    from pydantic import ValidationError

    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequest(problems(exc)) from None


async def parse_body(request: Request, model: type[Model], limit: int = MAX_JSON_BYTES) -> Model:
    """The JSON body validated into ``model`` (413 past ``limit`` bytes, 415 not JSON)."""
    return parse(model, await json_object(request, limit))


def parse_query(request: Request, model: type[Model]) -> Model:
    """The query string validated into ``model`` (the last value of a repeated name wins)."""
    return parse(model, dict(request.query_params))


async def _invalid(request: Any, exc: Exception) -> Response:
    assert isinstance(exc, InvalidRequest)
    return JSONResponse({"error": exc.detail, "details": exc.details}, status_code=400)


# Merge into an app's map: {**http.exception_handlers, **validation.exception_handlers}.
exception_handlers: dict[Any, Any] = {InvalidRequest: _invalid}
