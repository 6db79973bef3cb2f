"""The object-form and Headers-form ranges of R2's get (the parser itself: tests/test_ranges.py)."""

import pytest

from bindings import JsRangeError, JsTypeError
from bindings.r2 import R2InvalidRange
from bindings.r2.ranges import RangeSpec, range_option, resolve


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
