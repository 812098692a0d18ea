"""What POST /api/v1/events records: sends, error events, idempotency, and its query budget."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from messaging.models import ApiToken, ErrorEvent, Send
from messaging.traffic import ingest
from messaging.traffic.ingest import IngestResponse
from tests.api import bodies
from tests.api.conftest import counts

pytestmark = pytest.mark.django_db

OCCURRED = "2026-11-22T10:00:00Z"
OCCURRED_AT = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fixed_now(monkeypatch):
    # Pin "now" after OCCURRED so the 5-minute future limit is deterministic.
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    monkeypatch.setattr(ingest.timezone, "now", lambda: now)
    return now


def _ok(response) -> dict:
    assert response.status_code == 200, response.content
    document = response.json()
    IngestResponse.model_validate(document)  # the answer has the documented shape
    return document


def test_a_2xx_is_an_accepted_send_with_no_error_event(post, vendors):
    document = _ok(
        post(
            {
                "provider": "t23",
                "events": [
                    {
                        "http_status": 200,
                        "body": bodies.T23_SEND_OK,
                        "recipient": "+447700900001",
                        "occurred_at": OCCURRED,
                        "message_id": bodies.T23_MESSAGE_ID,
                    }
                ],
            }
        )
    )
    send = Send.objects.get()
    assert document == {
        "provider": "t23",
        "received": 1,
        "recorded": 1,
        "duplicates": 0,
        "results": [
            {
                "index": 0,
                "send_id": send.pk,
                "error_event_id": None,
                "provider_code": None,
                "category": None,
                "duplicate": False,
            }
        ],
    }
    assert send.provider == vendors["23telecom"]
    assert (send.status, send.source, send.channel) == ("accepted", "ingest", "sms")
    assert send.vendor_message_id == bodies.T23_MESSAGE_ID
    assert send.recipient == "+447700900001"
    assert send.http_status == 200
    assert send.created_at == OCCURRED_AT and send.completed_at == OCCURRED_AT
    assert (send.error_code, send.error_category) == ("", "")
    assert ErrorEvent.objects.count() == 0


def test_23telecom_402_is_a_failed_send_and_an_error_event(post, vendors):
    document = _ok(
        post(
            {
                "provider": "t23",
                "events": [
                    {
                        "http_status": 402,
                        "body": bodies.T23_INSUFFICIENT_BALANCE,
                        "recipient": "+447700900001",
                        "occurred_at": "2026-11-22T11:00:00+01:00",
                        "idempotency_key": "order-1",
                    }
                ],
            }
        )
    )
    send = Send.objects.get()
    event = ErrorEvent.objects.get()
    assert document["results"] == [
        {
            "index": 0,
            "send_id": send.pk,
            "error_event_id": event.pk,
            "provider_code": "INSUFFICIENT_BALANCE",
            "category": "balance",
            "duplicate": False,
        }
    ]
    assert (send.status, send.source, send.http_status) == ("failed", "ingest", 402)
    assert (send.error_code, send.error_category) == ("INSUFFICIENT_BALANCE", "balance")
    assert send.status_reason == "INSUFFICIENT_BALANCE: Insufficient balance"
    assert send.idempotency_key == "order-1"
    assert event.send_id == send.pk and event.provider == vendors["23telecom"]
    assert (event.source, event.channel, event.http_status) == ("ingest", "sms", 402)
    assert (event.error_code, event.category, event.known, event.retryable) == (
        "INSUFFICIENT_BALANCE",
        "balance",
        True,
        False,
    )
    assert event.occurred_at == OCCURRED_AT  # 11:00+01:00 is 10:00Z
    assert event.details["estimated_cost"] == "1.25" and event.details["currency"] == "EUR"
    assert Decimal(event.details["balance"]) == Decimal("0.42")
    assert event.raw_body == bodies.T23_INSUFFICIENT_BALANCE


def test_textingblue_429_keeps_the_wait_in_the_message_and_is_retryable(post, vendors):
    document = _ok(
        post(
            {
                "provider": "tblue",
                "events": [
                    {
                        "http_status": 429,
                        "body": bodies.TB_RATE_LIMITED,
                        "headers": {"Retry-After": "15"},
                        "recipient": "+14155550100",
                        "channel": "imessage",
                    }
                ],
            }
        )
    )
    (result,) = document["results"]
    assert (result["provider_code"], result["category"]) == ("rate_limited", "rate_limit")
    event = ErrorEvent.objects.get(pk=result["error_event_id"])
    assert (event.error_code, event.category, event.retryable) == ("rate_limited", "rate_limit", True)
    assert event.message == "Rate limit exceeded. Retry after 15 seconds."
    assert event.channel == "imessage" and event.send.channel == "imessage"
    assert event.occurred_at == datetime(2026, 11, 22, 12, 0, tzinfo=UTC)  # defaults to now


def test_8x8_numeric_code_is_kept_exactly_with_its_error_id(post, vendors):
    document = _ok(post({"provider": "e8", "events": [{"http_status": 400, "body": bodies.E8_INVALID_MSISDN}]}))
    (result,) = document["results"]
    assert (result["provider_code"], result["category"]) == ("1002", "validation")
    send = Send.objects.get(pk=result["send_id"])
    event = ErrorEvent.objects.get(pk=result["error_event_id"])
    assert event.error_code == "1002" and event.message == "Invalid MSISDN"
    assert event.request_id == send.request_id == "5ab1c2d3-0000-4000-8000-000000000001"
    assert send.recipient == ""  # optional, stored blank


def test_telnxo_request_id_comes_from_the_header_on_errors_and_successes(post, vendors):
    document = _ok(
        post(
            {
                "provider": "tnx",
                "events": [
                    {
                        "http_status": 422,
                        "body": bodies.TNX_MISSING_FIELD,
                        "headers": {"x-request-id": bodies.TNX_REQUEST_ID},
                    },
                    {"http_status": 200, "body": '{"success": true}', "headers": {"X-Request-ID": "req_ok_0001"}},
                ],
            }
        )
    )
    failed, accepted = (Send.objects.get(pk=r["send_id"]) for r in document["results"])
    event = ErrorEvent.objects.get()
    assert (event.error_code, event.param, event.request_id) == (
        "missing_required_field",
        "to",
        bodies.TNX_REQUEST_ID,
    )
    assert failed.request_id == bodies.TNX_REQUEST_ID and failed.status == "failed"
    assert accepted.request_id == "req_ok_0001" and accepted.status == "accepted"


def test_a_2xx_carrying_a_vendor_error_body_counts_as_an_error(post, vendors):
    body = json.dumps({"status": False, "error_code": "INSUFFICIENT_BALANCE", "description": "Insufficient balance"})
    document = _ok(post({"provider": "t23", "events": [{"http_status": 200, "body": body}]}))
    (result,) = document["results"]
    assert (result["provider_code"], result["category"]) == ("INSUFFICIENT_BALANCE", "balance")
    send = Send.objects.get()
    assert send.status == "failed" and send.http_status == 200
    assert ErrorEvent.objects.get().http_status == 200


@pytest.mark.parametrize(
    ("status", "body", "code", "category"),
    [
        (429, bodies.T23_EDGE_HTML, "http_429", "rate_limit"),
        (502, "<html><body>Bad gateway</body></html>", "http_502", "unavailable"),
        (500, "", "http_500", "server"),
        (200, "<html><body>Welcome to nginx!</body></html>", "invalid_response", "invalid_response"),
        (302, "", "invalid_response", "invalid_response"),
    ],
)
def test_unreadable_bodies_are_still_recorded(post, vendors, status, body, code, category):
    document = _ok(post({"provider": "t23", "events": [{"http_status": status, "body": body}]}))
    (result,) = document["results"]
    assert (result["provider_code"], result["category"]) == (code, category)
    event = ErrorEvent.objects.get()
    assert event.raw_body == body
    assert Send.objects.get().status == "failed"


def test_an_empty_2xx_body_is_a_success(post, vendors):
    _ok(post({"provider": "tblue", "events": [{"http_status": 204, "body": ""}]}))
    assert Send.objects.get().status == "accepted"
    assert ErrorEvent.objects.count() == 0


def test_a_batch_keeps_request_order_and_counts(post, vendors):
    events = [
        {"http_status": 202, "body": bodies.TB_SEND_OK, "message_id": "msg_a1b2c3d4e5f6", "channel": "imessage"},
        {"http_status": 429, "body": bodies.TB_RATE_LIMITED},
        {"http_status": 202, "body": bodies.TB_SEND_OK, "channel": "imessage"},
        {"http_status": 503, "body": ""},
    ]
    document = _ok(post({"provider": "tblue", "events": events}))
    assert (document["received"], document["recorded"], document["duplicates"]) == (4, 4, 0)
    assert [r["index"] for r in document["results"]] == [0, 1, 2, 3]
    assert [r["provider_code"] for r in document["results"]] == [None, "rate_limited", None, "http_503"]
    statuses = [Send.objects.get(pk=r["send_id"]).status for r in document["results"]]
    assert statuses == ["accepted", "failed", "accepted", "failed"]
    assert ErrorEvent.objects.filter(source="ingest").count() == 2
    # Error rates have their denominator: every event is a send.
    assert Send.objects.filter(source="ingest", provider=vendors["textingblue"]).count() == 4


def test_nul_and_lone_surrogates_in_a_vendor_body_are_stored_safely(post, vendors):
    # JSON escapes inside the vendor's body: its own parser yields NUL and a lone surrogate.
    escaped = '{"error": {"code": "rate_limited", "message": "bad\\u0000text \\ud800 here"}}'
    html = "<html>\u0000 proxy error</html>"
    events = [{"http_status": 429, "body": escaped}, {"http_status": 502, "body": html}]
    document = _ok(post({"provider": "tblue", "events": events}))
    first, second = (ErrorEvent.objects.get(pk=r["error_event_id"]) for r in document["results"])
    assert first.error_code == "rate_limited"
    assert first.message.startswith("bad") and first.message.endswith(" here")
    assert "\x00" not in first.message
    assert second.error_code == "http_502"
    assert second.raw_body == "<html>\ufffd proxy error</html>"


# -- idempotency -----------------------------------------------------------------------------


def test_a_repeated_key_across_requests_is_recorded_once(post, vendors):
    payload = {
        "provider": "t23",
        "events": [{"http_status": 402, "body": bodies.T23_INSUFFICIENT_BALANCE, "idempotency_key": "k-1"}],
    }
    first = _ok(post(payload))["results"][0]
    again = _ok(post(payload))
    assert (again["recorded"], again["duplicates"]) == (0, 1)
    assert again["results"] == [{**first, "duplicate": True}]
    assert counts() == (1, 1)


def test_a_repeated_key_within_one_request_is_recorded_once(post, vendors):
    event = {"http_status": 200, "body": bodies.T23_SEND_OK, "idempotency_key": "same"}
    document = _ok(post({"provider": "t23", "events": [event, {"http_status": 500, "body": ""}, event]}))
    assert (document["received"], document["recorded"], document["duplicates"]) == (3, 2, 1)
    first, _, third = document["results"]
    assert third == {**first, "index": 2, "duplicate": True}
    assert counts() == (2, 1)


def test_the_same_key_at_two_providers_is_two_sends(post, vendors):
    event = {"http_status": 200, "body": "", "idempotency_key": "shared"}
    _ok(post({"provider": "t23", "events": [event]}))
    assert _ok(post({"provider": "tblue", "events": [event]}))["recorded"] == 1
    assert Send.objects.filter(idempotency_key="shared").count() == 2


def test_a_key_recorded_between_our_read_and_our_insert_is_retried_as_a_duplicate(post, vendors, monkeypatch):
    payload = {
        "provider": "t23",
        "events": [
            {"http_status": 402, "body": bodies.T23_INSUFFICIENT_BALANCE, "idempotency_key": "race"},
            {"http_status": 200, "body": "", "idempotency_key": "fresh"},
        ],
    }
    winner = _ok(post({"provider": "t23", "events": payload["events"][:1]}))["results"][0]
    real = ingest._recorded_keys
    calls = []

    def stale_first_read(provider, keys):
        calls.append(keys)
        return {} if len(calls) == 1 else real(provider, keys)  # the first read misses the concurrent row

    monkeypatch.setattr(ingest, "_recorded_keys", stale_first_read)
    document = _ok(post(payload))
    assert len(calls) == 2  # IntegrityError, then one retry
    assert document["results"][0] == {**winner, "duplicate": True}
    assert document["results"][1]["duplicate"] is False
    # The failed first attempt left nothing behind: "fresh" exists once.
    assert Send.objects.filter(idempotency_key="fresh").count() == 1
    assert counts() == (2, 1)


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_the_same_key_record_it_once(token, vendors, events_url):
    payload = json.dumps(
        {
            "provider": "t23",
            "events": [
                {"http_status": 402, "body": bodies.T23_INSUFFICIENT_BALANCE, "idempotency_key": f"c-{n}"}
                for n in range(50)
            ],
        }
    )
    barrier = threading.Barrier(4)
    answers: list = []

    def worker():
        try:
            barrier.wait()
            response = Client().post(
                events_url, data=payload, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
            )
            answers.append((response.status_code, response.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _ in answers] == [200] * 4
    assert sum(doc["recorded"] for _, doc in answers) == 50
    assert sum(doc["duplicates"] for _, doc in answers) == 150
    assert counts() == (50, 50)
    # Every answer names the same send for each key.
    ids = {tuple(r["send_id"] for r in doc["results"]) for _, doc in answers}
    assert len(ids) == 1


# -- query budget and token bookkeeping ------------------------------------------------------


def _mixed_events(count: int, tag: str) -> list[dict]:
    shapes = [
        {"http_status": 200, "body": bodies.T23_SEND_OK, "message_id": bodies.T23_MESSAGE_ID},
        {"http_status": 402, "body": bodies.T23_INSUFFICIENT_BALANCE},
        {"http_status": 429, "body": bodies.T23_EDGE_HTML},
    ]
    return [{**shapes[n % 3], "idempotency_key": f"{tag}-{n}", "recipient": f"+4477009{n:05d}"} for n in range(count)]


def test_queries_do_not_grow_with_the_batch(post, vendors):
    _ok(post({"provider": "t23", "events": _mixed_events(1, "warm")}))  # touches last_used_at once
    with CaptureQueriesContext(connection) as one:
        _ok(post({"provider": "t23", "events": _mixed_events(2, "one")[1:]}))
    with CaptureQueriesContext(connection) as many:
        document = _ok(post({"provider": "t23", "events": _mixed_events(500, "many")}))
    assert document["recorded"] == 500
    assert len(one) == len(many), [q["sql"][:80] for q in many.captured_queries]
    assert len(many) <= 9  # token, provider, savepoint, keys, sends, error events, send and error rollups, release
    assert counts() == (1 + 1 + 500, 0 + 1 + 333)


def test_last_used_at_is_written_at_most_once_a_minute(post, vendors, monkeypatch):
    row = ApiToken.objects.get()
    assert row.last_used_at is None
    payload = {"provider": "t23", "events": [{"http_status": 200, "body": ""}]}
    _ok(post(payload))
    row.refresh_from_db()
    first = row.last_used_at
    assert first is not None
    with CaptureQueriesContext(connection) as within_a_minute:
        _ok(post(payload))
    row.refresh_from_db()
    assert row.last_used_at == first
    assert not [q for q in within_a_minute.captured_queries if q["sql"].startswith("UPDATE")]
    later = timezone.now() + timedelta(minutes=2)
    monkeypatch.setattr("messaging.vault.tokens.timezone.now", lambda: later)
    _ok(post(payload))
    row.refresh_from_db()
    assert row.last_used_at == later


def test_an_ingested_402_opens_the_balance_alert_at_once(post, vendors, django_capture_on_commit_callbacks):
    from messaging.models import Alert

    with django_capture_on_commit_callbacks(execute=True):
        _ok(post({"provider": "t23", "events": [{"http_status": 402, "body": bodies.T23_INSUFFICIENT_BALANCE}]}))
    alert = Alert.objects.get(provider=vendors["23telecom"], state=Alert.State.OPEN)
    assert (alert.kind, alert.severity) == (Alert.Kind.LOW_BALANCE, Alert.Severity.CRITICAL)
    # A success or a validation error opens nothing.
    with django_capture_on_commit_callbacks(execute=True):
        _ok(post({"provider": "e8", "events": [{"http_status": 400, "body": bodies.E8_INVALID_MSISDN}]}))
    assert not Alert.objects.filter(provider=vendors["8x8"]).exists()
