"""Celery tasks: thin, take ids only (never secrets), and call the services.

Delivery settings: acks_late with reject_on_worker_lost, so a task whose worker
dies is redelivered; the claim in services.sending makes a redelivery harmless.
Redeliveries cannot loop: every claim counts an attempt on the Send row and
attempts are capped (SENDWATCH_SEND_MAX_ATTEMPTS).
"""

from __future__ import annotations

from celery import shared_task

from messaging.services import sending


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def deliver_sends(send_ids: list[int]) -> None:
    sending.deliver([int(pk) for pk in send_ids])


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def sweep_outbox() -> dict:
    report = sending.sweep_outbox()
    return {"dispatched": report.dispatched, "requeued": report.requeued, "unknown": report.unknown}
