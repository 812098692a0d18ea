"""What the one writer promises beyond cleaning, each pinned by a test (bin/mutation found them unpinned).

The alert hook: after commit, once, naming the provider, the errors and their source, and a
listener that raises never undoes or breaks the write. The event: the catalogue's ``known``
flag, the channel (the send's, or SMS), blank rather than invented param and request id.
The batch writer: sends counted into the rollups and the source passed on.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from messaging.models import ErrorEvent, Provider, Send, SendRollup, SendStatus
from messaging.traffic import signals
from messaging.traffic.writer import build_error_event, record_batch, record_error, record_errors
from providers import Category, NormalizedError

pytestmark = pytest.mark.django_db


def error(code: str = "INVALID_TO", *, known: bool = True, param=None, request_id=None) -> NormalizedError:
    return NormalizedError(
        kind="23telecom",
        provider_code=code,
        category=Category.VALIDATION,
        http_status=400,
        retryable=False,
        param=param,
        request_id=request_id,
        known=known,
    )


@pytest.fixture
def provider():
    return Provider.objects.create(name="23 EU", slug="t23", kind="23telecom")


@pytest.fixture
def heard():
    calls: list[dict] = []

    def listener(sender, **kwargs):
        calls.append({"sender": sender, **kwargs})

    signals.errors_recorded.connect(listener, dispatch_uid="test-writer-heard")
    yield calls
    signals.errors_recorded.disconnect(dispatch_uid="test-writer-heard")


def test_the_alert_hook_runs_after_commit_with_provider_errors_and_source(
    provider, heard, django_capture_on_commit_callbacks
):
    failures = [(error("A"), None), (error("B"), None)]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        record_errors(provider, failures, source="send")
        assert heard == []  # nothing before the commit
    assert len(callbacks) == 1
    [call] = heard
    assert call["sender"] is Provider and call["provider"] == provider and call["source"] == "send"
    assert [e.provider_code for e in call["errors"]] == ["A", "B"]


def test_a_listener_that_raises_neither_breaks_nor_undoes_the_write(provider, django_capture_on_commit_callbacks):
    def broken(sender, **kwargs):
        raise RuntimeError("listener bug")

    signals.errors_recorded.connect(broken, dispatch_uid="test-writer-broken")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            event = record_error(provider, error(), source="send")
    finally:
        signals.errors_recorded.disconnect(dispatch_uid="test-writer-broken")
    assert ErrorEvent.objects.filter(pk=event.pk).exists()


def test_no_errors_announce_nothing(provider, heard, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        record_errors(provider, [], source="send")
    assert callbacks == [] and heard == []


def test_the_event_keeps_the_catalogue_flag_and_leaves_missing_ids_blank(provider):
    unknown = record_error(provider, error("NEW_CODE", known=False), source="send")
    known = record_error(provider, error(param="to", request_id="req_1"), source="send")
    stored = {e.pk: e for e in ErrorEvent.objects.all()}
    assert stored[unknown.pk].known is False and stored[known.pk].known is True
    assert (stored[unknown.pk].param, stored[unknown.pk].request_id) == ("", "")
    assert (stored[known.pk].param, stored[known.pk].request_id) == ("to", "req_1")


def test_the_channel_is_the_sends_or_sms(provider):
    send = Send.objects.create(provider=provider, recipient="+447700900001", channel="whatsapp")
    assert build_error_event(provider, error(), source="send", send=send).channel == "whatsapp"
    assert build_error_event(provider, error(), source="send").channel == "sms"
    assert build_error_event(provider, error(), source="send", send=send, channel="rcs").channel == "rcs"


def test_where_and_when_are_passed_through(provider):
    at = timezone.now() - timedelta(hours=5)
    [event] = record_errors(provider, [(error(), None)], source="ingest", occurred_at=at, channel="whatsapp")
    stored = ErrorEvent.objects.get(pk=event.pk)
    assert (stored.occurred_at, stored.channel, stored.source) == (at, "whatsapp", "ingest")


def test_returned_events_are_saved_rows(provider):
    [event] = record_errors(provider, [(error(), None)], source="send")
    assert event.pk is not None and event._state.adding is False
    event.validate_unique()  # an unsaved instance with this pk would clash with its own row
    event.message = "edited"
    event.save()
    assert ErrorEvent.objects.get(pk=event.pk).message == "edited" and ErrorEvent.objects.count() == 1


def test_a_batch_counts_its_sends_and_announces_its_source(provider, heard, django_capture_on_commit_callbacks):
    now = timezone.now()
    rows = [
        {
            "provider_id": provider.pk,
            "channel": "sms",
            "recipient": f"+4477009000{n:02d}",
            "status": SendStatus.ACCEPTED,
            "source": Send.Source.INGEST,
            "created_at": now,
        }
        for n in range(3)
    ]
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        send_ids, error_ids = record_batch(provider, rows, [(1, error(), "sms", now)], source="ingest")
    assert len(send_ids) == 3 and len(error_ids) == 1
    assert ErrorEvent.objects.get(pk=error_ids[0]).send_id == send_ids[1]
    keys = dict(Send.objects.values_list("recipient", "recipient_key"))
    assert keys == {row["recipient"]: row["recipient"][::-1].rstrip("+") for row in rows}
    assert sum(SendRollup.objects.filter(provider=provider, grain=300).values_list("sends", flat=True)) == 3
    [call] = heard
    assert call["source"] == "ingest" and call["provider"] == provider
