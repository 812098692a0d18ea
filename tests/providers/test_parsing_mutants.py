"""providers.parsing at its edges: the cases mutation testing (bin/mutation, docs/testing.md) found untested.

Each test pins one rule of a helper that every adapter relies on; the adapters' own tests
reach these helpers only through well-formed vendor answers.
"""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest
from requests.structures import CaseInsensitiveDict

from providers.parsing import (
    PARSE_LIMIT,
    as_decimal,
    as_headers,
    as_int,
    body_format,
    decode_body,
    load_json,
    parse_retry_after,
    scrub,
)

# -- body_format: what support sees in details["body_format"] ---------------------------


def test_body_format_names_each_shape():
    assert body_format("", None) == "empty"
    assert body_format("  \n", None) == "empty"
    assert body_format("[1, 2]", [1, 2]) == "json"
    assert body_format("<html></html>", None) == "html"
    assert body_format("Service down", None) == "text"


def test_an_html_page_after_leading_whitespace_is_still_html():
    assert body_format("\n  <!DOCTYPE html><html></html>", None) == "html"


def test_text_with_a_trailing_angle_bracket_is_not_html():
    assert body_format("a < b\n", None) == "text"


# -- as_decimal / as_int: amounts and counts from untrusted bodies ----------------------


@pytest.mark.parametrize("value", ["Infinity", "-Infinity", "NaN", "sNaN", float("inf"), float("nan")])
def test_as_decimal_refuses_what_is_not_a_finite_amount(value):
    assert as_decimal(value) is None


def test_as_decimal_keeps_finite_amounts_exactly():
    assert as_decimal("12.50") == Decimal("12.50")
    assert as_decimal(-3) == Decimal(-3)


@pytest.mark.parametrize("value", ["Infinity", "NaN", float("inf")])
def test_as_int_refuses_what_is_not_finite(value):
    assert as_int(value) is None


def test_as_int_takes_up_to_eighteen_digits_and_no_more():
    assert as_int("999999999999999999") == 999_999_999_999_999_999  # 18 digits
    assert as_int("1000000000000000000") is None  # 19 digits
    assert as_int("1e18") is None
    assert as_int("9.9e17") == 990_000_000_000_000_000


def test_as_int_refuses_huge_exponents_without_computing_them():
    assert as_int("1e30") is None
    assert as_int("1e99999999") is None


# -- parse_retry_after: the header wins, then the message -------------------------------


@pytest.mark.parametrize("headers", [{"Retry-After": "7"}, CaseInsensitiveDict({"retry-after": "7"})])
def test_retry_after_header_is_read_from_any_mapping(headers):
    assert parse_retry_after(headers) == 7.0


def test_without_headers_the_wait_stated_in_the_message_counts():
    assert parse_retry_after(None, "Please try again in 3 seconds") == 3.0  # type: ignore[arg-type]
    assert parse_retry_after({}, "Retry after 15 seconds") == 15.0


@pytest.mark.parametrize("value", ["-5", "inf", "nan"])
def test_a_negative_or_non_finite_header_is_ignored_for_the_message(value):
    assert parse_retry_after({"Retry-After": value}, "try again in 2 seconds") == 2.0
    assert parse_retry_after({"Retry-After": value}) is None


@pytest.mark.parametrize(("value", "seconds"), [("0", 0.0), ("0.5", 0.5), (" 120 ", 120.0)])
def test_a_zero_or_fractional_header_wait_is_taken_as_sent(value, seconds):
    assert parse_retry_after({"Retry-After": value}, "try again in 9 seconds") == seconds


def test_an_http_date_header_counts_from_now(monkeypatch):
    now = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
    monkeypatch.setattr("providers.parsing.time", SimpleNamespace(time=lambda: now))
    assert parse_retry_after({"Retry-After": "Tue, 14 Nov 2023 22:13:50 GMT"}) == 30.0
    assert parse_retry_after({"Retry-After": "Tue, 14 Nov 2023 22:13:20 GMT"}) == 0.0


def test_an_http_date_in_the_past_means_no_wait():
    assert parse_retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0


# -- as_headers: whatever a transport hands over ----------------------------------------


def test_byte_header_names_and_values_are_decoded_as_latin_1():
    headers = as_headers({b"X-Request-Id": b"req-\xe9", "Retry-After": b"5", b"X-Count": 3})
    assert dict(headers) == {"X-Request-Id": "req-é", "Retry-After": "5", "X-Count": "3"}
    assert headers["x-request-id"] == "req-é"


def test_junk_header_entries_are_skipped():
    assert dict(as_headers({"X-Empty": None, 5: "five", None: "none", "X-Kept": "yes"})) == {"X-Kept": "yes"}
    assert dict(as_headers({"X-Empty": None})) == {}
    assert dict(as_headers(["not", "a", "mapping"])) == {}  # type: ignore[arg-type]


# -- decode_body and scrub: what is kept for support -------------------------------------


def test_a_body_that_is_neither_bytes_nor_text_is_kept_as_its_text():
    assert decode_body(42) == "42"  # type: ignore[arg-type]
    assert decode_body(None) == ""
    assert decode_body(b"caf\xc3\xa9 \xff") == "café \ufffd"
    assert decode_body("x" * 10, limit=4) == "xxxx"


def test_scrub_replaces_every_echo_of_each_secret_with_the_marker():
    text = "key=abcd, again abcd; token=s3cr3t-token"
    assert scrub(text, ("abcd", None, "", "s3cr3t-token")) == "key=[REDACTED], again [REDACTED]; token=[REDACTED]"


def test_scrub_leaves_text_alone_when_no_secret_of_four_characters_or_more_is_in_it():
    assert scrub("abc is short", ("abc",)) == "abc is short"
    assert scrub("nothing to hide", ("abcd",)) == "nothing to hide"


def test_a_body_of_exactly_the_parse_limit_is_still_parsed():
    text = "x" * (PARSE_LIMIT - 2)
    assert load_json(f'"{text}"'.encode()) == text
    assert load_json(f'"{text}x"'.encode()) is None  # one byte over
