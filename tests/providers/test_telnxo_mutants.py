"""Telnxo's error envelope and its duplicate-key rule, pinned where bin/mutation found gaps (vendors/telnxo.md)."""

from __future__ import annotations

import pytest

from providers import ADAPTERS, Category, NormalizedError

TELNXO = ADAPTERS["telnxo"]


@pytest.mark.parametrize(
    ("body", "found"),
    [
        ({"success": True, "error": "ignored", "message": "all good"}, None),  # success wins over a stray field
        ({"success": True}, None),
        ({"id": "msg_1"}, None),  # neither success nor error: not an error envelope
        ({"success": False}, ("", "")),
        ({"success": False, "error": "insufficient_balance", "message": "Top up"}, ("insufficient_balance", "Top up")),
        ({"error": "invalid_sender_id", "field": "sender_id"}, ("invalid_sender_id", "")),
        ("not an object", None),
    ],
)
def test_the_error_envelope(body, found):
    fields = TELNXO.extract_error(body)
    if found is None:
        assert fields is None
    else:
        assert (fields.code or "", fields.message) == found


def test_a_field_names_the_parameter():
    assert TELNXO.extract_error({"error": "invalid_sender_id", "field": "sender_id"}).param == "sender_id"


@pytest.mark.parametrize(("code", "accepted"), [("duplicate_idempotency_key", True), ("insufficient_balance", False)])
def test_only_a_duplicate_key_means_the_first_try_went_through(code, accepted):
    error = NormalizedError(
        kind="telnxo", provider_code=code, category=Category.CONFLICT, http_status=409, retryable=False
    )
    assert TELNXO.means_already_accepted(error) is accepted
