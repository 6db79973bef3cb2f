"""Cache-Control handling: what a shared cache may store, and for how long."""

from email.utils import formatdate

import pytest

from bindings.cache.policy import decide, imf_fixdate, parse_cache_control
from bindings.cache.ranges import parse_ranges

NOW = 1_700_000_000.0


def date(offset: float) -> str:
    return formatdate(NOW + offset, usegmt=True)


def policy(headers: dict[str, str], status: int = 200, authorized: bool = False):
    items = [(k.lower(), v) for k, v in headers.items()]
    return decide(status, items, authorized=authorized, now=NOW)


def test_parse_cache_control():
    assert parse_cache_control(' Public, MAX-AGE="60",no-cache=set-cookie , ') == {
        "public": None,
        "max-age": "60",
        "no-cache": "set-cookie",
    }
    assert parse_cache_control(None) == {}


@pytest.mark.parametrize(
    ("headers", "ttl"),
    [
        ({"Cache-Control": "max-age=60"}, 60),
        ({"Cache-Control": "s-maxage=5, max-age=60"}, 5),  # s-maxage wins in a shared cache
        ({"Cache-Control": "max-age=60", "Expires": date(10)}, 60),  # max-age beats Expires
        ({"Expires": date(30)}, 30),
        ({"Expires": date(30), "Date": date(-10)}, 40),  # Expires counts from Date
        ({"Expires": "0"}, 0),  # invalid means already expired
        ({"Expires": date(-5)}, 0),
        ({"Cache-Control": "max-age=60", "Age": "20"}, 40),  # Age already spent
        ({"Cache-Control": "max-age=nonsense"}, 0),
        ({"Last-Modified": date(-1000)}, 100),  # heuristic: 10 % of its age
        ({}, 0),  # no freshness information: stored stale
        ({"Cache-Control": "max-age=60, no-cache"}, 0),
        ({"Cache-Control": "max-age=60, proxy-revalidate"}, 0),
        ({"Pragma": "no-cache"}, 0),
        ({"Pragma": "no-cache", "Cache-Control": "max-age=9"}, 9),  # Pragma only without CC
        ({"Cache-Control": "immutable"}, 86400),
        ({"Cache-Control": "max-age=60, stale-while-revalidate=600"}, 60),
    ],
)
def test_lifetime(headers, ttl):
    decision = policy(headers)
    assert decision.storable
    assert decision.ttl == pytest.approx(ttl)


@pytest.mark.parametrize(
    ("headers", "status", "authorized", "storable"),
    [
        ({"Cache-Control": "private, max-age=60"}, 200, False, False),
        ({"Cache-Control": "no-store, max-age=60"}, 200, False, False),
        ({"Cache-Control": "max-age=60", "Set-Cookie": "a=1"}, 200, False, False),
        ({"Cache-Control": "public, max-age=60", "Set-Cookie": "a=1"}, 200, False, False),
        ({"Cache-Control": "private=set-cookie, max-age=9", "Set-Cookie": "a=1"}, 200, False, True),
        ({"Cache-Control": "max-age=60"}, 500, False, False),  # not an understood status
        ({"Cache-Control": "max-age=60"}, 302, False, True),
        ({}, 302, False, False),  # not cacheable by default, nothing explicit
        ({}, 404, False, True),
        ({"Cache-Control": "max-age=60"}, 200, True, False),  # a request with Authorization
        ({"Cache-Control": "public, max-age=60"}, 200, True, True),
        ({"Cache-Control": "s-maxage=60"}, 200, True, True),
        ({"Cache-Control": "must-revalidate, max-age=60"}, 200, True, True),
    ],
)
def test_storable(headers, status, authorized, storable):
    assert policy(headers, status, authorized).storable is storable


def test_private_set_cookie_strips_the_cookie_and_the_directive():
    decision = policy(
        {"Cache-Control": "public, private=set-cookie, max-age=60", "Set-Cookie": "a=1"}
    )
    assert decision.storable and decision.ttl == 60
    assert dict(decision.headers) == {"cache-control": "public, max-age=60"}


def test_hop_by_hop_headers_are_not_stored():
    decision = policy(
        {
            "Cache-Control": "max-age=60",
            "Connection": "x-trace",
            "X-Trace": "1",
            "Keep-Alive": "timeout=5",
            "Transfer-Encoding": "chunked",
            "X-Kept": "yes",
        }
    )
    assert dict(decision.headers) == {"cache-control": "max-age=60", "x-kept": "yes"}


def test_imf_fixdate_only():
    assert imf_fixdate("Tue, 13 Sep 2022 12:00:00 GMT") == 1663070400.0
    assert imf_fixdate("Tuesday, 13-Sep-22 12:00:00 GMT") is None
    assert imf_fixdate("13 Sep 2022 12:00:00 GMT") is None
    assert imf_fixdate(None) is None


@pytest.mark.parametrize(
    ("header", "ranges"),
    [
        ("bytes=2-4", [(2, 4)]),
        ("BYTES = 1-3, 5-6", [(1, 3), (5, 6)]),
        ("bytes=5-", [(5, 9)]),
        ("bytes=-3", [(7, 9)]),
        ("bytes=8-100", [(8, 9)]),
        ("bytes=-10", []),  # the whole body
        ("bytes=", []),
        ("bytes=-0", []),
        ("bytes=10-", None),
        ("bytes=4-2", None),
        ("bytes=-", None),
        ("items=1-2", None),
        ("bytes=a-b", None),
    ],
)
def test_parse_ranges(header, ranges):
    assert parse_ranges(header, 10) == ranges
