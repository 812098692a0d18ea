"""The one place vendor outcomes become rows: every ErrorEvent is built here.

Whoever saves built events counts them with messaging.traffic.rollups.record
in the same transaction (record_error does it; the ingest writer for its batch).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from messaging.models import ErrorEvent, Provider, Send
from messaging.traffic import rollups
from messaging.traffic.bulk import insert_returning_ids, model_values
from providers import NormalizedError

MESSAGE_LIMIT = 2000


def build_error_event(
    provider: Provider,
    error: NormalizedError,
    *,
    source: str,
    send: Send | None = None,
    channel: str | None = None,
    occurred_at: datetime | None = None,
) -> ErrorEvent:
    """An unsaved ErrorEvent for ``error``; the vendor's code is kept exactly as sent."""
    return ErrorEvent(
        provider=provider,
        send=send,
        source=source,
        channel=channel or (send.channel if send else "sms"),
        occurred_at=occurred_at or timezone.now(),
        http_status=error.http_status,
        error_code=error.provider_code[:100],
        category=str(error.category),
        retryable=error.retryable,
        known=error.known,
        message=(error.message or "")[:MESSAGE_LIMIT],
        param=(error.param or "")[:100],
        request_id=(error.request_id or "")[:200],
        details=_json_safe(error.details),
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


def alert_on_commit(provider: Provider, errors: list[NormalizedError], source: str | None) -> None:
    """Money, plan and key errors open their alerts as soon as the error is committed.

    Balance polls are left out (the poller evaluates its own failures), and so are checks of
    a key not yet in use. ``robust``: an alerting problem is logged and never undoes or
    breaks the send that recorded the error.
    """
    from messaging.alerts import lifecycle as alerts

    if source in (ErrorEvent.Source.BALANCE, ErrorEvent.Source.VERIFY):
        return
    wanted = [error for error in errors if alerts.wants(error)]
    if wanted:
        transaction.on_commit(lambda: alerts.errors_recorded(provider, wanted), robust=True)


def _json_safe(value):
    """Vendor details may hold Decimals or odd types; JSONField needs plain JSON."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
