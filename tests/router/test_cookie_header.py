"""Cookie header parsing: well-formed values only, never an exception."""

from __future__ import annotations

from autobahn.util import newid
from hypothesis import given, strategies as st

from cfxstore.router.cookiestore import parse_cookie_header

VALUE = "A" * 22


def test_finds_the_named_cookie_among_others():
    assert parse_cookie_header(f"a=1; cbtid={VALUE}; b=2", "cbtid") == VALUE


def test_first_well_formed_value_wins():
    assert parse_cookie_header(f"cbtid=bad value; cbtid={VALUE}", "cbtid") == VALUE


def test_accepts_every_value_stock_crossbar_issues():
    # Stock Crossbar's cookie length is configurable from 6 to 64; its values are standard base64.
    for length in range(6, 65):
        for _ in range(50):
            value = newid(length)
            assert parse_cookie_header(f"other=1; cbtid={value}", "cbtid") == value


def test_rejects_values_no_store_issues():
    for header in ("cbtid=short", "cbtid=" + "x" * 200, "cbtid=abc\x00def0123456789abcdef", "cbtid", "=;;=", ""):
        assert parse_cookie_header(header, "cbtid") is None


def test_non_string_headers_are_ignored():
    assert parse_cookie_header(None, "cbtid") is None
    assert parse_cookie_header(b"cbtid=" + VALUE.encode(), "cbtid") is None


@given(st.text())
def test_never_raises(header):
    result = parse_cookie_header(header, "cbtid")
    assert result is None or (6 <= len(result) <= 128)
