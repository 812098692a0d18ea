"""The API key never leaves the adapter: not in reprs, kept bodies, messages, fields or logs."""

from __future__ import annotations

import logging

import pytest
import requests

from providers import ADAPTERS, OutgoingMessage
from tests.providers.fixtures import API_KEY, make_adapter

ONE = OutgoingMessage(recipients=("+447700900001",), body="Hi", sender="Acme")

# Error bodies in which the vendor echoes the key back, in every field the adapter reads.
ECHOING_BODIES = {
    "23telecom": [
        (
            401,
            {
                "status": False,
                "error_code": "INVALID_API_KEY",
                "description": f"Key {API_KEY} is not valid",
                "currency": API_KEY,
            },
        ),
        (401, {"status": False, "description": f"Key {API_KEY} is not valid"}),
    ],
    "telephonyio": [
        (401, {"error": {"code": "unauthorized", "message": f"Bearer {API_KEY} was revoked"}}),
        (401, {"error": f"Bearer {API_KEY} was revoked"}),  # no code: the status-only path
    ],
    "8x8": [(401, {"code": 1200, "message": f"Unknown key {API_KEY}", "errorId": "e-1", "timestamp": API_KEY})],
    "telnxo": [
        (
            401,
            {
                "success": False,
                "error": "invalid_api_key",
                "message": f"Bad key {API_KEY}",
                "code": 401,
                "field": API_KEY,
            },
        ),
    ],
    "textingblue": [
        (
            402,
            {
                "error": {
                    "code": "plan_limit_exceeded",
                    "message": f"Key {API_KEY}",
                    "param": API_KEY,
                    "upgrade_url": f"https://app.texting.blue/billing?key={API_KEY}",
                }
            },
        ),
    ],
}
CASES = [(kind, status, body) for kind, bodies in ECHOING_BODIES.items() for status, body in bodies]


@pytest.mark.parametrize("kind", ADAPTERS)
def test_adapter_repr_does_not_show_the_key(kind):
    adapter, _ = make_adapter(kind)
    for text in (repr(adapter), str(adapter), repr(adapter.credential), str(adapter.credential), repr(vars(adapter))):
        assert API_KEY not in text


def test_every_vendor_has_an_echoing_body():
    assert set(ECHOING_BODIES) == set(ADAPTERS)


@pytest.mark.parametrize(("kind", "status", "body"), CASES, ids=lambda value: value if isinstance(value, str) else None)
def test_key_echoed_in_an_error_body_is_scrubbed_everywhere(kind, status, body):
    adapter, transport = make_adapter(kind)
    transport.reply(status, body).reply(status, body)
    outcome = adapter.send(ONE)
    balance = adapter.fetch_balance()
    for error in (outcome.error, balance.error):
        assert error is not None
        assert API_KEY not in repr(error.as_dict())
        assert "[REDACTED]" in error.raw_body
    assert API_KEY not in outcome.raw_body + balance.raw_body


def test_key_echoed_in_a_per_recipient_result_is_scrubbed():
    adapter, transport = make_adapter("23telecom")
    transport.reply(
        200, {"status": True, "results": [{"dnis": "+447700900001", "status": "config_error", "note": API_KEY}]}
    )
    outcome = adapter.send(ONE)
    (result,) = outcome.results
    assert API_KEY not in result.error.raw_body + outcome.raw_body
    assert "[REDACTED]" in result.error.raw_body


@pytest.mark.parametrize("kind", ADAPTERS)
def test_transport_exception_text_is_not_copied_into_the_error(kind):
    adapter, transport = make_adapter(kind)
    transport.fail(requests.exceptions.ConnectionError(f"refused while sending Authorization: Bearer {API_KEY}"))
    error = adapter.send(ONE).error
    assert error.provider_code == "connection_failed"
    assert API_KEY not in repr(error.as_dict())


@pytest.mark.parametrize("kind", ADAPTERS)
def test_key_never_reaches_the_logs(kind, caplog):
    caplog.set_level(logging.DEBUG)
    adapter, transport = make_adapter(kind)
    for status, body in ECHOING_BODIES[kind]:
        transport.reply(status, body).reply(status, body)
        adapter.send(ONE)
        adapter.fetch_balance()
    transport.fail(requests.exceptions.ReadTimeout(f"timeout {API_KEY}"))
    adapter.send(ONE)
    assert transport.sent, "the calls must have gone through the transport"
    assert all(API_KEY not in record.getMessage() for record in caplog.records)
    assert API_KEY not in caplog.text
