"""Hostile, broken and missing answers: each becomes a NormalizedError with its raw body kept, capped."""

from __future__ import annotations

import json

import pytest
import requests
from urllib3.exceptions import NameResolutionError, NewConnectionError, ProtocolError

import providers
from providers import ADAPTERS, Category, OutgoingMessage
from providers.parsing import PARSE_LIMIT, RAW_BODY_LIMIT
from tests.providers.fixtures import make_adapter, render_error_body

HTML_PAGE = "<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>"
NOT_ERROR_ENVELOPES = ["[1, 2, 3]", "42", "null", '"just a string"', "true", "{}"]
TEN_MB = b'{"error": "' + b"x" * (10 * 1024 * 1024) + b'"}'
ONE = OutgoingMessage(recipients=("+447700900001",), body="Hello", sender="Acme")


@pytest.mark.parametrize("kind", ADAPTERS)
def test_html_error_page_is_classified_by_status(kind):
    error = providers.parse_error(kind, 502, HTML_PAGE, {})
    assert (error.provider_code, error.category, error.retryable) == ("http_502", Category.UNAVAILABLE, True)
    assert error.details == {"body_format": "html"}
    assert error.raw_body == HTML_PAGE


@pytest.mark.parametrize("kind", ADAPTERS)
@pytest.mark.parametrize("body", [b"", None, "   "])
def test_empty_body_is_classified_by_status(kind, body):
    error = providers.parse_error(kind, 500, body, {})
    assert (error.provider_code, error.category) == ("http_500", Category.SERVER)
    assert error.details == {"body_format": "empty"}


@pytest.mark.parametrize("kind", ADAPTERS)
def test_truncated_json_is_kept_as_text(kind):
    truncated = render_error_body(kind, next(iter(ADAPTERS[kind].errors)), 401)[:25]
    error = providers.parse_error(kind, 401, truncated, {})
    assert (error.provider_code, error.category) == ("http_401", Category.AUTH)
    assert error.details == {"body_format": "text"}
    assert error.raw_body == truncated.decode()


@pytest.mark.parametrize("kind", ADAPTERS)
@pytest.mark.parametrize("body", NOT_ERROR_ENVELOPES)
def test_json_that_is_not_the_vendor_envelope_falls_back_to_status(kind, body):
    error = providers.parse_error(kind, 403, body, {})
    assert (error.provider_code, error.category, error.known) == ("http_403", Category.PERMISSION, False)
    assert error.raw_body == body


@pytest.mark.parametrize("kind", ADAPTERS)
@pytest.mark.parametrize("body", [*NOT_ERROR_ENVELOPES, HTML_PAGE, ""])
def test_a_2xx_or_missing_status_without_an_error_code_is_an_invalid_response(kind, body):
    for status in (200, None):
        error = providers.parse_error(kind, status, body, {})
        assert (error.provider_code, error.category, error.retryable) == (
            "invalid_response",
            Category.INVALID_RESPONSE,
            False,
        )


@pytest.mark.parametrize("kind", ADAPTERS)
def test_ten_megabyte_body_is_capped_and_not_parsed(kind):
    error = providers.parse_error(kind, 500, TEN_MB, {})
    assert (error.provider_code, error.category) == ("http_500", Category.SERVER)
    assert len(error.raw_body) == RAW_BODY_LIMIT


@pytest.mark.parametrize("kind", ADAPTERS)
def test_ten_megabyte_answer_over_http_is_read_only_up_to_the_parse_limit(kind):
    adapter, transport = make_adapter(kind)
    transport.reply(502, TEN_MB)
    outcome = adapter.send(ONE)
    assert (outcome.error.provider_code, outcome.http_status) == ("http_502", 502)
    assert len(outcome.raw_body) <= RAW_BODY_LIMIT
    assert len(outcome.error.raw_body) <= RAW_BODY_LIMIT < PARSE_LIMIT


@pytest.mark.parametrize("kind", ADAPTERS)
def test_non_utf8_bytes_never_raise(kind):
    body = b'{"error": "\xff\xfe\xfa broken \xc3\x28"}'
    error = providers.parse_error(kind, 400, body, {})
    assert error.provider_code == "http_400"
    assert "\ufffd" in error.raw_body


def test_absurd_numbers_in_a_body_are_dropped_not_computed():
    # int("1e99999999") would build a hundred-million-digit number and stall the worker.
    body = '{"error": {"code": "plan_limit_exceeded", "message": "m", "limit": "1e99999999", "current": 1e308}}'
    error = providers.parse_error("textingblue", 402, body, {})
    assert (error.provider_code, error.details) == ("plan_limit_exceeded", {})


@pytest.mark.parametrize("kind", ADAPTERS)
def test_2xx_carrying_an_error_body_is_an_error(kind):
    code = next(c for c, e in ADAPTERS[kind].errors.items() if e.http_status == 401)
    adapter, transport = make_adapter(kind)
    transport.reply(200, render_error_body(kind, code, 401))
    outcome = adapter.send(ONE)
    assert outcome.results == []
    assert (outcome.error.provider_code, outcome.error.category, outcome.error.http_status) == (
        code,
        Category.AUTH,
        200,
    )


@pytest.mark.parametrize("kind", ADAPTERS)
@pytest.mark.parametrize("body", [HTML_PAGE, "not json at all"])
def test_2xx_with_a_non_json_send_answer_is_invalid(kind, body):
    adapter, transport = make_adapter(kind)
    transport.reply(200, body)
    outcome = adapter.send(ONE)
    assert (outcome.error.provider_code, outcome.error.category) == ("invalid_response", Category.INVALID_RESPONSE)
    assert outcome.raw_body == body
    # A 2xx to a send may mean it went out: reconcile, never resend blindly.
    assert outcome.error.ambiguous is True


@pytest.mark.parametrize("kind", ADAPTERS)
def test_2xx_with_a_non_json_balance_answer_is_not_ambiguous(kind):
    adapter, transport = make_adapter(kind)
    transport.reply(200, HTML_PAGE)
    result = adapter.fetch_balance()
    assert result.error.category is Category.INVALID_RESPONSE
    assert result.error.ambiguous is False


@pytest.mark.parametrize("kind", ADAPTERS)
@pytest.mark.parametrize("body", ["{}", "[]", '{"results": "nope", "messages": 3, "success": "yes"}', ""])
def test_2xx_send_answer_of_the_wrong_shape_is_invalid_and_ambiguous(kind, body):
    adapter, transport = make_adapter(kind)
    transport.reply(200, body)
    outcome = adapter.send(ONE)
    assert outcome.error.category is Category.INVALID_RESPONSE
    assert outcome.error.ambiguous is True  # the vendor may have sent it: reconcile before resending


@pytest.mark.parametrize("kind", ADAPTERS)
@pytest.mark.parametrize("body", ["{}", "[]", '{"balance": "lots", "sms": 1}', "<html>maintenance</html>"])
def test_2xx_balance_answer_of_the_wrong_shape_is_invalid(kind, body):
    adapter, transport = make_adapter(kind)
    transport.reply(200, body)
    result = adapter.fetch_balance()
    assert (result.error.provider_code, result.error.category) == ("invalid_response", Category.INVALID_RESPONSE)
    assert result.error.ambiguous is False
    assert result.amount is None and result.limit is None


# -- transport failures raised by requests ------------------------------------------------

_POOL_REASON = "HTTPSConnectionPool(host='api.example', port=443): Max retries exceeded"
TRANSPORT_FAILURES = {
    "connect-timeout": (requests.exceptions.ConnectTimeout("connect timed out"), "connect_timeout", Category.TIMEOUT),
    "read-timeout": (requests.exceptions.ReadTimeout("read timed out"), "read_timeout", Category.TIMEOUT),
    "refused": (
        requests.exceptions.ConnectionError(NewConnectionError(None, "[Errno 111] Connection refused")),
        "connection_failed",
        Category.NETWORK,
    ),
    "dns": (
        requests.exceptions.ConnectionError(
            NameResolutionError("api.example", None, OSError("Name or service not known"))
        ),
        "connection_failed",
        Category.NETWORK,
    ),
    "tls": (
        requests.exceptions.SSLError(f"{_POOL_REASON} (Caused by SSLError(CERTIFICATE_VERIFY_FAILED))"),
        "tls_error",
        Category.NETWORK,
    ),
    "dropped": (
        requests.exceptions.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError(104))),
        "connection_dropped",
        Category.NETWORK,
    ),
}
# Failures after which a send may have reached the vendor.
MAY_HAVE_SENT = {"read-timeout", "dropped"}


@pytest.mark.parametrize("kind", ADAPTERS)
@pytest.mark.parametrize("failure", TRANSPORT_FAILURES)
def test_transport_failure_on_send(kind, failure):
    exc, code, category = TRANSPORT_FAILURES[failure]
    adapter, transport = make_adapter(kind)
    transport.fail(exc)
    outcome = adapter.send(ONE)
    assert outcome.http_status is None and outcome.results == []
    error = outcome.error
    assert (error.provider_code, error.category, error.kind) == (code, category, kind)
    assert error.ambiguous is (failure in MAY_HAVE_SENT)
    assert error.retryable is (failure not in MAY_HAVE_SENT)


@pytest.mark.parametrize("kind", ADAPTERS)
@pytest.mark.parametrize("failure", TRANSPORT_FAILURES)
def test_transport_failure_on_balance_is_never_ambiguous(kind, failure):
    exc, code, category = TRANSPORT_FAILURES[failure]
    adapter, transport = make_adapter(kind)
    transport.fail(exc)
    result = adapter.fetch_balance()
    assert (result.error.provider_code, result.error.category) == (code, category)
    assert (result.error.ambiguous, result.error.retryable) == (False, True)


def test_too_many_recipients_is_refused_before_any_request():
    adapter, transport = make_adapter("23telecom")
    recipients = tuple(f"+4477009{n:05d}" for n in range(101))
    with pytest.raises(ValueError, match="at most 100"):
        adapter.send(OutgoingMessage(recipients=recipients, body="Hi", sender="Acme"))
    assert transport.sent == []


@pytest.mark.parametrize("kind", ["telephonyio", "telnxo", "textingblue"])
def test_single_recipient_vendors_refuse_a_second_recipient(kind):
    adapter, transport = make_adapter(kind)
    with pytest.raises(ValueError, match="at most 1"):
        adapter.send(OutgoingMessage(recipients=("+1", "+2"), body="Hi"))
    assert transport.sent == []


def test_error_body_is_kept_verbatim_when_small():
    body = json.dumps({"success": False, "error": "dnd_number", "message": "On the DND registry", "code": 422})
    adapter, transport = make_adapter("telnxo")
    transport.reply(422, body, {"X-Request-ID": "req_1"})
    outcome = adapter.send(ONE)
    assert outcome.raw_body == outcome.error.raw_body == body
    assert (outcome.request_id, outcome.error.request_id) == ("req_1", "req_1")
    assert outcome.error.category is Category.COMPLIANCE
