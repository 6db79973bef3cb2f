"""R2's errors, with workerd's exact text: ``<op>: <message> (<v4code>)``.

Each condition of the conformance reference is a class, so handlers can catch them by type
(``except R2InvalidObjectName``) or all at once (``except R2Error``). Argument problems found
before any storage is touched are ``JsTypeError`` / ``JsRangeError`` with workerd's text.
"""

from __future__ import annotations

from typing import ClassVar

from bindings.errors import JsException


class R2Error(JsException):
    """An error R2 returned for an operation; ``code`` is its v4 code, ``status`` its HTTP status.

    ``op`` is the binding operation (``put``, ``completeMultipartUpload``...); backends raise
    these without one and the bucket fills it in, so the text always names the caller's op.
    """

    js_name = "Error"
    code: ClassVar[int] = 10001
    status: ClassVar[int] = 500
    text: ClassVar[str] = "We encountered an internal error. Please try again."

    def __init__(self, op: str = "", detail: str | None = None) -> None:
        self.op = op
        self.detail = self.text if detail is None else detail
        super().__init__(self._format())

    def _format(self) -> str:
        return (
            f"{self.op}: {self.detail} ({self.code})" if self.op else f"{self.detail} ({self.code})"
        )

    def with_op(self, op: str) -> R2Error:
        """Name the operation (once); returns self for ``raise exc.with_op(op)``."""
        if not self.op:
            self.op = op
            self.args = (self._format(),)
        return self

    @property
    def action(self) -> str:
        """workerd's name for ``op`` on its R2Error objects."""
        return self.op


class R2InternalError(R2Error):
    code, status = 10001, 500


class R2InvalidObjectName(R2Error):
    code, status = 10020, 400
    text = "The specified object name is not valid."


class R2EntityTooLarge(R2Error):
    code, status = 100100, 400
    text = "Your proposed upload exceeds the maximum allowed object size."


class R2MetadataTooLarge(R2Error):
    code, status = 10012, 400
    text = "Your metadata headers exceed the maximum allowed metadata size."


class R2InvalidMaxKeys(R2Error):
    code, status = 10022, 400
    text = "MaxKeys params must be positive integer <= 1000."


class R2BadDigest(R2Error):
    code, status = 10037, 400
    text = "The checksum you specified did not match what we received."

    @classmethod
    def mismatch(cls, algorithm: str, provided: str, actual: str) -> R2BadDigest:
        """The three-line message R2 gives for one algorithm (MD5, SHA-1, ...)."""
        return cls(
            "",
            f"The {algorithm} checksum you specified did not match what we received.\n"
            f"You provided a {algorithm} checksum with value: {provided}\n"
            f"Actual {algorithm} was: {actual}",
        )


class R2InvalidRange(R2Error):
    code, status = 10039, 416
    text = "The requested range is not satisfiable"


class R2PreconditionFailed(R2Error):
    """Never raised by the binding (get returns the object without a body, put returns None)."""

    code, status = 10031, 412
    text = "At least one of the pre-conditions you specified did not hold."


class R2NoSuchKey(R2Error):
    """Never raised by the binding (a missing key is ``None``)."""

    code, status = 10007, 404
    text = "The specified key does not exist."


class R2NoSuchUpload(R2Error):
    code, status = 10024, 400
    text = "The specified multipart upload does not exist."


class R2InvalidPart(R2Error):
    code, status = 10025, 400
    text = "One or more of the specified parts could not be found."


class R2EntityTooSmall(R2Error):
    code, status = 10011, 400
    text = "Your proposed upload is smaller than the minimum allowed object size."


class R2BadUpload(R2Error):
    code, status = 10048, 500
    text = "There was a problem with the multipart upload."
