"""Send and balance calls per vendor: the request on the wire and the parsed answer."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from providers import ADAPTERS, Category, OutgoingMessage
from tests.providers.fixtures import API_KEY, OPTIONS, make_adapter

ONE = OutgoingMessage(recipients=("+447700900001",), body="Your code is 1234", sender="Acme")
TWO = OutgoingMessage(
    recipients=("+447700900001", "+4930000000"), body="Promo", sender="Acme", client_reference="promo-7"
)


def test_default_base_urls_carry_the_api_prefix():
    assert {kind: cls.default_base_url for kind, cls in ADAPTERS.items()} == {
        "23telecom": "https://restlink23telecom.com/api/v1",
        "telephonyio": "https://www.telephony.io/api",
        "8x8": "https://sms.8x8.com/api/v1",
        "telnxo": "https://api.telnxo.com/v1",
        "textingblue": "https://api.texting.blue/v1",
    }


@pytest.mark.parametrize(
    ("kind", "header", "value"),
    [
        ("23telecom", "X-API-Key", API_KEY),
        ("telephonyio", "Authorization", f"Bearer {API_KEY}"),
        ("8x8", "Authorization", f"Bearer {API_KEY}"),
        ("telnxo", "Authorization", f"Bearer {API_KEY}"),
        ("textingblue", "x-api-key", API_KEY),
    ],
)
def test_auth_header_is_sent_on_every_call(kind, header, value):
    adapter, transport = make_adapter(kind)
    transport.reply(500).reply(500)
    adapter.send(ONE)
    adapter.fetch_balance()
    assert [request.headers[header] for request in transport.sent] == [value, value]
    assert all(request.headers["Accept"] == "application/json" for request in transport.sent)


def test_custom_base_url_is_used_without_a_trailing_slash():
    adapter, transport = make_adapter("23telecom", base_url="https://eu.example.test/api/v1/")
    transport.reply(500)
    adapter.fetch_balance()
    assert transport.last.url == "https://eu.example.test/api/v1/user/balance"


# -- 23 Telecom --------------------------------------------------------------------------

# vendors/23telecom.md §4: the documented success answer (one accepted, one blocked).
TELECOM23_SEND_ANSWER = {
    "status": True,
    "messages": [
        {"dnis": "+447700900001", "message_id": "api_7_1750000000000000000_0123456789abcdef", "segment_num": 1}
    ],
    "results": [
        {
            "dnis": "+447700900001",
            "message_id": "api_7_1750000000000000000_0123456789abcdef",
            "segments": 1,
            "status": "accepted",
        },
        {
            "dnis": "+4930000000",
            "message_id": "api_7_1750000000000000001_fedcba9876543210",
            "segments": 1,
            "status": "blocked_country",
        },
    ],
    "summary": {
        "total_recipients": 2,
        "total_segments": 2,
        "total_cost": 0.01,
        "encoding": "GSM-7",
        "accepted_count": 1,
        "blocked_count": 1,
    },
}


def test_23telecom_send_request_and_per_recipient_results():
    adapter, transport = make_adapter("23telecom")
    transport.reply(200, TELECOM23_SEND_ANSWER)
    outcome = adapter.send(TWO)
    assert (transport.last.method, transport.last.url) == ("POST", "https://restlink23telecom.com/api/v1/sms/send")
    assert transport.last_json() == {"to": ["+447700900001", "+4930000000"], "message": "Promo", "sender_id": "Acme"}
    assert outcome.error is None and outcome.http_status == 200
    accepted, blocked = outcome.results
    assert (accepted.recipient, accepted.accepted, accepted.vendor_status, accepted.error) == (
        "+447700900001",
        True,
        "accepted",
        None,
    )
    assert accepted.vendor_message_id == "api_7_1750000000000000000_0123456789abcdef"
    assert (blocked.recipient, blocked.accepted, blocked.vendor_status) == ("+4930000000", False, "blocked_country")
    assert (blocked.error.provider_code, blocked.error.category, blocked.error.known) == (
        "blocked_country",
        Category.COMPLIANCE,
        True,
    )
    assert json.loads(blocked.error.raw_body)["dnis"] == "+4930000000"


def test_23telecom_unlisted_recipient_status_is_not_accepted_and_must_be_reconciled():
    adapter, transport = make_adapter("23telecom")
    transport.reply(200, {"status": True, "results": [{"dnis": "+447700900001", "status": "held_for_review"}]})
    (result,) = adapter.send(ONE).results
    assert (result.accepted, result.vendor_message_id) == (False, None)
    error = result.error
    assert (error.provider_code, error.known, error.category, error.ambiguous, error.retryable) == (
        "held_for_review",
        False,
        Category.UNKNOWN,
        True,
        False,
    )


def test_23telecom_queue_error_recipient_is_retryable():
    adapter, transport = make_adapter("23telecom")
    transport.reply(200, {"status": True, "results": [{"dnis": "+447700900001", "status": "queue_error"}]})
    (result,) = adapter.send(ONE).results
    assert (result.error.category, result.error.retryable) == (Category.SERVER, True)


def test_23telecom_balance():
    adapter, transport = make_adapter("23telecom")
    transport.reply(200, {"balance": 12.34, "currency": "EUR", "updated": "2026.01.01 09:00:00"})
    result = adapter.fetch_balance()
    assert (transport.last.method, transport.last.url) == ("GET", "https://restlink23telecom.com/api/v1/user/balance")
    assert (result.amount, result.currency, result.blocked, result.unavailable) == (
        Decimal("12.34"),
        "EUR",
        False,
        False,
    )
    assert result.details == {"updated": "2026.01.01 09:00:00"}
    assert result.error is None and result.http_status == 200


def test_23telecom_credit_blocked():
    adapter, transport = make_adapter("23telecom")
    transport.reply(200, {"balance": 0, "currency": "EUR", "credit_blocked": True})
    result = adapter.fetch_balance()
    assert (result.amount, result.blocked, result.unavailable) == (Decimal(0), True, False)


def test_23telecom_degraded_zero_is_not_a_real_zero():
    # vendors/23telecom.md §6: degraded body and headers.
    adapter, transport = make_adapter("23telecom")
    transport.reply(
        200,
        {"balance": 0, "currency": "EUR", "unavailable": True, "reason": "cache_miss_refresh_failed"},
        {"X-Sms-Gateway-Status": "unavailable", "X-Sms-Gateway-Reason": "cache_miss_refresh_failed"},
    )
    result = adapter.fetch_balance()
    assert (result.unavailable, result.amount, result.currency, result.blocked) == (True, None, "EUR", False)
    assert result.details == {"reason": "cache_miss_refresh_failed", "reported_balance": "0"}


def test_23telecom_partial_gateway_header_alone_marks_the_balance_unavailable():
    adapter, transport = make_adapter("23telecom")
    transport.reply(
        200,
        {"balance": 3.5, "currency": "EUR"},
        {"x-sms-gateway-status": "Partial", "X-Sms-Gateway-Reason": "cache_disabled"},
    )
    result = adapter.fetch_balance()
    assert (result.unavailable, result.amount) == (True, None)
    assert result.details == {"reason": "cache_disabled", "reported_balance": "3.5"}


def test_23telecom_account_in_setup_is_not_a_failure():
    adapter, transport = make_adapter("23telecom")
    transport.reply(200, {"status": False, "error": "Account is in setup process"})
    result = adapter.fetch_balance()
    assert result.error is None
    assert (result.unavailable, result.amount) == (True, None)
    assert result.details == {"state": "setup", "message": "Account is in setup process"}


# -- Telephony.io ------------------------------------------------------------------------


def test_telephonyio_send_uses_the_assumed_endpoint():
    adapter, transport = make_adapter("telephonyio")
    transport.reply(200, {"success": True, "messageId": "sms_xxxxxxxx", "status": "queued", "creditsUsed": 0.05})
    (result,) = adapter.send(ONE).results
    assert (transport.last.method, transport.last.url) == ("POST", "https://www.telephony.io/api/sms/send")
    assert transport.last_json() == {"to": "+447700900001", "from": "Acme", "message": "Your code is 1234"}
    assert (result.recipient, result.accepted, result.vendor_message_id, result.vendor_status) == (
        "+447700900001",
        True,
        "sms_xxxxxxxx",
        "queued",
    )


@pytest.mark.parametrize(
    ("options", "body", "currency"),
    [
        ({}, {"balance": 12.5}, "USD"),
        ({"currency": "AUD"}, {"balance": 12.5}, "AUD"),
        ({"currency": "AUD"}, {"balance": 12.5, "currency": "EUR"}, "EUR"),
    ],
)
def test_telephonyio_balance_currency(options, body, currency):
    adapter, transport = make_adapter("telephonyio", **options)
    transport.reply(200, body)
    result = adapter.fetch_balance()
    assert (transport.last.method, transport.last.url) == ("GET", "https://www.telephony.io/api/account/balance")
    assert (result.amount, result.currency) == (Decimal("12.5"), currency)


def test_telephonyio_insufficient_balance_on_send():
    adapter, transport = make_adapter("telephonyio")
    transport.reply(
        402,
        {
            "error": "Insufficient credits",
            "code": "insufficient_balance",
            "required_credits": 1.5,
            "current_balance": 0.25,
        },
    )
    error = adapter.send(ONE).error
    assert (error.provider_code, error.category, error.details) == (
        "insufficient_balance",
        Category.BALANCE,
        {"required_credits": "1.5", "current_balance": "0.25"},
    )


# -- 8x8 ---------------------------------------------------------------------------------


def test_8x8_single_recipient_uses_the_single_message_endpoint():
    adapter, transport = make_adapter("8x8")
    transport.reply(
        200,
        {
            "umid": "00000000-1111-2222-3333-444444444444",
            "clientMessageId": "order-42",
            "destination": "+447700900001",
            "encoding": "GSM7",
            "status": {"code": "QUEUED", "description": "SMS is accepted and queued for processing"},
        },
    )
    message = OutgoingMessage(recipients=("+447700900001",), body="Hi", sender="Acme", client_reference="order-42")
    (result,) = adapter.send(message).results
    assert (transport.last.method, transport.last.url) == (
        "POST",
        "https://sms.8x8.com/api/v1/subaccounts/acme_hq/messages",
    )
    assert transport.last_json() == {
        "destination": "+447700900001",
        "text": "Hi",
        "source": "Acme",
        "clientMessageId": "order-42",
    }
    assert (result.accepted, result.vendor_message_id, result.vendor_status) == (
        True,
        "00000000-1111-2222-3333-444444444444",
        "QUEUED",
    )


def test_8x8_several_recipients_use_the_batch_endpoint_with_messages_in_the_answer():
    adapter, transport = make_adapter("8x8")
    transport.reply(
        200,
        {
            "batchId": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
            "clientBatchId": "promo-7",
            "acceptedCount": 1,
            "rejectedCount": 1,
            "messages": [
                {
                    "umid": "u-1",
                    "destination": "+447700900001",
                    "encoding": "GSM7",
                    "status": {"code": "QUEUED", "description": "ok"},
                },
                {
                    "umid": "u-2",
                    "destination": "+4930000000",
                    "encoding": "GSM7",
                    "status": {"code": "REJECTED", "description": "Invalid MSISDN"},
                },
            ],
        },
    )
    outcome = adapter.send(TWO)
    assert transport.last.url == "https://sms.8x8.com/api/v1/subaccounts/acme_hq/messages/batch"
    assert transport.last_json() == {
        "destinations": ["+447700900001", "+4930000000"],
        "template": {"text": "Promo", "source": "Acme"},
        "includeMessagesInResponse": True,
        "clientBatchId": "promo-7",
    }
    queued, rejected = outcome.results
    assert (queued.recipient, queued.accepted) == ("+447700900001", True)
    assert (rejected.recipient, rejected.accepted, rejected.vendor_message_id) == ("+4930000000", False, "u-2")
    assert (rejected.error.provider_code, rejected.error.message, rejected.error.category) == (
        "REJECTED",
        "Invalid MSISDN",
        Category.VALIDATION,
    )


def test_8x8_batch_answer_without_messages_is_invalid():
    adapter, transport = make_adapter("8x8")
    transport.reply(200, {"batchId": "b", "acceptedCount": 2, "rejectedCount": 0, "messages": None})
    assert adapter.send(TWO).error.provider_code == "invalid_response"


def test_8x8_balance():
    adapter, transport = make_adapter("8x8")
    transport.reply(200, {"balance": 1520.75, "currency": "USD"})
    result = adapter.fetch_balance()
    assert (transport.last.method, transport.last.url) == (
        "GET",
        f"https://sms.8x8.com/api/v1/accounts/{OPTIONS['8x8']['account_id']}/balance",
    )
    assert (result.amount, result.currency) == (Decimal("1520.75"), "USD")


def test_8x8_ids_are_escaped_into_the_path():
    adapter, transport = make_adapter("8x8", subaccount_id="acme&co/../x")
    transport.reply(500)
    adapter.send(ONE)
    assert transport.last.url == "https://sms.8x8.com/api/v1/subaccounts/acme%26co%2F..%2Fx/messages"


@pytest.mark.parametrize(("option", "call"), [("subaccount_id", "send"), ("account_id", "balance")])
def test_8x8_missing_option_is_a_clear_error(option, call):
    adapter, transport = make_adapter("8x8", **{option: ""})
    with pytest.raises(ValueError, match=option) as raised:
        adapter.send(ONE) if call == "send" else adapter.fetch_balance()
    assert API_KEY not in str(raised.value)
    assert transport.sent == []


def test_8x8_requires_account_and_subaccount_options():
    assert ADAPTERS["8x8"].required_options == ("account_id", "subaccount_id")


# -- Telnxo ------------------------------------------------------------------------------


def test_telnxo_send_with_idempotency_key_and_request_id():
    adapter, transport = make_adapter("telnxo")
    transport.reply(
        200,
        {"success": True, "message_id": "msg_xxxxxxxx", "status": "queued"},
        {"X-Request-ID": "req_8f3a2b1c9d4e7f0a"},
    )
    message = OutgoingMessage(
        recipients=("+919876543210",), body="Your OTP is 1234", sender="ACMEIN", idempotency_key="idem-42"
    )
    outcome = adapter.send(message)
    assert (transport.last.method, transport.last.url) == ("POST", "https://api.telnxo.com/v1/sms/send")
    assert transport.last.headers["X-Idempotency-Key"] == "idem-42"
    assert transport.last_json() == {"to": "+919876543210", "sender_id": "ACMEIN", "message": "Your OTP is 1234"}
    assert outcome.request_id == "req_8f3a2b1c9d4e7f0a"
    (result,) = outcome.results
    assert (result.accepted, result.vendor_message_id, result.vendor_status) == (True, "msg_xxxxxxxx", "queued")


def test_telnxo_send_without_idempotency_key_sends_no_header():
    adapter, transport = make_adapter("telnxo")
    transport.reply(200, {"success": True, "message_id": "m"})
    adapter.send(ONE)
    assert "X-Idempotency-Key" not in transport.last.headers


def test_telnxo_usage():
    adapter, transport = make_adapter("telnxo")
    transport.reply(
        200,
        {
            "plan": "growth",
            "period_start": "2026-01-01",
            "period_end": "2026-01-31",
            "sms": {"monthly_quota": 50000, "used": 12345, "hourly_limit": 2000, "daily_limit": 20000},
        },
    )
    result = adapter.fetch_balance()
    assert ADAPTERS["telnxo"].balance_kind == "quota"
    assert (transport.last.method, transport.last.url) == ("GET", "https://api.telnxo.com/v1/account/usage")
    assert (result.used, result.limit, result.unit, result.amount) == (12345, 50000, "messages", None)
    assert result.details == {
        "plan": "growth",
        "period_start": "2026-01-01",
        "period_end": "2026-01-31",
        "hourly_limit": 2000,
        "daily_limit": 20000,
    }


def test_telnxo_usage_path_is_configurable():
    adapter, transport = make_adapter("telnxo", usage_path="/sms/usage")
    transport.reply(200, {"sms": {"monthly_quota": 10, "used": 1}})
    assert adapter.fetch_balance().limit == 10
    assert transport.last.url == "https://api.telnxo.com/v1/sms/usage"


# -- texting.blue ------------------------------------------------------------------------


def test_textingblue_send():
    adapter, transport = make_adapter("textingblue")
    transport.reply(
        202,
        {
            "id": "msg_a1b2c3d4e5f6",
            "status": "queued",
            "to": "+14155550100",
            "from": "+14155550199",
            "content": "Hi!",
            "media_url": None,
            "created_at": "2026-01-01T09:00:00Z",
        },
    )
    message = OutgoingMessage(recipients=("+14155550100",), body="Hi!", sender="+14155550199")
    outcome = adapter.send(message)
    assert (transport.last.method, transport.last.url) == ("POST", "https://api.texting.blue/v1/messages/send")
    assert transport.last_json() == {"to": "+14155550100", "from": "+14155550199", "content": "Hi!"}
    assert outcome.http_status == 202
    (result,) = outcome.results
    assert (result.accepted, result.vendor_message_id, result.vendor_status) == (True, "msg_a1b2c3d4e5f6", "queued")


def test_textingblue_plan_caps():
    adapter, transport = make_adapter("textingblue")
    transport.reply(
        200,
        {
            "id": "team_a1b2c3",
            "name": "Acme",
            "plan": "pro",
            "monthly_message_limit": 10000,
            "created_at": "2026-01-01T10:00:00Z",
        },
    )
    result = adapter.fetch_balance()
    assert ADAPTERS["textingblue"].balance_kind == "quota"
    assert (transport.last.method, transport.last.url) == ("GET", "https://api.texting.blue/v1/team")
    assert (result.limit, result.used, result.unit, result.amount) == (10000, None, "messages", None)
    assert result.details == {"plan": "pro", "team": "Acme"}


def test_textingblue_custom_plan_has_no_known_limit():
    adapter, transport = make_adapter("textingblue")
    transport.reply(200, {"plan": "enterprise", "monthly_message_limit": None})
    result = adapter.fetch_balance()
    assert (result.error, result.limit) == (None, None)


def test_textingblue_rate_limit_on_send_carries_the_wait():
    adapter, transport = make_adapter("textingblue")
    transport.reply(
        429,
        {"error": {"code": "rate_limited", "message": "Rate limit exceeded. Retry after 15 seconds."}},
        {"Retry-After": "15", "x-ratelimit-remaining": "0"},
    )
    error = adapter.send(ONE).error
    assert (error.provider_code, error.retry_after, error.retryable, error.http_status) == (
        "rate_limited",
        15.0,
        True,
        429,
    )
