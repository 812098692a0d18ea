"""Sending through a vendor, exactly once.

The Send row is the outbox: it is created ``queued`` in the caller's
transaction and its task is enqueued only on commit. A worker *claims* rows
with a conditional update (queued -> sending) before calling the vendor, so a
redelivered or duplicated task finds nothing to do. The periodic sweeper
re-dispatches queued rows whose task was lost (a broker outage delays sends but
loses none) and settles rows whose worker died mid-call: vendors that honour an
idempotency key are safely resent with the same key; for the others the outcome
is unknown and the row waits for reconciliation instead of a blind resend.
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from messaging import background
from messaging.models import Channel, Provider, Send, SendAttempt, SendStatus
from messaging.traffic import breaker, clean, rollups, routing
from messaging.traffic.bulk import insert_returning_ids, update_where
from messaging.traffic.writer import record_error, record_errors
from messaging.vault.adapters import (
    NoCredential,
    active_credential,
    adapter_for,
    touch,
    with_grace_fallback,
)
from messaging.vault.crypto import VaultError
from providers import BaseAdapter, Category, NormalizedError, OutgoingMessage, SendOutcome, get_adapter_class

log = logging.getLogger(__name__)

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_BODY_CHARS = 5000


def max_attempts() -> int:
    return settings.SENDWATCH_SEND_MAX_ATTEMPTS


def lost_task_grace() -> timedelta:
    """How long a queued, due row may wait for its task before the sweeper re-dispatches it."""
    return timedelta(seconds=settings.SENDWATCH_LOST_TASK_GRACE_SECONDS)


def stale_claim_after() -> timedelta:
    """A claim older than this belongs to a worker that died (longer than any vendor call can take)."""
    return timedelta(seconds=settings.SENDWATCH_STALE_CLAIM_SECONDS)


# Waits up to this long ride on a broker countdown; longer ones wait in the database.
SHORT_WAIT_SECONDS = 60
BACKOFF_BASE_SECONDS = 2
BACKOFF_CAP_SECONDS = 15 * 60


class SendRejected(ValueError):
    """The request to send is invalid; nothing was written."""


# -- queueing ------------------------------------------------------------------------


def queue_sends(
    provider: Provider,
    recipients: Sequence[str],
    body: str,
    *,
    sender: str = "",
    channel: str = Channel.SMS,
    idempotency_key: str | None = None,
) -> list[Send]:
    """Create queued sends (one per recipient) and enqueue their delivery on commit.

    A repeated ``idempotency_key`` returns the sends made the first time and sends nothing.
    """
    recipients = [r.strip() for r in recipients]
    _validate(provider, recipients, body, channel, idempotency_key)
    keys = _recipient_keys(idempotency_key, len(recipients))
    try:
        with transaction.atomic():
            if idempotency_key:
                existing = list(Send.objects.filter(provider=provider, idempotency_key__in=keys).order_by("id"))
                if existing:
                    return existing
            now = timezone.now()
            batch_id = uuid.uuid4() if len(recipients) > 1 else None
            sends = Send.objects.bulk_create(
                Send(
                    provider=provider,
                    channel=channel,
                    recipient=recipient,
                    sender=sender or provider.default_sender,
                    body=body,
                    body_sha256=_sha256(body),
                    idempotency_key=key,
                    batch_id=batch_id,
                    status=SendStatus.QUEUED,
                    next_attempt_at=now,
                    created_at=now,
                )
                for recipient, key in zip(recipients, keys, strict=True)
            )
            rollups.record(sends=sends)
            ids = [send.pk for send in sends]
            transaction.on_commit(lambda: dispatch(provider.kind, ids))
            return sends
    except IntegrityError:
        # A concurrent request with the same key won the race: return its sends.
        existing = list(Send.objects.filter(provider=provider, idempotency_key__in=keys).order_by("id"))
        if existing:
            return existing
        raise


def _validate(provider: Provider, recipients: list[str], body: str, channel: str, idempotency_key: str | None) -> None:
    if not provider.enabled:
        raise SendRejected(f"{provider.name} is disabled")
    if not recipients:
        raise SendRejected("at least one recipient is needed")
    if len(set(recipients)) != len(recipients):
        raise SendRejected("a recipient is listed twice")
    pattern = EMAIL if channel == Channel.EMAIL else E164
    bad = [r for r in recipients if not pattern.match(r)]
    if bad:
        shape = "an email address" if channel == Channel.EMAIL else "an E.164 number such as +447700900001"
        raise SendRejected(f"not {shape}: {', '.join(bad[:5])}")
    if channel not in Channel.values:
        raise SendRejected(f"unknown channel {channel!r}")
    if not body.strip():
        raise SendRejected("the message is empty")
    if len(body) > MAX_BODY_CHARS:
        raise SendRejected(f"the message is longer than {MAX_BODY_CHARS} characters")
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= 100:
        raise SendRejected("the idempotency key must be 1 to 100 characters")


def _recipient_keys(idempotency_key: str | None, count: int) -> list[str | None]:
    if idempotency_key is None:
        return [None] * count
    if count == 1:
        return [idempotency_key]
    return [f"{idempotency_key}#{n}" for n in range(count)]


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def dispatch(kind: str, send_ids: Sequence[int], countdown: float | None = None) -> None:
    """Enqueue delivery in chunks the vendor accepts. A broker outage only delays: the sweeper retries."""
    size = get_adapter_class(kind).max_recipients
    for start in range(0, len(send_ids), size):
        chunk = list(send_ids[start : start + size])
        try:
            background.start("messaging.tasks.deliver_sends", [chunk], countdown=countdown)
        except Exception:  # kombu raises several types when the broker is away
            log.warning("broker unavailable; sends %s stay queued for the sweeper", chunk, exc_info=True)


# Messages of the send API per task: each is its own vendor call, but one broker message per
# message would cap a batch of 1,000 at the broker's pace; a worker's pool still runs tasks in parallel.
EACH_CHUNK = 25


def dispatch_each(send_ids: Sequence[int]) -> None:
    """Enqueue sends that each need their own vendor call (messaging.traffic.messages), in chunks."""
    for start in range(0, len(send_ids), EACH_CHUNK):
        chunk = list(send_ids[start : start + EACH_CHUNK])
        try:
            background.start("messaging.tasks.deliver_each", [chunk])
        except Exception:  # kombu raises several types when the broker is away
            log.warning("broker unavailable; sends %s stay queued for the sweeper", chunk, exc_info=True)


# -- delivering ----------------------------------------------------------------------


def deliver(send_ids: Sequence[int]) -> None:
    """Claim the due, queued sends among ``send_ids`` and send them in one vendor request."""
    sends = _claim(send_ids)
    if not sends:
        return
    provider = sends[0].provider
    adapter_class = provider.adapter_class
    try:
        credential = active_credential(provider)
        adapter = adapter_for(provider, credential)
    except (NoCredential, VaultError) as exc:
        _finish_without_call(sends, str(exc))
        return
    first = sends[0]
    message = OutgoingMessage(
        recipients=tuple(send.recipient for send in sends),
        body=first.body,
        sender=first.sender,
        channel=first.channel,
        # A stable key per send, so a resend after a lost worker is recognised by vendors that dedupe.
        idempotency_key=(first.idempotency_key or f"sendwatch-{first.pk}") if len(sends) == 1 else None,
        client_reference=str(first.pk),
    )
    try:
        # A refused active key is retried once with the previous key during its grace period.
        outcome, credential = with_grace_fallback(
            provider,
            credential,
            lambda a: a.send(message),
            adapter=adapter,
            # The refused attempt is kept as an ErrorEvent of the first send.
            on_refused=lambda error: record_error(provider, error, source="send", send=first),
        )
    except Exception:
        log.exception("adapter %s failed while sending %s", provider.kind, [s.pk for s in sends])
        outcome = SendOutcome(http_status=None, latency_ms=0, error=_internal_error(provider.kind))
    touch(credential)
    apply_outcome(sends, outcome, adapter_class)


def _claim(send_ids: Sequence[int]) -> list[Send]:
    now = timezone.now()
    with transaction.atomic():
        # A countdown may fire a moment before next_attempt_at; a second of slack avoids a missed turn.
        sends = _lock_due(send_ids, now + timedelta(seconds=1))
        if not sends:
            return []
        # The provider row came with the sends, read as fresh as a query of its own would be.
        until = breaker.open_until(sends[0].provider, now)
        if until is not None:
            Send.objects.filter(pk__in=[s.pk for s in sends]).update(next_attempt_at=until)
            return []
        for send in sends:
            send.status, send.claimed_at, send.attempts = SendStatus.SENDING, now, send.attempts + 1
        _save(sends, ["status", "claimed_at", "attempts"])  # the rows are locked: their attempts are known
        insert_returning_ids(
            SendAttempt,
            [
                {"send_id": send.pk, "number": send.attempts, "started_at": now, "outcome": SendStatus.SENDING}
                for send in sends
            ],
        )
    return sends


def _lock_due(send_ids: Sequence[int], due_by: datetime) -> list[Send]:
    """The queued sends among ``send_ids`` due by ``due_by``, locked (rows another worker holds are skipped).

    Plain SQL, and the providers read by id: compiling this query and its provider join was
    a fifth of a delivery's CPU (docs/performance.md). The provider rows are read in the same
    transaction, as fresh as a join would read them.
    """
    if not send_ids:
        return []
    lock = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    marks = ", ".join(["%s"] * len(send_ids))
    sends = list(
        Send.objects.raw(
            f"SELECT * FROM {Send._meta.db_table} WHERE id IN ({marks}) AND status = %s "  # noqa: S608
            f"AND next_attempt_at <= %s ORDER BY id{lock}",
            [*send_ids, SendStatus.QUEUED, connection.ops.adapt_datetimefield_value(due_by)],
        )
    )
    if not sends:
        return []
    provider_ids = sorted({send.provider_id for send in sends})
    marks = ", ".join(["%s"] * len(provider_ids))
    rows = Provider.objects.raw(f"SELECT * FROM {Provider._meta.db_table} WHERE id IN ({marks})", provider_ids)  # noqa: S608
    providers = {provider.pk: provider for provider in rows}
    for send in sends:
        send.provider = providers[send.provider_id]
    return sends


@dataclass
class _Decision:
    status: str
    delay: float = 0.0  # seconds before the next attempt; read only when status is QUEUED
    reason: str = ""


def apply_outcome(sends: list[Send], outcome: SendOutcome, adapter_class: type[BaseAdapter]) -> None:
    """Record one vendor call's outcome for every send in it, in one transaction."""
    now = timezone.now()
    provider = sends[0].provider
    retries: dict[float, list[int]] = defaultdict(list)
    failures: list[tuple[NormalizedError, Send]] = []
    moved: list[Send] = []  # routed sends handed to another provider of their route
    with transaction.atomic():
        results = {result.recipient: result for result in outcome.results}
        for send in sends:
            send.http_status = outcome.http_status
            send.latency_ms = outcome.latency_ms
            send.request_id = clean.text(outcome.request_id, 128)
            result = results.get(send.recipient)
            error = outcome.error or (result.error if result else None)
            if error is None and result is not None and result.accepted:
                decision = _Decision(SendStatus.ACCEPTED)
                send.vendor_message_id = clean.text(result.vendor_message_id, 128)
            else:
                error = clean.error(error or _missing_result(provider.kind, send.recipient, outcome.http_status))
                failures.append((error, send))
                decision = _decide(send, error, adapter_class)
                send.error_code, send.error_category = error.provider_code, str(error.category)
                if send.route_id is not None and decision.status != SendStatus.ACCEPTED and routing.fails_over(error):
                    decision = _fail_over(send, error, decision, now, moved)
            _apply(send, decision, now)
            if send in moved:
                continue  # dispatched to its new provider below
            if decision.status == SendStatus.QUEUED and decision.delay <= SHORT_WAIT_SECONDS:
                retries[round(decision.delay, 1)].append(send.pk)
        if failures:
            record_errors(provider, failures, source="send", occurred_at=now)
        _save(sends, OUTCOME_FIELDS)
        update_where(
            SendAttempt,
            {
                "latency_ms": outcome.latency_ms,
                "http_status": outcome.http_status,
                "outcome": SendStatus.FAILED if outcome.error else SendStatus.ACCEPTED,
                "error_code": clean.text(outcome.error.provider_code, 100) if outcome.error else "",
            },
            send_id__in=[send.pk for send in sends],
            outcome=SendStatus.SENDING,
        )
        if outcome.error is not None and breaker.trips(outcome.error):
            breaker.record_failure(provider.pk, now)
        elif outcome.error is None and provider.breaker_failures:
            # Read with the claim: no failures then, nothing to reset (and no write to a hot row).
            breaker.record_success(provider.pk)
        for delay, ids in retries.items():
            transaction.on_commit(partial(dispatch, provider.kind, ids, countdown=delay))
        if moved:
            for send in moved:
                changed = {"provider": send.provider_id, "routing": send.routing, "failovers": send.failovers}
                update_where(Send, changed, id=send.pk)
                transaction.on_commit(partial(dispatch, send.provider.kind, [send.pk]))
            rollups.record(sends=moved)  # each provider counts the messages handed to it


OUTCOME_FIELDS = (
    "status",
    "http_status",
    "latency_ms",
    "request_id",
    "vendor_message_id",
    "error_code",
    "error_category",
    "status_reason",
    "next_attempt_at",
    "completed_at",
    "claimed_at",
)


def _fail_over(send: Send, error: NormalizedError, decision: _Decision, now: datetime, moved: list[Send]) -> _Decision:
    """Hand a routed send that failed for a reason of its provider's to the next usable provider of its route.

    Without one, the send keeps ``decision`` (a retry with the same provider, or failed) and the
    trail says why none could take it.
    """
    assert send.route is not None
    was = send.provider.slug
    choice = routing.choose(send.route, send.recipient, tried=routing.tried_providers(send))
    words = f"{was} failed with {error.provider_code} ({error.category}); {choice.words}"
    routing.note(send, words, choice.provider, now)
    if choice.provider is None:
        update_where(Send, {"routing": send.routing}, id=send.pk)
        return decision
    send.provider = choice.provider
    send.failovers += 1
    moved.append(send)
    return _Decision(SendStatus.QUEUED, delay=0.0, reason=f"failed over from {was} to {choice.provider.slug}")


def _save(sends: list[Send], fields: Sequence[str]) -> None:
    """Write ``fields`` of ``sends``: one plain UPDATE for the values they share, bulk_update for the rest.

    bulk_update's CASE per field and row cost more CPU than the whole rest of a delivery; in one
    vendor call most fields come out the same for every send (a vendor message id does not).
    """
    varying = [field for field in fields if len({getattr(send, field) for send in sends}) > 1]
    shared = {field: getattr(sends[0], field) for field in fields if field not in varying}
    if shared:
        update_where(Send, shared, id__in=[send.pk for send in sends])
    if varying:
        Send.objects.bulk_update(sends, varying)


def _decide(send: Send, error: NormalizedError, adapter_class: type[BaseAdapter]) -> _Decision:
    if send.attempts > 1 and adapter_class.means_already_accepted(error):
        return _Decision(SendStatus.ACCEPTED, reason="accepted on an earlier attempt (the vendor saw this key before)")
    if error.ambiguous:
        return _Decision(SendStatus.UNKNOWN, reason=f"{error.provider_code}: the vendor may have sent it; reconcile")
    if error.retryable and send.attempts < max_attempts():
        return _Decision(SendStatus.QUEUED, delay=backoff(send.attempts, error.retry_after))
    if error.retryable:
        return _Decision(SendStatus.FAILED, reason=f"gave up after {send.attempts} attempts: {error.provider_code}")
    return _Decision(SendStatus.FAILED, reason=f"{error.provider_code}: {error.message}"[:300])


def _apply(send: Send, decision: _Decision, now: datetime) -> None:
    send.status = decision.status
    send.status_reason = decision.reason[:300]
    send.claimed_at = None
    if decision.status == SendStatus.QUEUED:
        send.next_attempt_at = now + timedelta(seconds=decision.delay)
        send.completed_at = None
    else:
        send.next_attempt_at = None
        send.completed_at = now


def backoff(attempt: int, retry_after: float | None) -> float:
    """Seconds before the next attempt: the vendor's wait when given, else exponential with jitter."""
    if retry_after is not None:
        return min(float(retry_after), BACKOFF_CAP_SECONDS) + random.uniform(0, 1)
    exponential = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
    return exponential * random.uniform(0.5, 1.5)


def _finish_without_call(sends: list[Send], reason: str) -> None:
    now = timezone.now()
    with transaction.atomic():
        for send in sends:
            _apply(send, _Decision(SendStatus.FAILED, reason=reason), now)
        _save(sends, ["status", "status_reason", "next_attempt_at", "completed_at", "claimed_at"])
        SendAttempt.objects.filter(send__in=sends, outcome=SendStatus.SENDING).update(
            outcome=SendStatus.FAILED, error_code="no_credential"
        )


def _missing_result(kind: str, recipient: str, http_status: int | None) -> NormalizedError:
    return NormalizedError(
        kind=kind,
        provider_code="invalid_response",
        category=Category.INVALID_RESPONSE,
        http_status=http_status,
        retryable=False,
        message=f"the vendor's answer has no result for {recipient}",
        ambiguous=True,
    )


def _internal_error(kind: str) -> NormalizedError:
    return NormalizedError(
        kind=kind,
        provider_code="sendwatch_error",
        category=Category.UNKNOWN,
        http_status=None,
        retryable=False,
        message="Sendwatch failed while calling the vendor; see the worker log",
        ambiguous=True,
    )


# -- the sweeper -------------------------------------------------------------------------


@dataclass
class SweepReport:
    dispatched: int = 0
    requeued: int = 0
    unknown: int = 0


def sweep_outbox(limit: int = 1000) -> SweepReport:
    """Re-dispatch queued sends whose task was lost, and settle claims of dead workers."""
    now = timezone.now()
    report = SweepReport()
    with transaction.atomic():
        due = list(
            Send.objects.select_for_update(skip_locked=True)
            .filter(status=SendStatus.QUEUED, next_attempt_at__lte=now - lost_task_grace())
            .order_by("next_attempt_at")
            .values_list("pk", "provider_id", "batch_id")[:limit]
        )
        if due:
            # Restart the grace, so the next sweep leaves these to the dispatch below.
            Send.objects.filter(pk__in=[pk for pk, _, _ in due]).update(next_attempt_at=now)
            kinds = dict(Provider.objects.filter(pk__in={p for _, p, _ in due}).values_list("pk", "kind"))
            for (provider_id, _batch), ids in _group(due).items():
                transaction.on_commit(partial(dispatch, kinds[provider_id], ids))
            report.dispatched = len(due)
        stale = list(
            Send.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("provider")
            .filter(status=SendStatus.SENDING, claimed_at__lt=now - stale_claim_after())[:limit]
        )
        for send in stale:
            if send.provider.adapter_class.idempotent_sends and send.attempts < max_attempts():
                _apply(
                    send, _Decision(SendStatus.QUEUED, delay=0, reason="worker lost; resending with the same key"), now
                )
                report.requeued += 1
            else:
                _apply(send, _Decision(SendStatus.UNKNOWN, reason="worker lost during the vendor call; reconcile"), now)
                report.unknown += 1
        if stale:
            Send.objects.bulk_update(
                stale, ["status", "status_reason", "next_attempt_at", "completed_at", "claimed_at"]
            )
            SendAttempt.objects.filter(send__in=stale, outcome=SendStatus.SENDING).update(outcome=SendStatus.UNKNOWN)
            for send in stale:
                if send.status == SendStatus.QUEUED:
                    transaction.on_commit(partial(dispatch, send.provider.kind, [send.pk]))
    return report


def _group(rows: Iterable[tuple[int, int, uuid.UUID | None]]) -> dict[tuple[int, object], list[int]]:
    """Sends of one original request go out together again; others one by one."""
    groups: dict[tuple[int, object], list[int]] = defaultdict(list)
    for pk, provider_id, batch_id in rows:
        groups[(provider_id, batch_id or pk)].append(pk)
    return groups
