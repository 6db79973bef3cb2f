"""R2: object storage buckets (``env.BUCKET``), on local files or any S3 API.

``R2Bucket`` mirrors Cloudflare's binding name for name; ``object_response`` answers an HTTP
request (Range, conditional requests, HEAD) from an object. See docs/bindings/r2.md.
"""

from __future__ import annotations

from bindings.r2.bucket import R2Bucket, R2MultipartUpload
from bindings.r2.errors import (
    R2BadDigest,
    R2BadUpload,
    R2EntityTooLarge,
    R2EntityTooSmall,
    R2Error,
    R2InternalError,
    R2InvalidMaxKeys,
    R2InvalidObjectName,
    R2InvalidPart,
    R2InvalidRange,
    R2MetadataTooLarge,
    R2NoSuchKey,
    R2NoSuchUpload,
    R2PreconditionFailed,
)
from bindings.r2.http import object_response
from bindings.r2.objects import R2Checksums, R2Object, R2ObjectBody
from bindings.r2.plugin import R2Plugin
from bindings.r2.ranges import parse_ranges

__all__ = [
    "R2BadDigest",
    "R2BadUpload",
    "R2Bucket",
    "R2Checksums",
    "R2EntityTooLarge",
    "R2EntityTooSmall",
    "R2Error",
    "R2InternalError",
    "R2InvalidMaxKeys",
    "R2InvalidObjectName",
    "R2InvalidPart",
    "R2InvalidRange",
    "R2MetadataTooLarge",
    "R2MultipartUpload",
    "R2NoSuchKey",
    "R2NoSuchUpload",
    "R2Object",
    "R2ObjectBody",
    "R2Plugin",
    "R2PreconditionFailed",
    "object_response",
    "parse_ranges",
]
