"""The baseline: a bare Starlette app doing each scenario's work directly (no Hearth)."""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

# The 1 KiB object of the "R2 get 1 KiB" scenario, written by scripts/benchmarks/r2.py.
R2_FILE = os.environ.get("BENCH_R2_FILE", "/tmp/hearth-bench-r2-1k.bin")


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"hello": "world"})


async def r2_get(request: Request) -> Response:
    # The same work as Hearth's /r2/get: find the object (open + fstat give its size, and an
    # etag from mtime and size as Starlette's FileResponse derives one), read its bytes from
    # disk, answer with its content type and etag. No index lookup: that is Hearth's extra.
    fd = os.open(R2_FILE, os.O_RDONLY)
    try:
        stat = os.fstat(fd)
        data = os.read(fd, stat.st_size)
    finally:
        os.close(fd)
    etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'
    return Response(data, media_type="application/octet-stream", headers={"etag": etag})


routes = [Route("/hello", hello), Route("/r2/get", r2_get)]
app = Starlette(routes=routes)
