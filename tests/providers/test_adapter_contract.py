"""What every adapter promises the send pipeline, checked against every vendor of the simulator over HTTP.

The pipeline (messaging.traffic.sending) matches results to sends by recipient, shows the
vendor's status as text, and reads the answer's HTTP status and latency on balance results;
a vendor answer of the wrong shape becomes an error that says what was missing.
bin/mutation found these unpinned per adapter.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests

from providers import ADAPTERS, ApiCredential, Category, OutgoingMessage
from tests.providers.fixtures import OPTIONS, make_adapter

RECIPIENT = {"textingblue": "+14155550100", "telnxo": "+919876500001"}
SENDER = {"textingblue": "+14155550199"}
KINDS = sorted(ADAPTERS)


def adapter_at(simulator_root: str, kind: str):
    account = f"contract-{kind}"
    requests.delete(f"{simulator_root}/_sim/{kind}/{account}", timeout=5)
    # The simulator serves each account under /{kind}/{account}, then the vendor's own API path.
    base_url = f"{simulator_root}/{kind}/{account}{urlsplit(ADAPTERS[kind].default_base_url).path.rstrip('/')}"
    return ADAPTERS[kind](
        base_url,
        ApiCredential("sk_contract_0123456789"),
        options=OPTIONS.get(kind, {}),
        allow_private_hosts=("127.0.0.1",),
    )


@pytest.mark.parametrize("kind", KINDS)
def test_a_sends_results_name_its_recipients_and_a_text_status(simulator_root, kind):
    recipient = RECIPIENT.get(kind, "+447400123456")
    message = OutgoingMessage(recipients=(recipient,), body="Your code is 1234", sender=SENDER.get(kind, "Acme"))
    outcome = adapter_at(simulator_root, kind).send(message)
    assert outcome.error is None, outcome.error
    assert [result.recipient for result in outcome.results] == [recipient]
    [result] = outcome.results
    assert result.accepted and result.vendor_message_id
    assert isinstance(result.vendor_status, str) and "XX" not in result.vendor_status


@pytest.mark.parametrize("kind", KINDS)
def test_a_balance_result_carries_the_answers_status_and_latency(simulator_root, kind):
    result = adapter_at(simulator_root, kind).fetch_balance()
    assert result.error is None, result.error
    assert result.http_status == 200 and isinstance(result.latency_ms, int) and result.latency_ms >= 0
    assert all("XX" not in str(value) for value in result.details.values())


# What the operator reads when the answer is not what the vendor documents (vendors/*.md).
SHAPE_ERRORS = {
    "23telecom": ("send answer has no results[] list", "balance answer has no numeric balance"),
    "8x8": ("message item lacks destination or status.code", "balance answer has no numeric balance"),
    "telephonyio": ("send answer lacks success: true", "balance answer has no numeric balance"),
    "telnxo": ("send answer lacks success: true", "usage answer has no sms object"),
    "textingblue": ("send answer has no message id", "team answer has no monthly_message_limit"),
}


@pytest.mark.parametrize("kind", KINDS)
def test_an_answer_of_the_wrong_shape_says_what_was_missing(kind):
    adapter, transport = make_adapter(kind)
    transport.reply(200, {"unexpected": True}).reply(200, {"unexpected": True})
    sent = adapter.send(OutgoingMessage(recipients=("+447400123456",), body="x", sender="Acme"))
    polled = adapter.fetch_balance()
    prefix = f"{ADAPTERS[kind].label} answered with an unexpected body: "
    assert (sent.error.message, polled.error.message) == tuple(prefix + text for text in SHAPE_ERRORS[kind])
    assert {sent.error.category, polled.error.category} == {Category.INVALID_RESPONSE}


def test_a_textingblue_error_without_a_message_invents_none():
    adapter, transport = make_adapter("textingblue")
    transport.reply(402, {"error": {"code": "plan_limit_exceeded"}})
    outcome = adapter.send(OutgoingMessage(recipients=("+14155550100",), body="x", sender="+14155550199"))
    assert (outcome.error.provider_code, outcome.error.message) == ("plan_limit_exceeded", "")
