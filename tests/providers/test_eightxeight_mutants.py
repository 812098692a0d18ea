"""8x8's per-message refusals, pinned where bin/mutation found gaps (vendors/8x8.md §3a)."""

from __future__ import annotations

import json

import pytest

from providers import Category, OutgoingMessage
from tests.providers.fixtures import make_adapter

ONE = OutgoingMessage(recipients=("+447400123456",), body="Hi", sender="Acme")


def answer(code: str, description: str | None) -> dict:
    status = {"code": code} if description is None else {"code": code, "description": description}
    return {"umid": "00000000-1111-2222-3333-444444444444", "destination": "+447400123456", "status": status}


@pytest.mark.parametrize("code", ["REJECTED", "A_STATE_NOBODY_DOCUMENTED"])
@pytest.mark.parametrize("description", ["Destination not allowed", None])
def test_a_refused_message_carries_the_catalogue_or_says_it_is_unknown(code, description):
    adapter, transport = make_adapter("8x8")
    transport.reply(200, answer(code, description))
    [result] = adapter.send(ONE).results
    error = result.error
    assert (result.accepted, result.recipient, result.vendor_status) == (False, "+447400123456", code)
    assert (error.kind, error.provider_code, error.http_status) == ("8x8", code, 200)
    assert error.message == (description or f"8x8 did not accept this message: {code}")
    assert json.loads(error.raw_body) == answer(code, description)
    entry = adapter.errors.get(code)
    if entry:
        expected = (True, entry.category, entry.retryable, entry.description, entry.resolution, entry.ambiguous)
    else:  # an unlisted state says nothing about whether the message left: reconcile, never resend
        expected = (False, Category.UNKNOWN, False, "", "", True)
    assert (
        error.known,
        error.category,
        error.retryable,
        error.description,
        error.resolution,
        error.ambiguous,
    ) == expected


@pytest.mark.parametrize(
    "item",
    [
        {"destination": "+447400123456"},
        {"destination": "+447400123456", "status": "QUEUED"},
        {"status": {"code": "QUEUED"}},
    ],
)
def test_a_message_item_without_destination_or_status_code_is_a_shape_error(item):
    adapter, transport = make_adapter("8x8")
    transport.reply(200, item)
    outcome = adapter.send(ONE)
    assert (
        outcome.error.message == "8x8 answered with an unexpected body: message item lacks destination or status.code"
    )


TWO = OutgoingMessage(recipients=("+447400123456", "+4930000000"), body="Promo", sender="Acme")


@pytest.mark.parametrize(
    ("message", "body", "words"),
    [
        (ONE, 42, "send answer is not an object"),
        (TWO, {"batchId": "b-1", "messages": []}, "batch answer lists no messages"),
        (TWO, {"batchId": "b-1"}, "batch answer lists no messages"),
    ],
)
def test_a_wrong_shaped_send_answer_says_what_is_wrong(message, body, words):
    adapter, transport = make_adapter("8x8")
    transport.reply(200, body)
    assert adapter.send(message).error.message == f"8x8 answered with an unexpected body: {words}"


def test_a_refusal_in_a_batch_carries_the_answers_status():
    adapter, transport = make_adapter("8x8")
    transport.reply(
        200,
        {"batchId": "b-1", "messages": [{"umid": "u-2", "destination": "+4930000000", "status": {"code": "REJECTED"}}]},
    )
    [result] = adapter.send(TWO).results
    assert (result.accepted, result.error.http_status) == (False, 200)
