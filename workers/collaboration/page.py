"""The room page (``GET /rooms/{room}``) and its three static files, served with a strict
Content-Security-Policy: scripts, styles and connections from this origin only, nothing
inline, no framing. The page is plain HTML; ``static/room.js`` does the work."""

from __future__ import annotations

import hashlib
from html import escape
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

ASSETS = "/rooms/_assets"  # "_" never starts a room name, so no room can shadow it
STATIC = Path(__file__).parent / "static"
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}

# Read once: name -> (bytes, ETag).
_FILES = {
    path.name: (data, '"' + hashlib.sha256(data).hexdigest()[:16] + '"')
    for path in sorted(STATIC.iterdir())
    if path.suffix in TYPES
    for data in [path.read_bytes()]
}

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{room} · Hearth</title>
<link rel="stylesheet" href="{assets}/room.css">
</head>
<body>
<main data-room="{room}">
<header><h1>{room}</h1>
<span id="status" role="status" data-kind="offline">Connecting…</span></header>
<textarea id="editor" aria-label="Document" spellcheck="false" disabled></textarea>
<aside><h2>Here now</h2><ul id="people"></ul></aside>
</main>
<script src="{assets}/ot.js"></script>
<script src="{assets}/room.js"></script>
</body>
</html>
"""


def page(room: str) -> Response:
    """The room's page (``room`` is a valid room name; escaped all the same)."""
    html = _PAGE.format(room=escape(room), assets=ASSETS)
    return HTMLResponse(html, headers={**SECURITY_HEADERS, "cache-control": "no-store"})


def asset(request: Request) -> Response:
    """One of the static files, revalidated by ETag on every load."""
    found = _FILES.get(request.path_params["name"])
    if found is None:
        return Response(b'{"error":"Not Found"}', 404, media_type="application/json")
    data, etag = found
    headers = {**SECURITY_HEADERS, "etag": etag, "cache-control": "no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    media = TYPES[Path(request.path_params["name"]).suffix]
    return Response(data, headers=headers, media_type=media)
