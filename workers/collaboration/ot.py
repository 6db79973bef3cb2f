"""Operational transformation on plain text: inserts and deletes at code-point positions.

An operation is one ``Insert(position, text)`` or ``Delete(position, length)``; a *sequence*
is a list of them applied in order (each against the text the previous one left). Positions
and lengths count Unicode code points, never UTF-16 units or bytes (the page's JavaScript
converts at the textarea).

``transform(a, b, a_first)`` takes two sequences made against the same text and returns
``(a2, b2)`` such that applying ``a`` then ``b2`` gives the same text as ``b`` then ``a2``
(convergence, TP1). The rules, for one operation against another:

- insert / insert: the one at the smaller position goes first; at equal positions the one
  whose author wins the tie-break (``a_first``: the lower session id) goes first;
- insert / delete: an insert at or before the deleted range keeps its place (the delete
  shifts right), one after it shifts left, one strictly inside it survives at the start of
  the range — and the delete splits into two deletes around the inserted text, so no one's
  typing is lost;
- delete / delete: each removes what the other did not already remove; a delete wholly
  inside the other disappears.

Only a delete can split, and only into deletes, so the results stay short. ``static/ot.js``
is the same module for the browser, rule for rule; tests run both on the same cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeGuard


class InvalidOperation(ValueError):
    """An operation that is malformed, or does not fit the text it is applied to."""


@dataclass(frozen=True, slots=True)
class Insert:
    position: int
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"type": "insert", "position": self.position, "text": self.text}


@dataclass(frozen=True, slots=True)
class Delete:
    position: int
    length: int

    def to_json(self) -> dict[str, Any]:
        return {"type": "delete", "position": self.position, "length": self.length}


Op = Insert | Delete
Ops = list[Op]


def is_index(value: object) -> TypeGuard[int]:
    """A position or length: an int (not a bool) of at least 0."""
    return type(value) is int and value >= 0


def from_json(data: object) -> Op:
    """An operation from its JSON form (``{"type": "insert", "position", "text"}`` or
    ``{"type": "delete", "position", "length"}``); InvalidOperation when malformed."""
    if not isinstance(data, dict):
        raise InvalidOperation("operation must be an object")
    kind, position = data.get("type"), data.get("position")
    if not is_index(position):
        raise InvalidOperation("operation.position must be a non-negative integer")
    if kind == "insert":
        text = data.get("text")
        if not isinstance(text, str) or not text:
            raise InvalidOperation("insert.text must be a non-empty string")
        if not text.isascii():
            try:
                text.encode()
            except UnicodeEncodeError:  # a lone surrogate: no UTF-16 text holds one
                raise InvalidOperation("insert.text must be valid Unicode") from None
        return Insert(position, text)
    if kind == "delete":
        length = data.get("length")
        if not is_index(length) or length == 0:
            raise InvalidOperation("delete.length must be a positive integer")
        return Delete(position, length)
    raise InvalidOperation("operation.type must be 'insert' or 'delete'")


def check(op: Op, size: int) -> None:
    """Raise InvalidOperation unless ``op`` fits a text of ``size`` code points."""
    end = op.position + op.length if isinstance(op, Delete) else op.position
    if end > size:
        raise InvalidOperation(f"operation reaches position {end} of a {size}-character text")


def apply(text: str, op: Op) -> str:
    """``text`` with ``op`` applied (the caller has checked that it fits)."""
    if isinstance(op, Insert):
        return text[: op.position] + op.text + text[op.position :]
    return text[: op.position] + text[op.position + op.length :]


def delta(op: Op) -> int:
    """How much ``op`` changes the text's length."""
    return len(op.text) if isinstance(op, Insert) else -op.length


# -- transformation ---------------------------------------------------------------------------


def transform(a: Ops, b: Ops, a_first: bool) -> tuple[Ops, Ops]:
    """``(a2, b2)``: ``a`` rebased onto ``b`` and ``b`` onto ``a`` (see the module docstring).

    ``a_first`` breaks ties between inserts at one position: ``a``'s text goes left of ``b``'s.
    """
    if len(a) == 1 and len(b) == 1:
        return _pair(a[0], b[0], a_first)
    if len(a) != 1:  # each of a's operations in turn, against b as the previous left it
        out: Ops = []
        for op in a:
            done, b = transform([op], b, a_first)
            out += done
        return out, b
    rebased: Ops = []  # one operation against several
    for op in b:
        a, done = transform(a, [op], a_first)
        rebased += done
    return a, rebased


def _pair(a: Op, b: Op, a_first: bool) -> tuple[Ops, Ops]:
    if isinstance(a, Insert):
        if isinstance(b, Insert):
            if a.position < b.position or (a.position == b.position and a_first):
                return [a], [Insert(b.position + len(a.text), b.text)]
            return [Insert(a.position + len(b.text), a.text)], [b]
        return _insert_delete(a, b)
    if isinstance(b, Insert):
        b2, a2 = _insert_delete(b, a)
        return a2, b2
    return _shrink(a, b), _shrink(b, a)


def _insert_delete(ins: Insert, cut: Delete) -> tuple[Ops, Ops]:
    start, end, size = cut.position, cut.position + cut.length, len(ins.text)
    if ins.position <= start:
        return [ins], [Delete(start + size, cut.length)]
    if ins.position >= end:
        return [Insert(ins.position - cut.length, ins.text)], [cut]
    # Inside the range: the text survives where the range began; the delete goes around it.
    head = ins.position - start
    return [Insert(start, ins.text)], [Delete(start, head), Delete(start + size, cut.length - head)]


def _shrink(cut: Delete, other: Delete) -> Ops:
    """``cut`` once ``other`` has removed its own range (nothing if that covered it all)."""
    start = map_position(cut.position, other)
    end = map_position(cut.position + cut.length, other)
    return [Delete(start, end - start)] if end > start else []


def map_position(position: int, op: Op) -> int:
    """Where a position (a caret) is after ``op``: an insert at the caret stays to its right."""
    if isinstance(op, Insert):
        return position + len(op.text) if position > op.position else position
    if position <= op.position:
        return position
    return max(op.position, position - op.length)


# -- the client's outgoing buffer ---------------------------------------------------------------

MAX_MERGED_CHARS = 4096  # a merged insert stays well inside one 64 KiB frame


def merge(ops: Ops, op: Op) -> None:
    """Append ``op`` to a buffer of unsent operations, folding it into the last one when it
    continues it (typing on, backspacing, deleting forward) so fewer frames go out."""
    last = ops[-1] if ops else None
    if isinstance(last, Insert) and isinstance(op, Insert):
        if op.position == last.position + len(last.text) and (
            len(last.text) + len(op.text) <= MAX_MERGED_CHARS
        ):
            ops[-1] = Insert(last.position, last.text + op.text)
            return
    elif isinstance(last, Delete) and isinstance(op, Delete):
        if op.position == last.position:  # forward delete
            ops[-1] = Delete(last.position, last.length + op.length)
            return
        if op.position + op.length == last.position:  # backspace
            ops[-1] = Delete(op.position, last.length + op.length)
            return
    ops.append(op)


def pieces(op: Op) -> Ops:
    """``op``, or an insert longer than ``MAX_MERGED_CHARS`` cut into pieces that each fit a
    frame (a paste of a whole file)."""
    if isinstance(op, Delete) or len(op.text) <= MAX_MERGED_CHARS:
        return [op]
    step = MAX_MERGED_CHARS
    return [Insert(op.position + i, op.text[i : i + step]) for i in range(0, len(op.text), step)]


def diff(old: str, new: str) -> Ops:
    """The operations turning ``old`` into ``new``: one delete and/or one insert around the
    longest common prefix and suffix."""
    limit = min(len(old), len(new))
    start = 0
    while start < limit and old[start] == new[start]:
        start += 1
    tail = 0
    while tail < limit - start and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    ops: Ops = []
    if len(old) - tail > start:
        ops.append(Delete(start, len(old) - tail - start))
    if len(new) - tail > start:
        ops.append(Insert(start, new[start : len(new) - tail]))
    return ops
