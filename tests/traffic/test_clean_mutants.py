"""messaging.traffic.clean at its edges: the cases mutation testing (bin/mutation, docs/testing.md) found untested.

Plain function calls, no database: the column sizes matter on PostgreSQL, where a value one
character too long loses the whole row, and SQLite (which the rest of the suite may run on)
does not enforce them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from messaging.traffic import clean
from providers import Category, NormalizedError


def vendor_error(**fields) -> NormalizedError:
    defaults = {"kind": "23telecom", "provider_code": "E1", "category": Category.SERVER, "http_status": 500}
    return NormalizedError(**{**defaults, "retryable": True, **fields})


def test_every_text_field_is_cut_to_its_column():
    cleaned = clean.error(
        vendor_error(
            provider_code="C" * 150,
            message="M" * 2500,
            param="P" * 150,
            request_id="R" * 250,
            raw_body="B" * (70 * 1024),
        )
    )
    assert cleaned.provider_code == "C" * 100
    assert cleaned.message == "M" * 2000
    assert cleaned.param == "P" * 100
    assert cleaned.request_id == "R" * 200
    assert cleaned.raw_body == "B" * (64 * 1024)


def test_fields_that_fit_are_kept_exactly_and_absent_ones_stay_absent():
    kept = clean.error(vendor_error(provider_code="C" * 100, message="M" * 2000, param="p", request_id="r"))
    assert (kept.provider_code, kept.message, kept.param, kept.request_id) == ("C" * 100, "M" * 2000, "p", "r")
    absent = clean.error(vendor_error())
    assert (absent.param, absent.request_id, absent.message, absent.raw_body) == (None, None, "", "")


def test_the_other_fields_are_carried_over_untouched():
    original = vendor_error(retry_after=2.5, known=True, description="d", resolution="r", ambiguous=True)
    cleaned = clean.error(original)
    assert (cleaned.kind, cleaned.category, cleaned.http_status, cleaned.retryable) == (
        "23telecom",
        Category.SERVER,
        500,
        True,
    )
    assert (cleaned.retry_after, cleaned.known, cleaned.description, cleaned.resolution, cleaned.ambiguous) == (
        2.5,
        True,
        "d",
        "r",
        True,
    )


def test_details_become_plain_json_and_a_non_dict_is_wrapped():
    cleaned = clean.error(vendor_error(details={"amount": Decimal("0.10"), "\x00": "a\x00b"}))
    assert cleaned.details == {"amount": "0.10", "\ufffd": "a\ufffdb"}
    wrapped = clean.error(vendor_error(details=["x", Decimal("1")]))  # type: ignore[arg-type]
    assert wrapped.details == {"value": ["x", "1"]}


def test_text_cuts_only_past_the_limit():
    assert clean.text("abcd", 4) == "abcd"
    assert clean.text("abcde", 4) == "abcd"
    assert clean.text("abcd") == "abcd"
    assert clean.text(None) == ""
    assert clean.text(12) == "12"
    assert clean.text(bytearray(b"\xff\x00")) == "\ufffd\ufffd"
    assert clean.text(memoryview(b"ok")) == "ok"


def test_json_value_keeps_plain_scalars_and_writes_dates_as_iso():
    assert clean.json_value(None) is None
    assert clean.json_value(True) is True
    assert clean.json_value(7) == 7
    assert clean.json_value(1.5) == 1.5
    assert clean.json_value(float("inf")) == "inf"
    assert clean.json_value(date(2026, 11, 20)) == "2026-11-20"
    assert clean.json_value(datetime(2026, 11, 20, 12, 0, tzinfo=UTC)) == "2026-11-20T12:00:00+00:00"
    assert clean.json_value(("a", 1)) == ["a", 1]
    assert clean.json_value(frozenset({"x"})) == ["x"]
    assert clean.json_value(object) == "<class 'object'>"


def nested(depth: int):
    value: object = "leaf"
    for _ in range(depth):
        value = [value]
    return value


def test_nesting_is_kept_to_the_max_depth_then_written_as_its_repr():
    # MAX_DEPTH (20) levels of lists are kept; the value found one level deeper becomes its repr, cut.
    kept = clean.json_value(nested(clean.MAX_DEPTH))
    assert kept == nested(clean.MAX_DEPTH)
    cut = clean.json_value(nested(clean.MAX_DEPTH + 2))
    inner = cut
    for _ in range(clean.MAX_DEPTH + 1):
        assert isinstance(inner, list)
        inner = inner[0]
    assert inner == "['leaf']"


def test_a_deep_repr_is_cut_to_200_characters():
    deep = nested(clean.MAX_DEPTH + 1 + 300)
    inner = clean.json_value(deep)
    for _ in range(clean.MAX_DEPTH + 1):
        inner = inner[0]
    assert len(inner) == 200
    assert inner.startswith("[[[")


def nested_dict(depth: int):
    value: object = "leaf"
    for _ in range(depth):
        value = {"k": value}
    return value


def test_nested_dicts_count_towards_the_max_depth_too():
    assert clean.json_value(nested_dict(clean.MAX_DEPTH)) == nested_dict(clean.MAX_DEPTH)
    inner = clean.json_value(nested_dict(clean.MAX_DEPTH + 2))
    for _ in range(clean.MAX_DEPTH + 1):
        assert isinstance(inner, dict)
        inner = inner["k"]
    assert inner == "{'k': 'leaf'}"
