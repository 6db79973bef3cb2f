"""parse_ranges (Miniflare's range.spec.ts cases) and the object-form range rules."""

import pytest

from bindings import JsRangeError, JsTypeError
from bindings.r2 import R2InvalidRange, parse_ranges
from bindings.r2.ranges import RangeSpec, range_option, resolve


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


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"offset": 3}, (3, 2)),
        ({"length": 3}, (0, 3)),
        ({"length": 42}, (0, 5)),
        ({"offset": 1, "length": 3}, (1, 3)),
        ({"suffix": 3}, (2, 3)),
        ({"suffix": 42}, (0, 5)),
        ({"offset": 5, "length": 3}, (5, 0)),  # R2 clamps a range starting at the end to 0
    ],
)
def test_object_form_on_five_bytes(spec, expected):
    assert resolve(range_option(spec), 5) == expected


@pytest.mark.parametrize(
    "spec", [{"offset": 42}, {"offset": 5}, {"length": 0}, {"suffix": 0}, {"offset": 0}]
)
def test_object_form_unsatisfiable(spec):
    size = 0 if spec == {"offset": 0} else 5  # any range of an empty object fails
    with pytest.raises(R2InvalidRange, match=r"^The requested range is not satisfiable \(10039\)$"):
        resolve(range_option(spec), size)


def test_headers_form_falls_back_to_the_whole_object():
    assert resolve("bytes=3-6", 26) == (3, 4)
    assert resolve("bytes=10-", 26) == (10, 16)
    assert resolve("bytes=-5", 26) == (21, 5)
    assert resolve("bytes=5-6,10-11", 26) == (0, 26)  # several ranges
    assert resolve("bytes=99-", 26) == (0, 26)  # unsatisfiable
    assert resolve("furlongs=1-2", 26) == (0, 26)  # invalid
    assert resolve(None, 26) == (0, 26)


@pytest.mark.parametrize(
    ("spec", "error", "text"),
    [
        ({"offset": -1}, JsRangeError,
         "Invalid range. Starting offset (-1) must be greater than or equal to 0."),
        ({"offset": 1.5}, JsRangeError,
         "Invalid range. Starting offset (1.5) must be an integer, not floating point."),
        ({"length": -2}, JsRangeError,
         "Invalid range. Length (-2) must be greater than or equal to 0."),
        ({"length": 0.5}, JsRangeError,
         "Invalid range. Length (0.5) must be an integer, not floating point."),
        ({"suffix": -3}, JsRangeError,
         "Invalid suffix. Suffix (-3) must be greater than or equal to 0."),
        ({"suffix": 2.5}, JsRangeError,
         "Invalid range. Suffix (2.5) must be an integer, not floating point."),
        ({"suffix": 1, "offset": 1}, JsTypeError, "Suffix is incompatible with offset."),
        ({"suffix": 1, "length": 1}, JsTypeError, "Suffix is incompatible with length."),
    ],
)  # fmt: skip
def test_object_form_validation(spec, error, text):
    with pytest.raises(error) as info:
        range_option(spec)
    assert str(info.value) == text


def test_headers_like_values_use_their_range_header():
    from bindings.headers import Headers

    assert range_option(Headers({"Range": "bytes=1-2"})) == "bytes=1-2"
    assert range_option(Headers()) is None
    assert range_option({"offset": 1}) == RangeSpec(offset=1)
