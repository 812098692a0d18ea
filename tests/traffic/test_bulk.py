"""The fast writers of messaging.traffic.bulk: the same rows and errors as the ORM would give."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from messaging.models import ErrorEvent, Provider, Send, SendStatus
from messaging.traffic.bulk import copy_returning_ids, insert_returning_ids, model_values, update_where

pytestmark = pytest.mark.django_db

WRITERS = [insert_returning_ids, copy_returning_ids]
AT = datetime(2026, 11, 30, 12, 34, 56, 789012, tzinfo=UTC)


@pytest.fixture
def provider() -> Provider:
    return Provider.objects.create(name="Bulk", slug="bulk", kind="23telecom")


def _rows(provider: Provider, count: int, **extra) -> list[dict]:
    return [
        {"provider_id": provider.pk, "recipient": f"+4477009{n:05d}", "created_at": AT, "status": "accepted", **extra}
        for n in range(count)
    ]


@pytest.mark.parametrize("write", WRITERS)
def test_rows_come_back_as_ids_in_order_with_every_value_and_default(write, provider):
    batch = uuid.uuid4()
    ids = write(Send, _rows(provider, 3, batch_id=batch, idempotency_key=None, http_status=402))
    assert ids == sorted(ids) and len(set(ids)) == 3
    sends = list(Send.objects.filter(pk__in=ids).order_by("id"))
    assert [s.recipient for s in sends] == ["+447700900000", "+447700900001", "+447700900002"]
    first = sends[0]
    assert (first.created_at, first.batch_id, first.http_status, first.status) == (AT, batch, 402, "accepted")
    # Fields left out get the model's defaults, auto_now included.
    assert (first.channel, first.source, first.body, first.attempts, first.latency_ms) == (
        "sms",
        "sendwatch",
        "",
        0,
        None,
    )
    assert first.updated_at is not None


@pytest.mark.parametrize("write", WRITERS)
def test_a_duplicate_key_raises_integrity_error_and_writes_nothing(write, provider):
    Send.objects.create(provider=provider, recipient="+447700900009", idempotency_key="k-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        write(Send, _rows(provider, 1) + _rows(provider, 1, idempotency_key="k-1"))
    assert Send.objects.count() == 1


@pytest.mark.parametrize("write", WRITERS)
def test_one_write_is_a_fixed_number_of_statements_and_each_is_counted(write, provider):
    with CaptureQueriesContext(connection) as few:
        write(Send, _rows(provider, 2))
    with CaptureQueriesContext(connection) as many:
        write(Send, _rows(provider, 500))
    assert len(few) == len(many) >= 1
    assert Send.objects.count() == 502
    assert write(Send, []) == []


def test_error_events_keep_their_json_details(provider):
    event = ErrorEvent(
        provider=provider, occurred_at=AT, error_code="E1", category="validation", details={"a": [1, "é"]}
    )
    [pk] = insert_returning_ids(ErrorEvent, [model_values(event)])
    saved = ErrorEvent.objects.get(pk=pk)
    assert (saved.details, saved.occurred_at, saved.known) == ({"a": [1, "é"]}, AT, True)


def test_update_where_updates_only_the_matching_rows(provider):
    ids = insert_returning_ids(Send, _rows(provider, 3, status=SendStatus.QUEUED))
    changed = update_where(Send, {"status": SendStatus.SENDING, "claimed_at": AT}, id__in=ids[:2], status="queued")
    assert changed == 2
    rows = dict(Send.objects.values_list("id", "status"))
    assert rows == {ids[0]: "sending", ids[1]: "sending", ids[2]: "queued"}
    assert Send.objects.get(pk=ids[0]).claimed_at == AT
    assert update_where(Send, {"status": "failed"}, id__in=[]) == 0
    with pytest.raises(ValueError, match="field__in"):
        update_where(Send, {"status": "failed"}, id__gt=0)
