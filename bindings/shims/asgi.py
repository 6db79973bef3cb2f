"""Top-level ``asgi``: an alias of ``workers.asgi``, as Cloudflare's runtime provides."""

import sys

import workers.asgi

sys.modules[__name__] = workers.asgi
