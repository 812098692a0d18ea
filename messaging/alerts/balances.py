"""Balance polling: one reading per provider, its status, and the alerts it implies.

``poll_provider`` calls the vendor's balance endpoint through the adapter,
stores a BalanceSnapshot (``ok = False`` with the error code on failure),
records a failed poll's vendor error through ``record_error(source="balance")``,
and sets the provider's status:

=====================  ==================================================================
ok / low / critical    the balance, plan usage or runway against the thresholds
blocked                23 Telecom ``credit_blocked``: sending is blocked until a top-up
degraded               the vendor answered without a real balance (23 Telecom ``unavailable``,
                       still onboarding) or refused to show one (rate limit, permission)
credential_failed      the vendor refused the key (``auth``) or there is no usable key
unreachable            network, timeout, 5xx, unavailable or unreadable answer
=====================  ==================================================================

A degraded zero is never alerted on and is skipped by the runway, which keeps
using the last real amount.

Plan-capped vendors: Telnxo's (assumed) usage endpoint gives ``used`` and
``limit``. texting.blue gives only the plan's monthly limit, so ``used`` is
Sendwatch's own count of accepted (or delivered) sends to that provider since
the start of the calendar month in UTC, ingested sends included; sends made
outside Sendwatch and not ingested are not in it (``details["used_source"]``
says ``"sendwatch"``).

Polling frequency: ``poll_due_providers`` polls every enabled provider whose
``last_polled_at`` is older than its ``poll_interval_seconds`` (default 300).
23 Telecom asks to be polled no more often than every few minutes: keep its
interval at 300 s or more.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from messaging.alerts import lifecycle as alerts
from messaging.alerts.runway import month_start, runway_for
from messaging.models import CONSUMING_STATUSES, BalanceSnapshot, Provider, Send
from messaging.traffic import clean
from messaging.traffic.writer import record_error
from messaging.vault.adapters import NoCredential, active_credential, mark_used, with_grace_fallback
from messaging.vault.crypto import VaultError
from providers import BalanceResult, Category, NormalizedError

log = logging.getLogger(__name__)

# Errors Sendwatch makes up itself: kept on the snapshot, never recorded as vendor ErrorEvents.
LOCAL_CODES = frozenset({"no_credential", "vault_error", "sendwatch_error"})


def poll_provider(provider: Provider) -> BalanceSnapshot:
    """Poll one provider now (the "poll now" button and the beat task use this)."""
    result, grace = _fetch(provider)
    now = timezone.now()
    with transaction.atomic():
        snapshot = _snapshot(provider, result, now, grace)
        if result.error is not None and result.error.provider_code not in LOCAL_CODES:
            record_error(provider, result.error, source="balance", occurred_at=now)
        Provider.objects.filter(pk=provider.pk).update(last_polled_at=now)
        provider.last_polled_at = now
    # The poll's own error opens its alerts here (record_error leaves source="balance" to the poller).
    runway = runway_for(provider, now)
    evaluation = alerts.evaluate_balance_thresholds(provider, snapshot, runway)
    alerts.set_status(provider, evaluation.status, evaluation.detail, now)
    return snapshot


def _fetch(provider: Provider) -> tuple[BalanceResult, bool]:
    """The vendor's answer, and whether it came with the retired key in its grace period."""
    try:
        credential = active_credential(provider)
    except NoCredential as exc:
        return BalanceResult(None, 0, error=_local_error(provider, "no_credential", Category.AUTH, str(exc))), False
    try:
        result, used = with_grace_fallback(provider, credential, lambda adapter: adapter.fetch_balance())
    except VaultError as exc:
        return BalanceResult(None, 0, error=_local_error(provider, "vault_error", Category.AUTH, str(exc))), False
    except Exception:
        log.exception("balance poll of %s failed inside Sendwatch", provider.slug)
        message = "Sendwatch failed while polling; see the worker log"
        return BalanceResult(None, 0, error=_local_error(provider, "sendwatch_error", Category.UNKNOWN, message)), False
    if result.error is None:
        mark_used(used.pk)
    return result, used.pk != credential.pk and result.error is None


def _local_error(provider: Provider, code: str, category: Category, message: str) -> NormalizedError:
    return NormalizedError(
        kind=provider.kind, provider_code=code, category=category, http_status=None, retryable=False, message=message
    )


def _snapshot(provider: Provider, result: BalanceResult, now: datetime, grace: bool) -> BalanceSnapshot:
    details = dict(result.details or {})
    details["latency_ms"] = result.latency_ms
    used = result.used
    if result.error is None and result.limit is not None and used is None:
        used = month_to_date_sends(provider, now)
        details["used_source"] = "sendwatch"
    if grace:
        details["credential"] = "grace"
    error = result.error
    if error is not None:
        details.update(category=str(error.category), message=(error.message or "")[:300], http_status=error.http_status)
    return BalanceSnapshot.objects.create(
        provider=provider,
        fetched_at=now,
        amount=result.amount,
        currency=clean.text(result.currency or result.unit or provider.currency, 12),
        used=used,
        limit=result.limit,
        blocked=result.blocked,
        unavailable=result.unavailable,
        ok=error is None,
        error_code=clean.text(error.provider_code, 100) if error else "",
        details=clean.json_value(details),
    )


def month_to_date_sends(provider: Provider, now: datetime | None = None) -> int:
    """Sends to the provider the vendor accepted since the start of this calendar month (UTC)."""
    now = now or timezone.now()
    return Send.objects.filter(
        provider=provider, created_at__gte=month_start(now), status__in=CONSUMING_STATUSES
    ).count()


def is_due(provider: Provider, now: datetime) -> bool:
    if provider.last_polled_at is None:
        return True
    return (now - provider.last_polled_at).total_seconds() >= provider.poll_interval_seconds


def claim_due(now: datetime | None = None) -> list[Provider]:
    """Enabled providers due for a poll, each claimed (last_polled_at moved) so a second beat run skips it."""
    now = now or timezone.now()
    claimed = []
    for provider in Provider.objects.filter(enabled=True).order_by("pk"):
        if not is_due(provider, now):
            continue
        if Provider.objects.filter(pk=provider.pk, last_polled_at=provider.last_polled_at).update(last_polled_at=now):
            provider.last_polled_at = now
            claimed.append(provider)
    return claimed


def poll_due_providers(now: datetime | None = None) -> list[BalanceSnapshot]:
    """Poll every due provider here and now, one after the other (the beat task fans out instead)."""
    snapshots = []
    for provider in claim_due(now):
        try:
            snapshots.append(poll_provider(provider))
        except Exception:
            log.exception("balance poll of %s failed", provider.slug)
    return snapshots
