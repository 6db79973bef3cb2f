"""A tiny ``pyodide`` for Cloudflare code written against Pyodide's FFI."""
