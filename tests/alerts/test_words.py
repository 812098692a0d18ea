"""An alert's words are facts about the alert: its title, status and notifications say, from the reading
that set it, why it has its severity now; a notification says what its event said, byte for byte on
every retry; links follow SENDWATCH_BASE_URL; code links open the Errors page on the alert's own window."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import smtplib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.urls import reverse
from django.utils import timezone

from messaging.alerts import lifecycle as alerts
from messaging.alerts import notify
from messaging.alerts.notify import create_webhook
from messaging.alerts.runway import Runway
from messaging.alerts.spikes import evaluate_spikes, evidence_window
from messaging.models import Alert, AlertEvent, BalanceSnapshot, ErrorEvent, Notification, Provider, Send
from messaging.traffic import rollups

pytestmark = pytest.mark.django_db

NO_THRESHOLDS = {
    "balance_warning": None,
    "balance_critical": None,
    "quota_warning_percent": None,
    "quota_critical_percent": None,
    "runway_warning_hours": None,
    "runway_critical_hours": None,
}
LINK = re.compile(r"https?://[^\s\"'<>|]+")


class FailingBackend(BaseEmailBackend):
    def send_messages(self, messages):
        raise smtplib.SMTPServerDisconnected("connection unexpectedly closed")


@pytest.fixture
def deliver(eager_celery, django_capture_on_commit_callbacks):
    """Run a lifecycle call and what its commit triggers (notification delivery), as a worker would."""

    def run(call, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return call(*args, **kwargs)

    return run


@pytest.fixture
def money(watcher):
    provider = Provider.objects.create(
        name="Acme EU", slug="acme-eu", kind="23telecom", currency="EUR", **{**NO_THRESHOLDS, "balance_warning": 225}
    )
    provider.watchers.add(watcher)
    return provider


@pytest.fixture
def plan(watcher):
    provider = Provider.objects.create(
        name="Acme plan",
        slug="acme-plan",
        kind="telnxo",
        **{**NO_THRESHOLDS, "quota_warning_percent": 80, "quota_critical_percent": 95, "runway_critical_hours": 24},
    )
    provider.watchers.add(watcher)
    return provider


@pytest.fixture
def poll(deliver):
    """One balance reading evaluated as balances.poll_provider does (status included), notifications delivered."""

    def run(provider, *, amount=None, used=None, limit=None, runway=None, at=None):
        snapshot = BalanceSnapshot.objects.create(
            provider=provider,
            fetched_at=at or timezone.now(),
            amount=None if amount is None else Decimal(str(amount)),
            currency="messages" if limit is not None else "EUR",
            used=used,
            limit=limit,
        )

        def evaluate():
            evaluation = alerts.evaluate_balance_thresholds(provider, snapshot, runway)
            alerts.set_status(provider, evaluation.status, evaluation.detail, snapshot.fetched_at)

        deliver(evaluate)
        provider.refresh_from_db()
        return Alert.objects.filter(provider=provider).order_by("pk").last()

    return run


def plan_runway(hours_left: float) -> Runway:
    now = timezone.now()
    return Runway(100.0, hours_left, now + timedelta(hours=hours_left), "test", "messages", remaining=hours_left * 100)


def verify(secret: str, headers: dict, body: bytes) -> bool:
    """What a receiver does (docs/alerts.md)."""
    signed = headers["X-Sendwatch-Timestamp"].encode() + b"." + body
    expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["X-Sendwatch-Signature"])


def strings(value) -> list[str]:
    """Every string in a decoded JSON value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return []


# -- held open by hysteresis, and resolved -------------------------------------------------------


def test_an_alert_held_open_by_hysteresis_says_so_in_its_title_status_and_details(money, poll):
    alert = poll(money, amount=200)
    assert alert.title == "Acme EU: Balance 200.00 EUR, below the warning 225.00"
    assert money.status == "low" and money.status_detail == "Balance 200.00 EUR, below the warning 225.00"

    held = poll(money, amount=230)
    words = "Balance 230.00 EUR, back above the warning 225.00; clears at 247.50 (hysteresis 10 %)"
    assert held.pk == alert.pk and held.state == Alert.State.OPEN and held.severity == "warning"
    assert held.title == f"Acme EU: {words}"
    assert "below" not in held.title
    assert (money.status, money.status_detail) == ("low", words)
    assert held.details["reasons"] == [words]
    # Still held just under the clearing point, in the new reading's words.
    assert poll(money, amount=247).title == f"Acme EU: {words.replace('230.00', '247.00')}"
    # Nobody is told about a held alert: only the opening was notified.
    [opened] = mail.outbox
    assert opened.subject == "[Sendwatch] WARNING: Acme EU: Balance 200.00 EUR, below the warning 225.00"


def test_the_resolved_notification_says_what_resolved_it(money, poll, receiver):
    create_webhook(receiver.url)
    poll(money, amount=200)
    poll(money, amount=247)
    resolved = poll(money, amount=250)
    assert resolved.state == Alert.State.RESOLVED
    assert resolved.resolve_note == "Balance 250.00 EUR, above 247.50"
    assert money.status == "ok"
    subject = mail.outbox[-1].subject
    assert subject == "[Sendwatch] RESOLVED: Acme EU: Balance 250.00 EUR, above 247.50: resolved"
    assert "247.00" not in subject and "below" not in subject
    assert mail.outbox[-1].body.startswith("Acme EU: Balance 250.00 EUR, above 247.50: resolved\n")
    body = json.loads(receiver.requests[-1]["body"])
    assert body["event"] == "resolved" and body["summary"] == "Acme EU: Balance 250.00 EUR, above 247.50: resolved"
    assert body["text"].startswith("[RESOLVED] Acme EU: Balance 250.00 EUR, above 247.50: resolved <http")


def test_resolved_by_hand_says_who_and_why(money, poll, deliver, watcher):
    alert = poll(money, amount=200)
    deliver(alerts.resolve, alert, watcher, "paid the invoice")
    assert mail.outbox[-1].subject == "[Sendwatch] RESOLVED: Acme EU: Low balance resolved by ops: paid the invoice"


def test_a_critical_waiting_to_ease_says_why_it_is_still_critical(money, poll):
    Provider.objects.filter(pk=money.pk).update(balance_critical=100)
    money.refresh_from_db()
    assert poll(money, amount=50).title == "Acme EU: Balance 50.00 EUR, below the critical 100.00"
    assert poll(money, amount=105).title == (
        "Acme EU: Balance 105.00 EUR, back above the critical 100.00; eases at 110.00 (hysteresis 10 %)"
    )
    easing = poll(money, amount=150)
    assert easing.severity == "critical"
    assert easing.title == (
        "Acme EU: Balance 150.00 EUR, below the warning 225.00"
        " — still critical: eases to warning once this holds for 10 min"
    )


# -- the reason that set the severity -----------------------------------------------------------------


def test_a_runway_driven_critical_is_titled_by_the_runway_not_the_quota(plan, poll):
    alert = poll(plan, used=41_000, limit=50_000, runway=plan_runway(15))
    quota_words = "Plan quota: 82 % used (41,000 of 50,000 messages), warning at 80 %"
    assert alert.severity == "critical"
    assert alert.title == "Acme plan: Plan quota: runs out in ~15 hours (critical under 24 h)"
    assert alert.details["reasons"] == ["Plan quota: runs out in ~15 hours (critical under 24 h)", quota_words]
    assert plan.status == "critical" and plan.status_detail.startswith("Plan quota: runs out in ~15 hours")
    assert mail.outbox[-1].subject == f"[Sendwatch] CRITICAL: {alert.title}"


def test_a_quota_driven_warning_is_titled_by_the_quota(plan, poll):
    alert = poll(plan, used=41_000, limit=50_000, runway=plan_runway(200))
    assert alert.severity == "warning"
    assert alert.title == "Acme plan: Plan quota: 82 % used (41,000 of 50,000 messages), warning at 80 %"


def test_rounding_never_puts_a_value_on_the_wrong_side_of_its_threshold(plan, poll):
    alert = poll(plan, used=7_996, limit=10_000)  # 79.96 %: not "80 % used, warning at 80 %"
    assert alert is None
    alert = poll(plan, used=8_000, limit=10_000)
    assert alert.title.endswith("80 % used (8,000 of 10,000 messages), warning at 80 %")
    held = poll(plan, used=7_996, limit=10_000)
    assert "79.96 % used" in held.title and "back under the warning 80 %; clears under 72.7 %" in held.title
    critical = poll(plan, used=8_000, limit=10_000, runway=plan_runway(23.6))  # not "~24 hours (critical under 24 h)"
    assert critical.title == "Acme plan: Plan quota: runs out in ~23.6 hours (critical under 24 h)"


# -- the payload is fixed at the event -------------------------------------------------------------------


def test_a_retried_webhook_sends_the_first_attempts_bytes_even_after_the_alert_escalated(plan, poll, receiver):
    endpoint, secret = create_webhook(receiver.url)
    Provider.objects.filter(pk=plan.pk).update(runway_critical_hours=None)
    plan.refresh_from_db()
    receiver.statuses = [500]  # the first attempt of the "opened" webhook fails
    alert = poll(plan, used=149, limit=180)
    assert alert.severity == "warning"
    first = Notification.objects.get(webhook=endpoint, alert_event__kind="opened")
    assert (first.state, first.attempts) == ("pending", 1)

    escalated = poll(plan, used=173, limit=180)  # delivered at once
    assert escalated.pk == alert.pk and escalated.severity == "critical"
    assert "173 of 180" in escalated.title

    notify.deliver_due(now=first.next_attempt_at)
    first.refresh_from_db()
    assert (first.state, first.attempts) == ("sent", 2)
    by_delivery: dict[str, list[dict]] = {}
    for request in receiver.requests:
        by_delivery.setdefault(request["headers"]["X-Sendwatch-Delivery"], []).append(request)
    attempt_1, retry = by_delivery[str(first.pk)]
    assert retry["body"] == attempt_1["body"]  # byte for byte
    assert verify(secret, attempt_1["headers"], attempt_1["body"]) and verify(secret, retry["headers"], retry["body"])
    data = json.loads(retry["body"])
    assert (data["event"], data["severity"]) == ("opened", "warning")
    assert data["text"].startswith(
        "[WARNING] Acme plan: Plan quota: 83 % used (149 of 180 messages), warning at 80 % (opened) <http"
    )
    assert b"173 of 180" not in retry["body"]
    # The escalation said its own words.
    [escalation] = [json.loads(r["body"]) for r in receiver.requests if json.loads(r["body"])["event"] == "escalated"]
    assert escalation["text"].startswith(
        "[CRITICAL] Acme plan: Plan quota: 96 % used (173 of 180 messages), critical at 95 % (escalated to critical)"
    )


def test_a_retried_email_sends_what_the_event_said(money, poll, settings):
    working = settings.MAILERS
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.FailingBackend"}}
    alert = poll(money, amount=200)
    email = Notification.objects.get(alert_event__alert=alert, channel="email")
    assert email.state == "pending"
    poll(money, amount=230)  # the title changes (held by hysteresis)
    settings.MAILERS = working
    notify.deliver_due(now=email.next_attempt_at)
    [message] = mail.outbox
    assert message.subject == "[Sendwatch] WARNING: Acme EU: Balance 200.00 EUR, below the warning 225.00"
    stored = AlertEvent.objects.get(pk=email.alert_event_id).details["notification"]
    assert (message.subject, message.body) == (stored["subject"], stored["email"])


# -- links -----------------------------------------------------------------------------------------------------


def test_every_link_in_emails_and_webhooks_starts_with_the_base_url_of_the_event(
    money, deliver, receiver, settings, django_user_model
):
    settings.SENDWATCH_BASE_URL = "http://127.0.0.1:8177"
    create_webhook(receiver.url)
    receiver.statuses = [500]
    refused = ErrorEvent(provider=money, error_code="INVALID_API_KEY", category="auth", http_status=401, message="no")
    [alert] = deliver(alerts.errors_recorded, money, [refused])
    traffic_spike(money, timezone.now())
    deliver(evaluate_spikes)
    spike = Alert.objects.get(provider=money, kind="error_spike")

    settings.SENDWATCH_BASE_URL = "http://sendwatch.example:9000"  # changed after the events: the stored links stay
    for notification in Notification.objects.filter(state="pending"):
        notify.deliver_due(now=notification.next_attempt_at)

    links = [link for m in mail.outbox for link in LINK.findall(m.body)]
    for request in receiver.requests:
        links += [link for text in strings(json.loads(request["body"])) for link in LINK.findall(text)]
    assert links and all(link.startswith("http://127.0.0.1:8177/") for link in links), links
    assert f"http://127.0.0.1:8177/alerts/{alert.pk}/" in links
    assert f"http://127.0.0.1:8177/providers/{money.slug}/credentials/" in links
    assert any(link.startswith("http://127.0.0.1:8177/errors/?provider=acme-eu&window=custom") for link in links)
    assert f"http://127.0.0.1:8177/alerts/{spike.pk}/" in links
    assert len(receiver.requests) == 3  # two events, one of them retried


# -- an alert's code links -------------------------------------------------------------------------------------


def traffic_spike(provider, now):
    """100 sends and 16 errors five minutes before ``now``, counted into the rollups as every writer does."""
    at = now - timedelta(minutes=5)
    sends = Send.objects.bulk_create(
        Send(provider=provider, recipient="+447700900001", created_at=at) for _ in range(100)
    )
    errors = ErrorEvent.objects.bulk_create(
        ErrorEvent(provider=provider, occurred_at=at, error_code=code, category="rate_limit", source="send")
        for code, count in (("RATE_LIMIT_EXCEEDED", 12), ("INVALID_TO", 4))
        for _ in range(count)
    )
    rollups.record(sends=sends, errors=errors)


@pytest.mark.parametrize("zone", ["", "Asia/Kathmandu", "America/New_York"])
def test_an_alerts_code_links_open_the_errors_page_for_its_provider_and_window(client, admin_user, zone):
    provider = Provider.objects.create(name="Acme EU", slug="acme-eu", kind="23telecom")
    Provider.objects.create(name="Other", slug="other", kind="8x8")
    now = datetime(2026, 11, 20, 9, 13, 27, tzinfo=UTC)
    traffic_spike(provider, now)
    evaluate_spikes(now)
    alert = Alert.objects.get(provider=provider, kind="error_spike")
    assert evidence_window(alert) == (
        datetime(2026, 11, 20, 8, 55, tzinfo=UTC),
        datetime(2026, 11, 20, 9, 15, tzinfo=UTC),
    )

    client.force_login(admin_user)
    if zone:
        client.cookies["sendwatch_tz"] = zone
    page = client.get(reverse("messaging:alert_detail", args=[alert.pk])).content.decode()
    hrefs = [href.replace("&amp;", "&") for href in re.findall(r'href="([^"]+)"', page)]
    code_links = [href for href in hrefs if href.startswith(reverse("messaging:error_code"))]
    errors_links = [href for href in hrefs if href.startswith(reverse("messaging:errors") + "?")]
    assert len(code_links) == 2 and len(errors_links) == 1
    for href in [*code_links, *errors_links]:
        query = parse_qs(urlsplit(href).query)
        assert (query["provider"], query["window"]) == (["acme-eu"], ["custom"])
        response = client.get(href)
        assert response.status_code == 200, response.content
        window = response.context["form"].cleaned_data["window"]
        # Exactly the alert's 15-minute window (08:58:27 to 09:13:27 UTC), in whole 5-minute buckets.
        assert (window.start, window.end) == evidence_window(alert)
        assert [p.slug for p in response.context["form"].cleaned_data["provider"]] == ["acme-eu"]
    code = parse_qs(urlsplit(code_links[0]).query)
    assert code["code"] == ["RATE_LIMIT_EXCEEDED"]
    assert len(client.get(code_links[0]).context["events"]) == 12
    # The notifications' link names the same window in UTC.
    stored = parse_qs(urlsplit(alert.details["errors_url"]).query)
    assert (stored["start"], stored["end"]) == (["2026-11-20T08:55Z"], ["2026-11-20T09:15Z"])
