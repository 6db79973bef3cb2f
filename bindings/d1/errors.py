"""D1's exception: every D1 failure, with D1's code in front of the message."""

from __future__ import annotations

from bindings.errors import JsException


class D1Error(JsException):
    """Every D1 failure; the message starts with D1's code (``D1_ERROR: ...``).

    ``__cause__`` is a ``JsException`` with the bare message (Cloudflare's ``error.cause``),
    itself caused by the SQLite error when there was one.
    """

    def __init__(self, message: str, *, index: int | None = None, code: int | None = None) -> None:
        super().__init__(message)
        self._index = index  # the request entry that failed, when one did
        self._code = code  # SQLite's primary result code, when SQLite failed

    @property
    def detail(self) -> str:
        """The message without D1's code (what ``error.cause.message`` holds on Cloudflare)."""
        return self.message.partition(": ")[2]


def d1_error(
    code: str,
    message: str,
    original: BaseException | None = None,
    *,
    index: int | None = None,
    sqlite_code: int | None = None,
) -> D1Error:
    """``D1Error("<code>: <message>")`` caused by ``JsException(message)``, caused by
    ``original``. Raise it with ``raise error from error.__cause__`` inside an except block."""
    cause = JsException(message)
    cause.__cause__ = original
    error = D1Error(f"{code}: {message}", index=index, code=sqlite_code)
    error.__cause__ = cause
    return error
