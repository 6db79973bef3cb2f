"""parse_ranges: Miniflare's range.spec.ts cases (R2 and the Cache API share the parser)."""

from bindings.ranges import parse_ranges


def test_unit_must_be_bytes_case_insensitively_with_spaces():
    assert parse_ranges("bytes=0-1", 2) is not None
    assert parse_ranges("BYTES    =0-1", 2) is not None
    assert parse_ranges("     bYtEs=0-1", 4) is not None
    assert parse_ranges("    Bytes        =0-1", 2) is not None
    assert parse_ranges("nibbles=0-1", 2) is None


def test_start_and_end():
    assert parse_ranges("bytes=0-1", 8) == [(0, 1)]
    assert parse_ranges("bytes=2-7", 8) == [(2, 7)]
    assert parse_ranges("bytes=5-5", 8) == [(5, 5)]
    assert parse_ranges("bytes=1-0", 2) is None  # start after end
    assert parse_ranges("bytes=2-3", 2) is None  # start after the content
    assert parse_ranges("bytes=5-7", 2) is None
    assert parse_ranges("bytes=0-2", 2) == [(0, 1)]  # end truncated
    assert parse_ranges("bytes=1-5", 3) == [(1, 2)]
    assert parse_ranges("bytes=  1-3,6-7,10-11", 12) == [(1, 3), (6, 7), (10, 11)]
    assert parse_ranges("bytes=0-2,1-3", 5) == [(0, 2), (1, 3)]  # overlaps kept, in order


def test_just_start():
    assert parse_ranges("bytes=2-", 8) == [(2, 7)]
    assert parse_ranges("bytes=5-", 6) == [(5, 5)]
    assert parse_ranges("bytes=2-", 2) is None
    assert parse_ranges("bytes=5-", 2) is None
    assert parse_ranges("bytes=  1-,6- ,  10-11   ", 12) == [(1, 11), (6, 11), (10, 11)]


def test_just_end():
    assert parse_ranges("bytes=-2", 8) == [(6, 7)]
    assert parse_ranges("bytes=-6", 7) == [(1, 6)]
    assert parse_ranges("bytes=-7", 7) == []  # the whole object
    assert parse_ranges("bytes=-10", 5) == []
    assert parse_ranges("bytes=0-1,-5,2-3", 5) == []  # one whole-object suffix wins
    assert parse_ranges("bytes=-0", 2) == []  # an empty suffix is ignored
    assert parse_ranges("bytes=0-1,-0,2-3", 4) == [(0, 1), (2, 3)]


def test_a_range_needs_a_start_or_an_end():
    assert parse_ranges("bytes=-", 2) is None
    assert parse_ranges("bytes=0", 2) is None
    assert parse_ranges("bytes=0-1,", 2) is None  # trailing comma
    assert parse_ranges("bytes=", 2) == []
