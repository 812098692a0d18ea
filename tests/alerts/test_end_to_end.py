"""End to end: drain a simulated 23 Telecom balance by sending, run the beat tasks, watch one alert live and die."""

from __future__ import annotations

import hashlib
import hmac
import json
from decimal import Decimal

import pytest
from django.core import mail

from messaging import tasks
from messaging.alerts.notify import create_webhook
from messaging.models import Alert, Notification, Provider

pytestmark = pytest.mark.django_db


def test_a_draining_balance_warns_escalates_notifies_and_resolves_after_a_top_up(
    sim, make_provider, send_now, watcher, receiver, eager_celery, django_capture_on_commit_callbacks
):
    provider = make_provider(
        "23telecom",
        sim.root,
        slug="eu",
        balance_warning=Decimal(6),
        balance_critical=Decimal(3),
        poll_interval_seconds=0,  # due at every beat tick, so the test needs no clock
    )
    provider.watchers.add(watcher)
    _, secret = create_webhook(receiver.url, provider)
    sim.configure(provider, balance=10, cost_per_message=1)

    def beat():
        """One round of the beat schedule, with what its commits trigger, as the worker would run it."""
        with django_capture_on_commit_callbacks(execute=True):
            tasks.poll_due_providers()
            tasks.evaluate_spikes()
            tasks.deliver_notifications()
        provider.refresh_from_db()
        return provider.status

    seen = []
    for _ in range(20):
        [send] = send_now(provider)
        assert send.status == "accepted"
        status = beat()
        if not seen or seen[-1] != status:
            seen.append(status)
        if status == "critical":
            break
    assert seen == ["ok", "low", "critical"]
    assert "Balance 2.00 EUR, below the critical 3.00" in provider.status_detail

    sim.topup(provider, 50)
    assert beat() == "ok"

    [alert] = Alert.objects.all()  # one alert row throughout
    assert (alert.kind, alert.state, alert.severity) == ("low_balance", "resolved", "critical")
    assert list(alert.events.values_list("kind", "severity")) == [
        ("opened", "warning"),
        ("escalated", "critical"),
        ("resolved", "critical"),
    ]
    assert [m.subject.split(":")[0] for m in mail.outbox] == [
        "[Sendwatch] WARNING",
        "[Sendwatch] ESCALATED to CRITICAL",
        "[Sendwatch] RESOLVED",
    ]
    assert all(m.to == ["ops@example.com"] for m in mail.outbox)
    bodies = []
    for request in receiver.requests:
        headers, body = request["headers"], request["body"]
        signed = f"{headers['X-Sendwatch-Timestamp']}.".encode() + body
        expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["X-Sendwatch-Signature"], expected)
        bodies.append(json.loads(body))
    assert [(b["event"], b["severity"], b["state"], b["alert_id"]) for b in bodies] == [
        ("opened", "warning", "open", alert.pk),
        ("escalated", "critical", "open", alert.pk),
        ("resolved", "critical", "resolved", alert.pk),
    ]
    assert set(Notification.objects.values_list("state", flat=True)) == {"sent"}
    assert Provider.objects.get(pk=provider.pk).balance_snapshots.latest().amount == Decimal(52)
