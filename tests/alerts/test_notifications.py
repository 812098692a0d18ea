"""Notifications: watcher emails and signed webhooks, retried with backoff, never touching the alert."""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
from datetime import timedelta

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from messaging.alerts import lifecycle as alerts
from messaging.alerts import notify
from messaging.alerts.notify import BACKOFF_SECONDS, create_webhook
from messaging.models import Alert, Notification, Provider, WebhookEndpoint

pytestmark = pytest.mark.django_db


class FailingBackend(BaseEmailBackend):
    def send_messages(self, messages):
        raise smtplib.SMTPServerDisconnected("connection unexpectedly closed")


@pytest.fixture
def provider(watcher):
    provider = Provider.objects.create(name="23 Telecom EU", slug="eu", kind="23telecom")
    provider.watchers.add(watcher)
    return provider


@pytest.fixture
def open_alert(provider, eager_celery, django_capture_on_commit_callbacks):
    """Open (or escalate) an alert and run what its commit triggers: delivery, inline."""

    def run(severity="warning", title="23 Telecom EU: Low balance — balance 40.00 EUR below warning 50.00"):
        with django_capture_on_commit_callbacks(execute=True):
            return alerts.raise_condition(provider, "low_balance", severity, title, {"amount": "40.00"})

    return run


def verify(secret: str, headers: dict, body: bytes) -> bool:
    """What a receiver does (docs/alerts.md)."""
    timestamp = headers["X-Sendwatch-Timestamp"]
    expected = "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["X-Sendwatch-Signature"])


def test_watchers_with_an_email_are_emailed(provider, open_alert, django_user_model):
    no_email = django_user_model.objects.create_user("quiet", "", "a-long-test-password")
    gone = django_user_model.objects.create_user("gone", "gone@example.com", "a-long-test-password", is_active=False)
    provider.watchers.add(no_email, gone)
    alert = open_alert()
    [message] = mail.outbox
    assert message.to == ["ops@example.com"]
    assert message.subject == f"[Sendwatch] WARNING: {alert.title}"
    assert "Provider:  23 Telecom EU" in message.body and "amount: 40.00" in message.body
    assert f"/alerts/{alert.pk}/" in message.body
    notification = Notification.objects.get()
    assert (notification.state, notification.attempts, notification.channel) == ("sent", 1, "email")
    assert notification.sent_at is not None and notification.alert_event.kind == "opened"


def test_a_webhook_gets_signed_slack_compatible_json(provider, open_alert, receiver):
    endpoint, secret = create_webhook(receiver.url)  # every provider's alerts
    alert = open_alert("critical")
    [request] = receiver.requests
    headers, body = request["headers"], request["body"]
    assert verify(secret, headers, body)
    assert not verify("another-secret", headers, body)
    assert abs(int(headers["X-Sendwatch-Timestamp"]) - timezone.now().timestamp()) < 30
    assert headers["X-Sendwatch-Event"] == "opened" and headers["Content-Type"] == "application/json"
    data = json.loads(body)
    assert data["text"].startswith(f"[CRITICAL] {alert.title} (opened) <http")
    assert {k: data[k] for k in ("alert_id", "kind", "severity", "state", "provider", "title", "event")} == {
        "alert_id": alert.pk,
        "kind": "low_balance",
        "severity": "critical",
        "state": "open",
        "provider": "eu",
        "title": alert.title,
        "event": "opened",
    }
    assert data["url"].endswith(f"/alerts/{alert.pk}/")
    assert Notification.objects.get(webhook=endpoint).state == "sent"


def test_only_the_providers_and_global_enabled_webhooks_are_called(provider, open_alert, receiver):
    other = Provider.objects.create(name="8x8", slug="apac", kind="8x8")
    create_webhook(receiver.url + "?mine", provider)
    create_webhook(receiver.url + "?all")
    create_webhook(receiver.url + "?other", other)
    off, _ = create_webhook(receiver.url + "?off")
    WebhookEndpoint.objects.filter(pk=off.pk).update(enabled=False)
    open_alert()
    assert sorted(r["path"].split("?")[1] for r in receiver.requests) == ["all", "mine"]


def test_a_failed_webhook_is_retried_with_backoff_then_succeeds(provider, open_alert, receiver):
    create_webhook(receiver.url)
    receiver.statuses = [500]
    open_alert()
    notification = Notification.objects.get(channel="webhook")
    assert (notification.state, notification.attempts) == ("pending", 1)
    assert notification.last_error.startswith("HTTP 500")
    wait = (notification.next_attempt_at - timezone.now()).total_seconds()
    assert BACKOFF_SECONDS[0] - 5 < wait <= BACKOFF_SECONDS[0]
    assert notify.deliver_due().sent == 0  # not due yet
    report = notify.deliver_due(now=notification.next_attempt_at)
    assert (report.sent, report.retrying) == (1, 0)
    notification.refresh_from_db()
    assert (notification.state, notification.attempts, notification.last_error) == ("sent", 2, "")
    assert len(receiver.requests) == 2
    assert receiver.requests[0]["body"] == receiver.requests[1]["body"]


def test_a_webhook_that_keeps_failing_gives_up_visibly_and_the_alert_is_untouched(provider, open_alert, receiver):
    create_webhook(receiver.url)
    receiver.statuses = [503] * 10
    alert = open_alert()
    notification = Notification.objects.get(channel="webhook")
    waits = []
    while notification.state == "pending":
        waits.append(round((notification.next_attempt_at - timezone.now()).total_seconds() / 10) * 10)
        notify.deliver_due(now=notification.next_attempt_at + timedelta(seconds=1))
        notification.refresh_from_db()
    assert waits == list(BACKOFF_SECONDS)
    assert (notification.state, notification.attempts) == ("failed", 6)
    assert notification.next_attempt_at is None and notification.last_error.startswith("HTTP 503")
    assert len(receiver.requests) == 6
    assert notify.deliver_due(now=timezone.now() + timedelta(days=1)).sent == 0
    alert.refresh_from_db()
    assert (alert.state, alert.severity) == ("open", "warning")
    # The email to the watcher went out regardless.
    assert Notification.objects.get(channel="email").state == "sent"


def test_an_unreachable_or_slow_receiver_fails_the_attempt_not_the_alert(provider, open_alert, receiver, settings):
    settings.SENDWATCH_WEBHOOK_TIMEOUT_SECONDS = 0.3
    receiver.hang = True
    create_webhook(receiver.url)
    create_webhook("http://127.0.0.1:9/nothing-listens-here")
    alert = open_alert()
    errors = sorted(Notification.objects.filter(channel="webhook").values_list("last_error", flat=True))
    assert errors == ["could not POST: ConnectionError", "no answer within 0.3 s"]
    assert Alert.objects.get(pk=alert.pk).state == "open"


def test_a_failing_mail_server_is_retried_like_a_webhook(provider, open_alert, settings):
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.FailingBackend"}}
    alert = open_alert()
    notification = Notification.objects.get()
    assert (notification.state, notification.attempts) == ("pending", 1)
    assert "SMTPServerDisconnected" in notification.last_error
    assert Alert.objects.get(pk=alert.pk).state == "open"


def test_a_deleted_endpoint_fails_at_once(provider, open_alert, receiver):
    endpoint, _ = create_webhook(receiver.url)
    receiver.statuses = [500]
    open_alert()
    endpoint.delete()
    notification = Notification.objects.get(channel="webhook")
    notify.deliver_due(now=notification.next_attempt_at)
    notification.refresh_from_db()
    assert (notification.state, notification.last_error) == ("failed", "the webhook endpoint was deleted")


def test_escalation_and_resolution_notify_but_acknowledging_does_not(provider, open_alert, receiver, watcher):
    create_webhook(receiver.url)
    alert = open_alert()
    alerts.acknowledge(alert, watcher, "mine")
    open_alert("critical")
    open_alert("critical")
    alerts.clear_condition(provider, "low_balance", note="topped up")
    notify.deliver_due()
    assert [json.loads(r["body"])["event"] for r in receiver.requests] == ["opened", "escalated", "resolved"]
    resolved = json.loads(receiver.requests[-1]["body"])
    assert resolved["state"] == "resolved" and resolved["text"].startswith("[RESOLVED]")
    assert "topped up" in resolved["text"]
    assert [m.subject.split(":")[0] for m in mail.outbox] == [
        "[Sendwatch] WARNING",
        "[Sendwatch] ESCALATED to CRITICAL",
        "[Sendwatch] RESOLVED",
    ]


def test_create_webhook_prints_the_secret_once_and_stores_it_sealed(provider, capsys):
    call_command("create_webhook", "https://hooks.example.com/sendwatch", "--provider", "eu")
    out = capsys.readouterr().out
    secret = out.split("shown once, keep it in the receiver's configuration):\n")[1].split("\n")[0]
    assert len(secret) >= 40
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.provider, endpoint.secret_hint) == (provider, secret[-4:])
    assert secret not in endpoint.secret_ciphertext
    call_command("list_webhooks")
    listing = capsys.readouterr().out
    assert "https://hooks.example.com/sendwatch" in listing and f"…{secret[-4:]}" in listing
    assert secret not in listing
    with pytest.raises(CommandError):
        call_command("create_webhook", "ftp://example.com/x")
    with pytest.raises(CommandError):
        call_command("create_webhook", "https://example.com/x", "--provider", "nope")


def test_the_webhook_admin_never_shows_the_secret_and_cannot_add(client, admin_user, receiver):
    endpoint, secret = create_webhook(receiver.url)
    client.force_login(admin_user)
    page = client.get(reverse("admin:messaging_webhookendpoint_change", args=[endpoint.pk]))
    assert page.status_code == 200
    assert endpoint.secret_ciphertext.encode() not in page.content and secret.encode() not in page.content
    assert client.get(reverse("admin:messaging_webhookendpoint_add")).status_code == 403
    listing = client.get(reverse("admin:messaging_notification_changelist") + "?state__exact=failed")
    assert listing.status_code == 200
