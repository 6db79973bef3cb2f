"""hello: the smallest worker, written exactly as Cloudflare's Python docs write one."""
