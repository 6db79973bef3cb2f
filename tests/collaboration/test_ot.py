"""The transform functions: every pair of single operations on a small text (exhaustively),
hand-checked cases for the rules, sequences (hypothesis), and the helpers."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workers.collaboration import ot
from workers.collaboration.ot import Delete, Insert

BASE = "abcdef"


def every_op(text: str) -> list[ot.Op]:
    ops: list[ot.Op] = []
    for position in range(len(text) + 1):
        ops += [Insert(position, "X"), Insert(position, "YZ")]
        ops += [Delete(position, n) for n in range(1, len(text) - position + 1)]
    return ops


def run(text: str, ops: list[ot.Op]) -> str:
    for op in ops:
        ot.check(op, len(text))
        text = ot.apply(text, op)
    return text


PAIRS = [(a, b, first) for a, b in itertools.product(every_op(BASE), repeat=2)
         for first in (True, False)]  # fmt: skip


def test_every_pair_converges_and_both_sides_agree():
    assert len(PAIRS) > 1500
    for a, b, first in PAIRS:
        a2, b2 = ot.transform([a], [b], first)
        left = run(run(BASE, [a]), b2)
        assert left == run(run(BASE, [b]), a2), (a, b, first)
        # Transforming from the other side gives the same two results, swapped.
        assert ot.transform([b], [a], not first) == (b2, a2), (a, b, first)


def test_every_pair_keeps_all_inserted_text_and_deletes_only_what_was_asked():
    for a, b, first in PAIRS:
        _, b2 = ot.transform([a], [b], first)
        result = run(run(BASE, [a]), b2)
        inserted = "".join(op.text for op in (a, b) if isinstance(op, Insert))
        deleted = set()
        for op in (a, b):
            if isinstance(op, Delete):
                deleted |= set(range(op.position, op.position + op.length))
        survivors = "".join(c for i, c in enumerate(BASE) if i not in deleted)
        assert sorted(result) == sorted(survivors + inserted), (a, b, result)
        kept = [c for c in result if c in BASE]  # the base's letters keep their order
        assert "".join(kept) == survivors


@pytest.mark.parametrize(
    ("a", "b", "a_first", "expected"),
    [
        # inserts at one position: the tie-break decides whose text goes left
        (Insert(2, "X"), Insert(2, "Y"), True, "abXYcdef"),
        (Insert(2, "X"), Insert(2, "Y"), False, "abYXcdef"),
        (Insert(1, "X"), Insert(4, "Y"), False, "aXbcdYef"),
        # insert at the start, the end and inside a deleted range
        (Insert(1, "X"), Delete(1, 3), True, "aXef"),
        (Insert(4, "X"), Delete(1, 3), True, "aXef"),
        (Insert(2, "X"), Delete(1, 3), True, "aXef"),
        (Insert(5, "X"), Delete(1, 3), True, "aeXf"),
        # deletes: disjoint, touching, overlapping, nested, identical
        (Delete(0, 2), Delete(4, 2), True, "cd"),
        (Delete(0, 2), Delete(2, 2), True, "ef"),
        (Delete(0, 3), Delete(2, 3), True, "f"),
        (Delete(1, 4), Delete(2, 1), True, "af"),
        (Delete(2, 2), Delete(2, 2), True, "abef"),
    ],
)
def test_rules(a, b, a_first, expected):
    a2, b2 = ot.transform([a], [b], a_first)
    assert run(run(BASE, [a]), b2) == expected
    assert run(run(BASE, [b]), a2) == expected


def test_a_delete_splits_around_an_insert_inside_it():
    a2, b2 = ot.transform([Delete(1, 4)], [Insert(3, "XY")], True)
    assert a2 == [Delete(1, 2), Delete(3, 2)]
    assert b2 == [Insert(1, "XY")]


def test_deletes_of_the_same_text_leave_nothing_to_do():
    assert ot.transform([Delete(2, 2)], [Delete(1, 4)], True) == ([], [Delete(1, 2)])
    assert ot.transform([Delete(1, 4)], [Delete(2, 2)], False) == ([Delete(1, 2)], [])
    assert ot.transform([], [Insert(0, "x")], True) == ([], [Insert(0, "x")])


# -- sequences -------------------------------------------------------------------------------


@st.composite
def sequence(draw, text: str, max_ops: int = 4) -> tuple[list[ot.Op], str]:
    """A valid sequence of operations on ``text`` and the text it gives."""
    ops: list[ot.Op] = []
    for _ in range(draw(st.integers(0, max_ops))):
        size = len(text)
        if size and draw(st.booleans()):
            position = draw(st.integers(0, size - 1))
            op: ot.Op = Delete(position, draw(st.integers(1, size - position)))
        else:
            op = Insert(draw(st.integers(0, size)), draw(st.text("xyz😀é", min_size=1, max_size=3)))
        ops.append(op)
        text = ot.apply(text, op)
    return ops, text


@settings(max_examples=400, deadline=None)
@given(st.data(), st.text("abcdefgh", max_size=10), st.booleans())
def test_sequences_converge(data, text, first):
    a, _ = data.draw(sequence(text))
    b, _ = data.draw(sequence(text))
    a2, b2 = ot.transform(a, b, first)
    assert run(run(text, a), b2) == run(run(text, b), a2)
    assert ot.transform(b, a, not first) == (b2, a2)


@settings(max_examples=200, deadline=None)
@given(st.text("ab\n😀", max_size=12), st.text("ab\n😀", max_size=12))
def test_diff_turns_one_text_into_the_other(old, new):
    ops = ot.diff(old, new)
    assert run(old, ops) == new
    assert len(ops) <= 2


@pytest.mark.parametrize(
    ("position", "op", "expected"),
    [
        (3, Insert(1, "XY"), 5),  # text inserted before the caret pushes it right
        (3, Insert(3, "XY"), 3),  # ...at the caret, it goes after the caret
        (3, Insert(4, "XY"), 3),
        (3, Delete(0, 2), 1),
        (3, Delete(1, 2), 1),  # the deleted range ended at the caret
        (3, Delete(2, 3), 2),  # the caret was inside: it goes to where the range began
        (3, Delete(3, 2), 3),
    ],
)
def test_a_caret_stays_beside_its_text(position, op, expected):
    assert ot.map_position(position, op) == expected


# -- the helpers -----------------------------------------------------------------------------


def test_merge_folds_typing_backspacing_and_forward_deletes():
    ops: list[ot.Op] = []
    for op in (Insert(3, "h"), Insert(4, "i"), Insert(5, "!")):
        ot.merge(ops, op)
    assert ops == [Insert(3, "hi!")]
    ot.merge(ops, Insert(0, "x"))  # elsewhere: a new operation
    assert ops == [Insert(3, "hi!"), Insert(0, "x")]
    backspaces: list[ot.Op] = []
    for op in (Delete(5, 1), Delete(4, 1), Delete(3, 1)):
        ot.merge(backspaces, op)
    assert backspaces == [Delete(3, 3)]
    forward: list[ot.Op] = []
    for op in (Delete(2, 1), Delete(2, 2)):
        ot.merge(forward, op)
    assert forward == [Delete(2, 3)]
    big: list[ot.Op] = [Insert(0, "a" * ot.MAX_MERGED_CHARS)]
    ot.merge(big, Insert(ot.MAX_MERGED_CHARS, "b"))
    assert len(big) == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "operation must be an object"),
        ({"type": "insert", "position": -1, "text": "x"}, "position"),
        ({"type": "insert", "position": True, "text": "x"}, "position"),
        ({"type": "insert", "position": 1.0, "text": "x"}, "position"),
        ({"type": "insert", "position": 0, "text": ""}, "insert.text"),
        ({"type": "insert", "position": 0, "text": 5}, "insert.text"),
        ({"type": "delete", "position": 0, "length": 0}, "delete.length"),
        ({"type": "delete", "position": 0}, "delete.length"),
        ({"type": "replace", "position": 0}, "operation.type"),
    ],
)
def test_from_json_refuses_malformed_operations(data, message):
    with pytest.raises(ot.InvalidOperation, match=message):
        ot.from_json(data)


def test_json_round_trip_and_range_checks():
    for op in (Insert(3, "x😀"), Delete(0, 2)):
        assert ot.from_json(op.to_json()) == op
    ot.check(Insert(6, "x"), 6)
    ot.check(Delete(4, 2), 6)
    with pytest.raises(ot.InvalidOperation, match="position 7 of a 6-character text"):
        ot.check(Insert(7, "x"), 6)
    with pytest.raises(ot.InvalidOperation, match="position 7"):
        ot.check(Delete(5, 2), 6)
    assert ot.apply("a😀b", Delete(1, 1)) == "ab"  # code points, not UTF-16 units
