"""The auth worker: Better-Auth-compatible sessions, JWT for shop customers, API keys, and the
request-auth helper (``workers.auth.client``) that every other worker uses to learn who calls."""
