"""workers.common.frames: what counts as a frame, and how big one is."""

from __future__ import annotations

import pytest

from workers.common.frames import dumps, parse, too_big


@pytest.mark.parametrize(
    "message",
    [b'{"type": "x"}', "{nope", "[1]", '{"type": 5}', '{"kind": "x"}', "[" * 50_000, "null"],
)
def test_parse_refuses_what_is_not_a_typed_json_object(message):
    assert parse(message) is None


def test_parse_and_dumps():
    assert parse('{"type": "op", "text": "é"}') == {"type": "op", "text": "é"}
    assert dumps({"type": "op", "text": "é"}) == '{"type":"op","text":"é"}'


def test_too_big_counts_utf8_bytes():
    assert not too_big("x" * 100, 100)
    assert too_big("x" * 101, 100)
    assert too_big("é" * 51, 100)  # 51 characters, 102 bytes
    assert not too_big("é" * 50, 100)
    assert too_big(b"x" * 101, 100)
