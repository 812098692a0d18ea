"""23 Telecom's balance states and per-recipient refusals, pinned where bin/mutation found gaps.

From vendors/23telecom.md: the degraded answer, the gateway headers, the onboarding state.
"""

from __future__ import annotations

import pytest

from providers import Category, OutgoingMessage
from tests.providers.fixtures import make_adapter

ONE = OutgoingMessage(recipients=("+447400123456",), body="x", sender="Acme")


def test_a_degraded_answer_keeps_the_reported_figure_aside_with_the_reason():
    adapter, transport = make_adapter("23telecom")
    transport.reply(200, {"balance": "12.50", "currency": "EUR", "unavailable": True, "reason": "ledger sync"})
    result = adapter.fetch_balance()
    assert (result.amount, result.unavailable, result.currency) == (None, True, "EUR")
    assert result.details == {"reason": "ledger sync", "reported_balance": "12.50"}
    assert (result.http_status, result.error) == (200, None)


def test_the_gateway_header_marks_an_answer_degraded_and_gives_the_reason():
    adapter, transport = make_adapter("23telecom")
    transport.reply(
        200,
        {"balance": "80.00", "currency": "EUR"},
        headers={"X-Sms-Gateway-Status": " Partial ", "X-Sms-Gateway-Reason": "maintenance"},
    )
    result = adapter.fetch_balance()
    assert (result.amount, result.unavailable, result.details["reason"]) == (None, True, "maintenance")


def test_a_plain_answer_is_not_degraded_and_says_no_reason():
    adapter, transport = make_adapter("23telecom")
    transport.reply(200, {"balance": "80.00", "currency": "EUR", "unavailable": False})
    result = adapter.fetch_balance()
    assert (str(result.amount), result.unavailable, result.details) == ("80.00", False, {})


def test_a_degraded_answer_without_a_reason_says_none():
    adapter, transport = make_adapter("23telecom")
    transport.reply(200, {"unavailable": True})
    result = adapter.fetch_balance()
    assert (result.unavailable, result.details, result.currency) == (True, {"reason": ""}, "")


def test_an_account_in_setup_is_unavailable_not_failed():
    adapter, transport = make_adapter("23telecom")
    transport.reply(200, {"status": False}).reply(200, {"status": False, "error": "Account setup pending"})
    first, second = adapter.fetch_balance(), adapter.fetch_balance()
    assert (first.error, first.unavailable, first.details) == (None, True, {"state": "setup", "message": ""})
    assert second.details == {"state": "setup", "message": "Account setup pending"}
    assert (second.http_status, second.latency_ms is not None) == (200, True)


@pytest.mark.parametrize("status", ["blocked_country", "a_status_nobody_documented"])
def test_a_refused_recipient_carries_the_catalogue_or_says_it_is_unknown(status):
    adapter, transport = make_adapter("23telecom")
    transport.reply(200, {"status": True, "results": [{"dnis": "+447400123456", "status": status}]})
    [result] = adapter.send(ONE).results
    error = result.error
    assert (error.kind, error.provider_code, error.message) == (
        "23telecom",
        status,
        f"23 Telecom did not accept this recipient: {status}",
    )
    entry = adapter.errors.get(status)
    if entry:
        assert (error.known, error.description, error.resolution, error.ambiguous) == (
            True,
            entry.description,
            entry.resolution,
            entry.ambiguous,
        )
    else:
        assert (error.known, error.description, error.resolution, error.ambiguous) == (False, "", "", True)
        assert error.category == Category.UNKNOWN


@pytest.mark.parametrize(
    ("item", "words"),
    [
        ("not an object", "results[] item is not an object"),
        ({"status": "accepted"}, "results[] item lacks dnis or status"),
    ],
)
def test_a_malformed_result_says_what_is_wrong(item, words):
    adapter, transport = make_adapter("23telecom")
    transport.reply(200, {"status": True, "results": [item]})
    outcome = adapter.send(ONE)
    assert outcome.error.message == f"23 Telecom answered with an unexpected body: {words}"


def test_an_error_body_without_words_invents_none():
    adapter, transport = make_adapter("23telecom")
    transport.reply(402, {"status": False, "error_code": "INSUFFICIENT_BALANCE"})
    assert adapter.send(ONE).error.message == ""
