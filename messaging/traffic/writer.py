"""The one place vendor outcomes become rows: every ErrorEvent is built here.

Whoever saves built events counts them with messaging.traffic.rollups.record
in the same transaction (record_error does it; the ingest writer for its batch).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from messaging.models import ErrorEvent, Provider, Send, recipient_key
from messaging.traffic import clean, rollups, signals
from messaging.traffic.bulk import copy_returning_ids, insert_returning_ids, model_values
from providers import NormalizedError


def build_error_event(
    provider: Provider,
    error: NormalizedError,
    *,
    source: str,
    send: Send | None = None,
    channel: str | None = None,
    occurred_at: datetime | None = None,
) -> ErrorEvent:
    """An unsaved ErrorEvent for ``error``, its text cleaned once; the vendor's code is kept as sent (made storable)."""
    error = clean.error(error)
    return ErrorEvent(
        provider=provider,
        send=send,
        source=source,
        channel=channel or (send.channel if send else "sms"),
        occurred_at=occurred_at or timezone.now(),
        http_status=error.http_status,
        error_code=error.provider_code,
        category=str(error.category),
        retryable=error.retryable,
        known=error.known,
        message=error.message,
        param=error.param or "",
        request_id=error.request_id or "",
        details=error.details,
        raw_body=error.raw_body,
    )


def record_error(provider: Provider, error: NormalizedError, *, send: Send | None = None, **where) -> ErrorEvent:
    """Save the event and count it into the rollups, in the caller's transaction."""
    return record_errors(provider, [(error, send)], **where)[0]


def record_errors(
    provider: Provider, failures: Sequence[tuple[NormalizedError, Send | None]], *, source: str, **where
) -> list[ErrorEvent]:
    """record_error for several errors at once (the sends of one vendor call): one insert, one rollup write."""
    events = [build_error_event(provider, error, source=source, send=send, **where) for error, send in failures]
    with transaction.atomic():
        ids = insert_returning_ids(ErrorEvent, [model_values(event) for event in events])
        for event, pk in zip(events, ids, strict=True):
            event.pk = pk
            event._state.adding = False  # as save() leaves it: the row exists
        rollups.record(errors=events)
    alert_on_commit(provider, [error for error, _ in failures], source)
    return events


def record_batch(
    provider: Provider,
    send_rows: list[dict[str, Any]],
    failures: Sequence[tuple[int, NormalizedError, str, datetime]],
    *,
    source: str,
) -> tuple[list[int], list[int]]:
    """Sends reported in bulk (ingest) and the errors of some of them, in one transaction.

    ``send_rows`` are plain column values (COPY on PostgreSQL); each failure names its row's
    position, the error, the channel and when it happened. Returns the new send ids and error
    event ids (in the order of ``failures``).
    """
    # No savepoint: inside the caller's transaction this is all or nothing with it.
    for row in send_rows:  # plain rows skip Send.save(): keep the recipient search key here
        row["recipient_key"] = recipient_key(row.get("recipient", ""))
    with transaction.atomic(savepoint=False):
        send_ids = copy_returning_ids(Send, send_rows)
        events = []
        for position, error, channel, occurred_at in failures:
            event = build_error_event(provider, error, source=source, channel=channel, occurred_at=occurred_at)
            event.send_id = send_ids[position]
            events.append(event)
        error_ids = insert_returning_ids(ErrorEvent, [model_values(event) for event in events])
        # Sends are plain rows here, not models: counted from the values just written.
        rollups.add(
            Counter((provider.pk, row["channel"], row["created_at"]) for row in send_rows),
            rollups.error_counts(events),
        )
        alert_on_commit(provider, [error for _, error, _, _ in failures], source)
    return send_ids, error_ids


def alert_on_commit(provider: Provider, errors: list[NormalizedError], source: str | None) -> None:
    """Announce the errors once the transaction commits (messaging.alerts decides what opens an alert).

    ``robust``: a listener's problem is logged and never undoes or breaks the send that
    recorded the error.
    """
    if errors:
        transaction.on_commit(
            lambda: signals.errors_recorded.send(sender=Provider, provider=provider, errors=errors, source=source),
            robust=True,
        )
