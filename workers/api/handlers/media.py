"""``/media``: signed-in users upload images to R2; anyone reads them back (ETag, Range, 304)."""

from __future__ import annotations

import uuid

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from bindings.r2 import object_response
from bindings.response import Response
from workers.api.images import check_image, max_bytes, put_image
from workers.auth.client import require_user
from workers.common.http import limit_body

FORM_OVERHEAD = 16 * 1024  # multipart boundary and part headers around the one file
MAX_KEY_BYTES = 1024  # R2's key limit
# Keys are unique per upload, so a copy may be kept a day; nosniff: served only as their type.
SERVE_HEADERS = {"cache-control": "public, max-age=86400", "x-content-type-options": "nosniff"}


async def upload(request: Request) -> JSONResponse:
    """``POST /media/upload``: a multipart form whose ``file`` is an image; 201 with its URL."""
    user = await require_user(request)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "multipart/form-data":
        raise HTTPException(415, "Content-Type must be multipart/form-data with a file field")
    env = request.scope["env"]
    limit = max_bytes(env)
    form = await limit_body(request, limit + FORM_OVERHEAD).form(max_files=1, max_fields=4)
    try:
        image = await check_image(form.get("file"), "file", limit)
        key = f"uploads/{uuid.uuid4().hex}{image.extension}"
        stored = await put_image(env.STORAGE, key, image, {"uploadedBy": user.user_id})
    finally:
        await form.close()
    body = {"key": key, "url": f"/media/{key}", "size": stored.size,
            "contentType": image.content_type, "etag": stored.httpEtag}  # fmt: skip
    return JSONResponse(body, status_code=201)


async def serve(request: Request) -> Response:
    """``GET /media/{key}``: the object, with ETag, Last-Modified, Range (206/416) and 304."""
    key = request.path_params["key"]
    if not key or len(key.encode()) > MAX_KEY_BYTES:
        raise HTTPException(404, "Not Found")
    return await object_response(request, request.scope["env"].STORAGE, key, headers=SERVE_HEADERS)
