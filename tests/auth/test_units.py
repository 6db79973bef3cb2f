"""The auth worker's pure parts: dates, cookies, settings, origins, body validation, JWTs."""

from __future__ import annotations

import jwt
import pytest

from bindings.clock import ManualClock
from workers.auth import cookies, dates, tokens
from workers.auth.errors import APIError
from workers.auth.origin import is_safe_redirect, validate_form_csrf, validate_origin
from workers.auth.settings import NotConfigured, Settings, from_env, origin_of
from workers.auth.validation import (
    MISSING,
    STRING,
    Field,
    email_check,
    js_type,
    parse_json,
    validate,
)


class Env:
    def __init__(self, **values):
        self.__dict__.update(values)


SETTINGS = from_env(
    Env(
        BETTER_AUTH_SECRET="s",
        JWT_SECRET="j" * 32,
        BETTER_AUTH_URL="http://app.example:8787",
        BETTER_AUTH_TRUSTED_ORIGINS="https://shop.example, *.trusted.example",
    )
)


def test_dates_iso_and_formats():
    assert dates.iso(1_764_400_228_580) == "2025-11-29T07:10:28.580Z"
    assert dates.parse_ms("2025-11-29T07:10:28.580Z") == 1_764_400_228_580
    assert dates.parse_ms(1_764_400_228_580) == 1_764_400_228_580  # Drizzle timestamp_ms
    assert dates.parse_ms(1_764_400_228) == 1_764_400_228_000  # Drizzle timestamp (seconds)
    assert dates.parse_ms(None) is None
    assert dates.DateFormat.of("2025-01-01T00:00:00.000Z") is dates.DateFormat.ISO
    assert dates.DateFormat.of(1_764_400_228_580) is dates.DateFormat.MS
    assert dates.DateFormat.of(1_764_400_228) is dates.DateFormat.SECONDS
    assert dates.DateFormat.SECONDS.encode(1_764_400_228_999) == 1_764_400_228


def test_cookie_attributes_and_order():
    [value] = cookies.session_cookies(SETTINGS, "T" * 32, dont_remember=False)
    name, _, rest = value.partition("=")
    assert name == "better-auth.session_token"
    signed, _, attrs = rest.partition("; ")
    assert attrs == "Max-Age=604800; Path=/; HttpOnly; SameSite=Lax"
    assert signed.startswith("T" * 32 + ".") and signed.endswith("%3D")
    assert cookies.clearing_cookies(SETTINGS) == [
        "better-auth.session_token=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
        "better-auth.session_data=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
        "better-auth.dont_remember=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
    ]


def test_dont_remember_cookie_has_no_max_age():
    session, marker = cookies.session_cookies(SETTINGS, "T" * 32, dont_remember=True)
    assert "Max-Age" not in session
    assert marker.startswith("better-auth.dont_remember=true.")


def test_https_base_url_makes_secure_prefixed_cookies():
    secure = from_env(
        Env(BETTER_AUTH_SECRET="s", JWT_SECRET="j" * 32, BETTER_AUTH_URL="https://x.io")
    )
    [value] = cookies.session_cookies(secure, "T" * 32, dont_remember=False)
    assert value.startswith("__Secure-better-auth.session_token=")
    assert value.endswith("; Path=/; HttpOnly; Secure; SameSite=Lax")


def test_read_signed_rejects_tampering():
    raw = cookies.signed_value(SETTINGS, "abc")
    jar = {"better-auth.session_token": raw}
    assert cookies.read_signed(SETTINGS, jar, "session_token") == "abc"
    jar = {"better-auth.session_token": raw.replace("abc", "abd")}
    assert cookies.read_signed(SETTINGS, jar, "session_token") is None


def test_settings_need_both_secrets():
    with pytest.raises(NotConfigured, match="BETTER_AUTH_SECRET and JWT_SECRET"):
        from_env(Env())
    with pytest.raises(NotConfigured, match="at least 32 bytes"):
        from_env(Env(BETTER_AUTH_SECRET="s", JWT_SECRET="short"))


def test_trusted_origins():
    assert origin_of("http://APP.example:80/x") == "http://app.example"
    assert origin_of("https://a.b:443") == "https://a.b"
    assert origin_of("javascript:alert(1)") is None
    assert SETTINGS.is_trusted("http://app.example:8787/dashboard")
    assert SETTINGS.is_trusted("https://shop.example")
    assert SETTINGS.is_trusted("https://api.trusted.example")
    assert not SETTINGS.is_trusted("https://shop.example.evil.com")
    assert not SETTINGS.is_trusted("http://shop.example")
    assert is_safe_redirect("/dashboard?x=1", SETTINGS, None)
    assert not is_safe_redirect("//evil.com", SETTINGS, None)
    assert not is_safe_redirect("/\\evil.com", SETTINGS, None)


def _headers(**values):
    from starlette.datastructures import Headers

    return Headers({k.replace("_", "-"): v for k, v in values.items()})


def _code(call):
    with pytest.raises(APIError) as info:
        call()
    return info.value.status, info.value.code


def test_origin_rule_only_with_cookies():
    validate_origin(_headers(), SETTINGS, None, force=False)  # no Cookie header: not checked
    assert _code(lambda: validate_origin(_headers(cookie="a=b"), SETTINGS, None, force=False)) == (
        403,
        "MISSING_OR_NULL_ORIGIN",
    )
    bad = _headers(cookie="a=b", origin="https://evil.com")
    assert _code(lambda: validate_origin(bad, SETTINGS, None, force=False)) == (
        403,
        "INVALID_ORIGIN",
    )
    good = _headers(cookie="a=b", referer="http://app.example:8787/login")
    validate_origin(good, SETTINGS, None, force=False)


def test_sign_in_fetch_metadata_rule():
    validate_form_csrf(_headers(), SETTINGS, None)  # curl: nothing to check
    cross = _headers(sec_fetch_site="cross-site", sec_fetch_mode="navigate")
    assert _code(lambda: validate_form_csrf(cross, SETTINGS, None)) == (
        403,
        "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED",
    )
    cors = _headers(sec_fetch_site="cross-site", sec_fetch_mode="cors")
    assert _code(lambda: validate_form_csrf(cors, SETTINGS, None))[1] == "MISSING_OR_NULL_ORIGIN"
    evil = _headers(origin="https://evil.com")
    assert _code(lambda: validate_form_csrf(evil, SETTINGS, None))[1] == "INVALID_ORIGIN"


def test_validation_messages_read_like_zod():
    fields = (Field("email", email_check), Field("password", STRING))
    with pytest.raises(APIError) as info:
        validate({"email": "nope", "password": 3}, fields)
    assert info.value.message == (
        "[body.email] Invalid email address; "
        "[body.password] Invalid input: expected string, received number"
    )
    with pytest.raises(APIError) as info:
        validate(MISSING, fields)
    assert info.value.message == "[body] Invalid input: expected object, received undefined"
    assert [js_type(v) for v in (None, True, 1.5, [], {}, "")] == [
        "null", "boolean", "number", "array", "object", "string",
    ]  # fmt: skip


def test_json_parsing_refuses_what_javascript_refuses():
    assert parse_json(b'{"a": 1}') == {"a": 1}
    for bad in (b"NaN", b"{", b"\xff", b"[" * 100_000):
        with pytest.raises(ValueError):
            parse_json(bad)


def test_access_tokens_are_verified_and_expire(monkeypatch):
    clock = ManualClock(1_800_000_000)
    monkeypatch.setattr(tokens, "now", clock)
    user = {"id": "u1", "email": "a@b.co", "name": "A", "role": "user"}
    token = tokens.issue_access_token(SETTINGS, user)
    claims = tokens.verify_access_token(SETTINGS, token)
    assert claims is not None and claims["sub"] == "u1" and claims["exp"] - claims["iat"] == 900
    forged = jwt.encode({**claims, "role": "admin"}, "w" * 32, algorithm="HS256")
    assert tokens.verify_access_token(SETTINGS, forged) is None
    unsigned = jwt.encode({**claims, "role": "admin"}, None, algorithm="none")
    assert tokens.verify_access_token(SETTINGS, unsigned) is None
    clock.advance(899)
    assert tokens.verify_access_token(SETTINGS, token) is not None
    clock.advance(1)
    assert tokens.verify_access_token(SETTINGS, token) is None


def test_settings_dataclass_cookie_names():
    assert Settings(secret="s", jwt_secret="j", base_url=None).cookie("x") == "better-auth.x"
