"""A room's document on the server: its text, its version, and the recent operations.

The version counts operations applied since the room began: each applied operation makes
one new version. A client sends each operation with the version it was made against (its
*base*); ``Document.receive`` transforms it against every operation applied after that base
(``ot.transform``, ties between inserts at one position going to the lower session id) and
applies the result. A transformed operation may have become two (a delete split around
someone's insert) or none (a delete of text already deleted): each applied part is a version.

Only a bounded tail of operations is kept (``MAX_HISTORY_OPS`` and ``MAX_HISTORY_CHARS`` of
inserted text); an operation whose base is older than the tail cannot be transformed and is
refused with ``Rejected("stale_version")`` — the client is sent the whole document instead.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice

from workers.collaboration import ot
from workers.collaboration.ot import Insert, Op

MAX_DOCUMENT_CHARS = 256 * 1024  # code points; at most 1 MiB of UTF-8, inside storage limits
MAX_HISTORY_OPS = 1000  # operations kept for transforming late operations against
MAX_HISTORY_CHARS = 1_000_000  # ...and at most this much inserted text among them


class Rejected(Exception):
    """An operation the document refuses; ``code`` is the error frame's code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Applied:
    """One operation as applied: the version it made and the session it came from."""

    version: int
    session: str
    op: Op


class Document:
    """Text, version and the tail of applied operations (oldest first)."""

    def __init__(self, content: str = "", version: int = 0) -> None:
        self.content = content
        self.version = version
        self.history: deque[Applied] = deque()
        self._history_chars = 0

    @classmethod
    def restore(cls, content: str, version: int, entries: Iterable[Applied]) -> Document:
        """A document from a snapshot (``content`` at ``version``) and the stored operations,
        oldest first: those up to the snapshot become history, later ones are applied again
        (trusted: they were checked once)."""
        document = cls(content, version)
        for entry in entries:
            if entry.version > document.version:
                document.content = ot.apply(document.content, entry.op)
                document.version = entry.version
            document._remember(entry)
        document._trim()
        return document

    @property
    def floor(self) -> int:
        """The oldest base version an operation may still be made against."""
        return self.version - len(self.history)

    def receive(self, op: Op, base: int, session: str) -> list[Applied]:
        """Transform ``op`` (made at version ``base`` by ``session``) against what was applied
        since, apply it, and return the parts applied (empty when nothing was left to do).
        Raises Rejected for a base outside the tail, or an op that does not fit its base."""
        later, size = self.since(base)
        if isinstance(op, Insert) and "\r" in op.text:
            raise Rejected("invalid_operation", "text uses \\n line endings only")
        try:
            ot.check(op, size)
        except ot.InvalidOperation as exc:
            raise Rejected("invalid_operation", str(exc)) from None
        ops = [op]
        for entry in later:
            ops, _ = ot.transform(ops, [entry.op], session < entry.session)
        return self._apply_all(ops, session)

    def since(self, base: int) -> tuple[list[Applied], int]:
        """The operations applied after version ``base`` and the text's length at ``base``."""
        if not 0 <= base <= self.version:
            raise Rejected("bad_version", f"baseVersion must be between 0 and {self.version}")
        if base < self.floor:
            raise Rejected("stale_version", f"version {base} is too old to transform against")
        count = self.version - base
        later = list(islice(reversed(self.history), count))[::-1] if count else []
        return later, len(self.content) - sum(ot.delta(entry.op) for entry in later)

    def replace(self, content: str, session: str) -> list[Applied]:
        """Make the text ``content`` (an HTTP save): the smallest delete and insert that do it,
        applied at the current version."""
        return self._apply_all(ot.diff(self.content, content), session)

    def _apply_all(self, ops: list[Op], session: str) -> list[Applied]:
        grows = sum(ot.delta(op) for op in ops)
        if len(self.content) + grows > MAX_DOCUMENT_CHARS:
            raise Rejected(
                "document_full", f"documents hold at most {MAX_DOCUMENT_CHARS} characters"
            )
        applied = []
        for op in ops:
            self.content = ot.apply(self.content, op)
            self.version += 1
            entry = Applied(self.version, session, op)
            self._remember(entry)
            applied.append(entry)
        self._trim()
        return applied

    def _remember(self, entry: Applied) -> None:
        self.history.append(entry)
        if isinstance(entry.op, Insert):
            self._history_chars += len(entry.op.text)

    def _trim(self) -> None:
        history = self.history
        while history and (
            len(history) > MAX_HISTORY_OPS or self._history_chars > MAX_HISTORY_CHARS
        ):
            old = history.popleft()
            if isinstance(old.op, Insert):
                self._history_chars -= len(old.op.text)


def cursor_at(document: Document, position: int, base: int) -> int:
    """A caret placed at ``position`` in version ``base``, moved through every operation
    applied since; Rejected when ``base`` is outside the tail or the position out of range."""
    later, size = document.since(base)
    if position > size:
        raise Rejected("invalid_cursor", f"position {position} is past the end ({size})")
    for entry in later:
        position = ot.map_position(position, entry.op)
    return position
