"""The errors Durable Objects raise, with workerd's messages."""

from __future__ import annotations

from bindings.errors import JsException


class DurableObjectError(JsException):
    """A plain JS ``Error`` from a Durable Object API (transactions, jurisdictions, ...)."""


class SqlError(JsException):
    """An error from ``ctx.storage.sql``: SQLite's message and code, or a forbidden statement."""


class DurableObjectReset(JsException):
    """The object was reset (``abort()``, a failed ``blockConcurrencyWhile``, a broken commit);
    raised to the callers of its in-flight events. The next event constructs a new instance."""


class DurableObjectAbort(BaseException):
    """Raised by ``ctx.abort()`` inside the object, as Cloudflare's Python SDK does; the caller
    of the event sees a ``DurableObjectReset`` with the same message."""


ABORT_MESSAGE = "Application called abort() to reset Durable Object."
