"""R2's conditional truth table (Miniflare's validator test) and the onlyIf parsers."""

from datetime import UTC, datetime, timedelta

import pytest

from bindings import JsException, JsTypeError
from bindings.headers import Headers
from bindings.r2.conditionals import (
    WILDCARD,
    Conditional,
    Etag,
    conditional_option,
    parse_etag_header,
    passes,
    to_millis,
)

ETAG, BAD = "test", "not-test"
UPLOADED = datetime(2023, 2, 24, 0, 9, 0, 500_000, tzinfo=UTC)
PAST = to_millis(UPLOADED - timedelta(seconds=30))
FUTURE = to_millis(UPLOADED + timedelta(seconds=30))


def strong(value):
    return (Etag("strong", value),)


def using(**fields):
    return passes(Conditional(**fields), ETAG, to_millis(UPLOADED))


def missing(**fields):
    return passes(Conditional(**fields), None, None)


def test_single_conditions():
    assert using(etag_matches=strong(ETAG))
    assert not using(etag_matches=strong(BAD))
    assert using(etag_does_not_match=strong(BAD))
    assert not using(etag_does_not_match=strong(ETAG))
    assert not using(uploaded_before=PAST)
    assert using(uploaded_before=FUTURE)
    assert using(uploaded_after=PAST)
    assert not using(uploaded_after=FUTURE)


def test_weak_and_wildcard_etags():
    assert not using(etag_matches=(Etag("weak", ETAG),))  # If-Match compares strongly
    assert not using(etag_does_not_match=(Etag("weak", ETAG),))  # If-None-Match weakly
    assert using(etag_does_not_match=(Etag("weak", BAD),))
    assert using(etag_matches=(WILDCARD,))
    assert not using(etag_does_not_match=(WILDCARD,))


def test_combinations_that_fail():
    assert not using(etag_matches=strong(ETAG), etag_does_not_match=strong(ETAG))
    assert not using(etag_matches=strong(ETAG), uploaded_after=FUTURE)
    assert not using(etag_matches=strong(ETAG), uploaded_after=FUTURE, uploaded_before=PAST)
    assert not using(etag_does_not_match=strong(BAD), uploaded_before=PAST)
    assert not using(etag_does_not_match=strong(BAD), uploaded_after=FUTURE, uploaded_before=PAST)
    assert not using(
        etag_matches=strong(BAD), etag_does_not_match=strong(BAD),
        uploaded_after=PAST, uploaded_before=FUTURE,
    )  # fmt: skip


def test_combinations_that_pass():
    assert using(etag_matches=strong(ETAG), etag_does_not_match=strong(BAD))
    assert using(etag_matches=strong(ETAG), uploaded_before=PAST)  # If-Match beats the date
    assert using(etag_does_not_match=strong(BAD), uploaded_after=FUTURE)
    assert using(
        etag_matches=strong(ETAG), uploaded_before=PAST,
        etag_does_not_match=strong(BAD), uploaded_after=FUTURE,
    )  # fmt: skip
    assert using(uploaded_before=FUTURE, etag_does_not_match=strong(BAD), uploaded_after=FUTURE)
    assert using(uploaded_after=PAST, etag_matches=strong(ETAG), uploaded_before=PAST)


def test_missing_object():
    assert not missing(etag_matches=strong(ETAG))
    assert not missing(uploaded_after=PAST)
    assert not missing(etag_matches=strong(ETAG), uploaded_after=PAST)
    assert missing(etag_does_not_match=strong(ETAG))
    assert missing(uploaded_before=PAST)
    assert missing(etag_does_not_match=strong(ETAG), uploaded_before=PAST)
    assert not missing(etag_matches=strong(ETAG), uploaded_before=PAST)
    assert not missing(etag_does_not_match=strong(ETAG), uploaded_after=PAST)


def test_seconds_granularity():
    just_past = to_millis(UPLOADED - timedelta(milliseconds=250))
    just_future = to_millis(UPLOADED + timedelta(milliseconds=250))
    assert using(uploaded_after=just_past)
    assert not using(uploaded_after=just_past, seconds_granularity=True)
    assert using(uploaded_before=just_future)
    assert not using(uploaded_before=just_future, seconds_granularity=True)


def test_object_form():
    cond = conditional_option(
        {"etagMatches": "abc", "etagDoesNotMatch": "*", "uploadedBefore": UPLOADED}
    )
    assert cond == Conditional(strong("abc"), (WILDCARD,), to_millis(UPLOADED), None, False)
    with pytest.raises(JsTypeError) as info:
        conditional_option({"etagMatches": '"abc"'})
    assert str(info.value) == 'Conditional ETag should not be wrapped in quotes ("abc").'
    with pytest.raises(JsTypeError, match="Unknown onlyIf option 'etagMatch'"):
        conditional_option({"etagMatch": "abc"})


def test_headers_form():
    cond = conditional_option(
        Headers(
            {
                "If-Match": '"a", W/"b"',
                "If-None-Match": "*",
                "If-Modified-Since": "Fri, 24 Feb 2023 00:09:00 GMT",
                "If-Unmodified-Since": "not a date",
            }
        )
    )
    assert cond == Conditional(
        (Etag("strong", "a"), Etag("weak", "b")),
        (WILDCARD,),
        None,  # an unparseable date is ignored
        to_millis(datetime(2023, 2, 24, 0, 9, tzinfo=UTC)),
        True,
    )


def test_etag_header_parser():
    assert parse_etag_header('"a" , "b",,"c"') == (strong("a")[0], strong("b")[0], strong("c")[0])
    assert parse_etag_header('"a", *') == (WILDCARD,)
    assert parse_etag_header("garbage") == ()
    for header, text in [
        ('"a" "b"', "Comma was expected to separate etags. Encountered a double quote "
                    "character '\"' instead. This would otherwise indicate the start of a "
                    "new strong etag."),
        ('"a" *', "Comma was expected to separate etags. Encountered a wildcard character "
                  "'*' instead."),
        ('W/a', "Weak etags must start with W/ and their value must be quoted"),
        ('"a', "Unclosed double quote for Etag"),
    ]:  # fmt: skip
        with pytest.raises(JsException) as info:
            parse_etag_header(header)
        assert str(info.value) == text
    with pytest.raises(JsException, match=r"^Invalid ETag in if-match header$"):
        conditional_option(Headers({"If-Match": "garbage"}))
    with pytest.raises(JsException, match=r"^Invalid ETag in if-none-match header$"):
        conditional_option(Headers({"If-None-Match": "garbage"}))
