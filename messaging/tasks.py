"""Celery tasks: thin, take ids only (never secrets), and call the services.

Delivery settings: acks_late with reject_on_worker_lost, so a task whose worker
dies is redelivered; the claim in services.sending makes a redelivery harmless.
Redeliveries cannot loop: every claim counts an attempt on the Send row and
attempts are capped (SENDWATCH_SEND_MAX_ATTEMPTS).
"""

from __future__ import annotations

import logging

from celery import shared_task

from messaging.alerts import balances, key_age, notify, spikes
from messaging.models import Provider
from messaging.traffic import sending
from messaging.vault import keys
from messaging.vault.actor import Actor

log = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def deliver_sends(send_ids: list[int]) -> None:
    sending.deliver([int(pk) for pk in send_ids])


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def deliver_each(send_ids: list[int]) -> None:
    """Sends with bodies of their own (the send API): one vendor call each, one task for many."""
    for pk in send_ids:
        sending.deliver([int(pk)])


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def sweep_outbox() -> dict:
    report = sending.sweep_outbox()
    return {"dispatched": report.dispatched, "requeued": report.requeued, "unknown": report.unknown}


@shared_task(ignore_result=True)
def revoke_expired_credentials() -> int:
    """Beat: revoke retired API keys whose grace period has ended."""
    return keys.revoke_expired(actor=Actor.task("revoke_expired_credentials"))


@shared_task(ignore_result=True)
def check_credential_age() -> dict:
    """Beat (daily): a credential_age warning for every active key older than the policy allows."""
    return key_age.check_ages()


# -- balances, alerts and notifications (docs/alerts.md) --------------------------------


@shared_task(ignore_result=True)
def poll_due_providers() -> list[int]:
    """Beat (every minute): claim the providers due for a balance poll and poll each in its own task."""
    ids = [provider.pk for provider in balances.claim_due()]
    for pk in ids:
        try:
            poll_provider.apply_async(args=(pk,))
        except Exception:  # broker away: the provider is polled again after its interval
            log.warning("could not enqueue the balance poll of provider %s", pk, exc_info=True)
    return ids


@shared_task(ignore_result=True)
def poll_provider(provider_id: int) -> str | None:
    """Poll one provider's balance now; returns "ok" or the error code."""
    provider = Provider.objects.filter(pk=provider_id).first()
    if provider is None:
        return None
    return balances.poll_provider(provider).error_code or "ok"


@shared_task(ignore_result=True)
def evaluate_spikes() -> dict:
    """Beat (every minute): error-spike alerts for every enabled provider."""
    report = spikes.evaluate_spikes()
    return {"raised": [a.pk for a in report.raised], "cleared": [a.pk for a in report.cleared]}


@shared_task(ignore_result=True)
def deliver_notifications(notification_ids: list[int] | None = None) -> dict:
    """Deliver due alert emails and webhooks (these ids only, when given); beat retries every 30 s."""
    ids = [int(pk) for pk in notification_ids] if notification_ids is not None else None
    report = notify.deliver_due(ids)
    return {"sent": report.sent, "retrying": report.retrying, "failed": report.failed}
