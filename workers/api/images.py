"""Uploaded images: which types are accepted, checked by their bytes, and streamed into R2.

An upload is accepted only when its declared type is on the allowlist *and* its first bytes are
that format's signature, so nothing else (HTML, SVG with script, an executable) is ever stored
or served as an image. Sizes are bounded twice: the request body is cut off while it streams
(``workers.common.http.limit_body``), and each file against ``max_bytes``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

DEFAULT_MAX_BYTES = 5 * 1024 * 1024  # per image, unless the MEDIA_MAX_BYTES var says otherwise
CHUNK_BYTES = 64 * 1024
# Content type -> file extension. No SVG: it can carry script and would run on this origin.
ALLOWED = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/avif": ".avif",
}
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def sniff(head: bytes) -> str | None:
    """The image type whose signature ``head`` starts with, if any."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:12] in (b"ftypavif", b"ftypavis"):
        return "image/avif"
    return None


def max_bytes(env: Any) -> int:
    """The per-image size limit: the MEDIA_MAX_BYTES var, else 5 MiB."""
    return int(getattr(env, "MEDIA_MAX_BYTES", DEFAULT_MAX_BYTES))


def safe_name(name: str | None, fallback: str = "image") -> str:
    """A file name usable in an R2 key and a URL: ``[A-Za-z0-9._-]``, at most 80 characters."""
    cleaned = _UNSAFE_NAME.sub("-", name or "").strip(".-")[-80:].lstrip(".-")
    return cleaned or fallback


@dataclass(frozen=True)
class Image:
    """A checked upload, ready to store."""

    upload: UploadFile
    content_type: str
    size: int
    name: str

    @property
    def extension(self) -> str:
        return ALLOWED[self.content_type]


async def check_image(upload: Any, field: str, limit: int) -> Image:
    """``upload`` as an Image: 400 not a file, 413 too large, 415 not an allowed image."""
    if not isinstance(upload, UploadFile):
        raise HTTPException(400, f"{field} must be a file")
    size = upload.size if upload.size is not None else 0
    if size > limit:
        raise HTTPException(413, f"{field} is larger than {limit} bytes")
    if size == 0:
        raise HTTPException(400, f"{field} is empty")
    declared = (upload.content_type or "").split(";")[0].strip().lower()
    head = await upload.read(16)
    await upload.seek(0)
    actual = sniff(head)
    if declared not in ALLOWED or actual != declared:
        allowed = ", ".join(ALLOWED)
        raise HTTPException(415, f"{field} must be an image of type {allowed}")
    return Image(upload, actual, size, safe_name(upload.filename))


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(CHUNK_BYTES):
        yield chunk


async def put_image(bucket: Any, key: str, image: Image, custom: dict[str, str]) -> Any:
    """Stream ``image`` into ``bucket`` at ``key`` with its type and ``custom`` metadata."""
    await image.upload.seek(0)
    return await bucket.put(
        key,
        _chunks(image.upload),
        httpMetadata={"contentType": image.content_type},
        customMetadata={**custom, "originalName": image.name},
    )
