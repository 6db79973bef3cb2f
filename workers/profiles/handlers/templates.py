"""``/api/templates``: the fingerprint templates, one template's values, and a preview
fingerprint with the consistency rules' verdict."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from workers.auth.client import require_scope
from workers.profiles import fingerprints


def _template(request: Request) -> tuple[str, Any]:
    template_id = request.path_params["id"]
    found = fingerprints.templates().get(template_id)
    if found is None:
        raise HTTPException(404, "Template not found")
    return template_id, found


async def list_templates(request: Request) -> Response:
    await require_scope(request, "templates:read")
    return JSONResponse({"templates": fingerprints.summaries()})


async def get_template(request: Request) -> Response:
    await require_scope(request, "templates:read")
    template_id, template = _template(request)
    return JSONResponse({"id": template_id, **template})


async def preview(request: Request) -> Response:
    """A freshly generated fingerprint (nothing stored) and the rules it breaks (none)."""
    await require_scope(request, "templates:read")
    template_id, _ = _template(request)
    fp = fingerprints.generate(template_id)
    errors = fingerprints.check(fp)
    return JSONResponse({"fingerprint": fp.to_json(), "valid": not errors, "errors": errors})
