"""Error bodies the vendors print, retry advice, unknown codes and each vendor's envelope quirks."""

from __future__ import annotations

import email.utils
import json
import time

import pytest

import providers
from providers import ADAPTERS, Category
from providers.types import RETRYABLE_STATUSES
from tests.providers.fixtures import GOLDEN, render_error_body

# -- golden bodies from the vendors' documents --------------------------------------------


@pytest.mark.parametrize("golden", GOLDEN, ids=lambda g: g.name)
def test_documented_error_body_parses_as_expected(golden):
    error = providers.parse_error(golden.kind, golden.status, golden.body.encode(), golden.headers)
    assert error.kind == golden.kind
    assert error.http_status == golden.status
    assert error.raw_body == golden.body
    actual = {name: getattr(error, name) for name in golden.expected}
    assert actual == golden.expected


@pytest.mark.parametrize("golden", GOLDEN, ids=lambda g: g.name)
def test_documented_error_body_gives_the_same_answer_as_text(golden):
    as_bytes = providers.parse_error(golden.kind, golden.status, golden.body.encode(), golden.headers)
    as_text = providers.parse_error(golden.kind, golden.status, golden.body, golden.headers)
    assert as_text == as_bytes


def test_golden_bodies_cover_every_vendor():
    assert {golden.kind for golden in GOLDEN} == set(ADAPTERS)


# -- retry advice follows each vendor's documented rules ----------------------------------


def _parse(kind, code, status=None, headers=None):
    entry = ADAPTERS[kind].errors[code]
    status = entry.http_status if status is None else status
    return providers.parse_error(kind, status, render_error_body(kind, code, status), headers or {})


def test_23telecom_retries_rate_limits_and_db_error_only():
    assert _parse("23telecom", "RATE_LIMIT_EXCEEDED").retryable is True
    assert _parse("23telecom", "http_429").retryable is True
    assert _parse("23telecom", "DB_ERROR").retryable is True
    internal = _parse("23telecom", "INTERNAL_ERROR")
    assert (internal.retryable, internal.ambiguous) == (False, True)


@pytest.mark.parametrize(
    "code", [c for c, e in ADAPTERS["23telecom"].errors.items() if 400 <= e.http_status < 500 and e.http_status != 429]
)
def test_23telecom_never_blind_retries_a_4xx(code):
    assert _parse("23telecom", code).retryable is False


def test_telnxo_gateway_timeout_is_ambiguous_and_not_retried():
    error = _parse("telnxo", "gateway_timeout", headers={"Retry-After": "5"})
    assert (error.retryable, error.ambiguous, error.category) == (False, True, Category.TIMEOUT)


@pytest.mark.parametrize(
    "code",
    ["rate_limit_exceeded", "daily_limit_reached", "hourly_limit_reached", "internal_error", "service_unavailable"],
)
def test_telnxo_429s_and_server_errors_are_retryable(code):
    assert _parse("telnxo", code).retryable is True


@pytest.mark.parametrize(
    "code", ["quota_exceeded", "daily_limit_reached", "hourly_limit_reached", "resource_limit_reached"]
)
def test_telnxo_plan_limits_are_quota(code):
    assert _parse("telnxo", code).category is Category.QUOTA


def test_money_shortfalls_are_balance_and_plan_caps_are_quota():
    assert _parse("23telecom", "INSUFFICIENT_BALANCE").category is Category.BALANCE
    assert _parse("telephonyio", "insufficient_balance").category is Category.BALANCE
    assert _parse("textingblue", "plan_limit_exceeded").category is Category.QUOTA


def test_retry_after_header_wins_over_the_wait_stated_in_the_message():
    body = '{"error": {"code": "rate_limited", "message": "Rate limit exceeded. Retry after 15 seconds."}}'
    error = providers.parse_error("textingblue", 429, body, {"Retry-After": "3"})
    assert error.retry_after == 3.0


def test_wait_stated_in_the_message_is_used_without_a_header():
    body = '{"error": {"code": "rate_limited", "message": "Rate limit exceeded. Retry after 15 seconds."}}'
    error = providers.parse_error("textingblue", 429, body, {})
    assert (error.retry_after, error.retryable) == (15.0, True)


def test_8x8_wait_stated_in_its_429_message_is_read_without_a_header():
    body = '{"code": 429, "message": "Quota exceeded. Please try again in 1 second(s).", "errorId": "e1"}'
    error = providers.parse_error("8x8", 429, body, {})
    assert (error.provider_code, error.category, error.retry_after) == ("429", Category.RATE_LIMIT, 1.0)


def test_retry_after_as_http_date():
    when = email.utils.formatdate(time.time() + 120, usegmt=True)
    error = providers.parse_error("8x8", 429, render_error_body("8x8", "429", 429), {"retry-after": when})
    assert 100 <= error.retry_after <= 121


def test_a_retry_after_makes_an_otherwise_final_rate_limit_retryable():
    # 8x8's 1400 is not retried on its own, but an explicit wait from the vendor is advice to retry.
    assert _parse("8x8", "1400").retryable is False
    assert _parse("8x8", "1400", headers={"Retry-After": "2"}).retryable is True


def test_unparseable_retry_after_is_ignored():
    error = providers.parse_error(
        "telnxo", 429, render_error_body("telnxo", "rate_limit_exceeded", 429), {"Retry-After": "soon"}
    )
    assert (error.retry_after, error.retryable) == (None, True)


# -- unknown codes are kept, never dropped ------------------------------------------------

UNKNOWN_CODE_BODIES = {
    "23telecom": '{"status": false, "error_code": "BRAND_NEW_CODE", "description": "Something new"}',
    "telephonyio": '{"error": "Something new", "code": "brand_new_code"}',
    "8x8": '{"code": 4711, "message": "Something new", "errorId": "e-1", "timestamp": "2024-01-01T00:00:00.00Z"}',
    "telnxo": '{"success": false, "error": "brand_new_code", "message": "Something new", "code": 418}',
    "textingblue": '{"error": {"code": "brand_new_code", "message": "Something new"}}',
}
EXPECTED_UNKNOWN = {"23telecom": "BRAND_NEW_CODE", "8x8": "4711"}


@pytest.mark.parametrize("kind", ADAPTERS)
@pytest.mark.parametrize(
    ("status", "category"),
    [
        (400, Category.VALIDATION),
        (402, Category.BALANCE),
        (418, Category.VALIDATION),
        (429, Category.RATE_LIMIT),
        (503, Category.UNAVAILABLE),
        (504, Category.TIMEOUT),
        (200, Category.UNKNOWN),
    ],
)
def test_unknown_code_is_normalized_from_the_http_status(kind, status, category):
    error = providers.parse_error(kind, status, UNKNOWN_CODE_BODIES[kind], {})
    assert error.provider_code == EXPECTED_UNKNOWN.get(kind, "brand_new_code")
    assert error.known is False
    assert error.category is category
    assert error.retryable is (status in RETRYABLE_STATUSES)
    assert error.ambiguous is (status == 504)
    assert error.message == "Something new"
    assert (error.description, error.resolution) == ("", "")


# -- envelope quirks ----------------------------------------------------------------------


@pytest.mark.parametrize("code", [1002, "1002", 1002.0, "1002.0", " 1002 "])
def test_8x8_code_is_normalized_whatever_its_json_type(code):
    body = json.dumps({"code": code, "message": "Invalid MSISDN", "errorId": "e-2"})
    error = providers.parse_error("8x8", 400, body, {})
    assert (error.provider_code, error.known, error.request_id) == ("1002", True, "e-2")


def test_8x8_non_integral_code_is_kept_verbatim():
    error = providers.parse_error("8x8", 400, '{"code": 1002.5, "message": "x"}', {})
    assert (error.provider_code, error.known) == ("1002.5", False)


def test_8x8_body_without_a_code_keeps_its_error_id():
    error = providers.parse_error("8x8", 500, '{"message": "boom", "errorId": "e-3"}', {})
    assert (error.provider_code, error.request_id, error.message) == ("http_500", "e-3", "boom")


def test_telephonyio_text_error_without_code_falls_back_to_status_code():
    error = providers.parse_error("telephonyio", 500, '{"error": "Internal server error"}', {})
    assert (error.provider_code, error.known, error.retryable) == ("http_500", True, True)
    assert error.message == "Internal server error"


def test_vendor_codes_are_kept_exactly_as_spelled():
    error = providers.parse_error("23telecom", 401, '{"status": false, "error_code": "invalid_api_key"}', {})
    assert (error.provider_code, error.known) == ("invalid_api_key", False)


def test_telnxo_request_id_comes_from_the_header_whatever_its_case():
    body = render_error_body("telnxo", "internal_error", 500)
    assert providers.parse_error("telnxo", 500, body, {"x-request-id": "req_0123456789abcdef"}).request_id == (
        "req_0123456789abcdef"
    )


def test_23telecom_onboarding_body_is_not_an_error_code():
    fields = ADAPTERS["23telecom"].extract_error({"status": False, "error": "Account is in setup process"})
    assert fields.code is None
    assert fields.message == "Account is in setup process"


@pytest.mark.parametrize(
    ("kind", "success_body"),
    [
        ("23telecom", {"status": True, "results": []}),
        ("telephonyio", {"success": True, "messageId": "sms_1"}),
        ("8x8", {"umid": "u", "status": {"code": "QUEUED"}}),
        ("telnxo", {"success": True, "message_id": "msg_1"}),
        ("textingblue", {"id": "msg_1", "status": "queued"}),
    ],
)
def test_success_bodies_are_not_error_bodies(kind, success_body):
    assert ADAPTERS[kind].extract_error(success_body) is None
