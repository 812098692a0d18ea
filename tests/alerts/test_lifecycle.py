"""The alert lifecycle: dedupe, escalation, easing, hysteresis, automatic and manual resolution."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from messaging.alerts import balances
from messaging.alerts import lifecycle as alerts
from messaging.alerts.lifecycle import AlertStateError
from messaging.models import Alert, AlertEvent, Notification, Provider

pytestmark = pytest.mark.django_db

THRESHOLDS = {"balance_warning": Decimal(50), "balance_critical": Decimal(20)}


@pytest.fixture
def provider(sim, make_provider, watcher):
    provider = make_provider("23telecom", sim.root, **THRESHOLDS)
    provider.watchers.add(watcher)
    return provider


@pytest.fixture
def poll(sim, provider, eager_celery, django_capture_on_commit_callbacks):
    """Set the simulated balance, poll, and deliver what the commit queues."""

    def run(balance=None):
        if balance is not None:
            sim.configure(provider, balance=balance)
        with django_capture_on_commit_callbacks(execute=True):
            balances.poll_provider(provider)
        return Alert.objects.filter(provider=provider).order_by("pk").last()

    return run


def events(alert):
    return list(alert.events.values_list("kind", flat=True))


def test_many_polls_keep_one_alert_whose_last_seen_moves(poll):
    first = poll(40)
    seen = [first.last_seen_at]
    for _ in range(4):
        alert = poll(40)
        seen.append(alert.last_seen_at)
    assert Alert.objects.count() == 1 and alert.pk == first.pk
    assert seen == sorted(seen) and seen[-1] > seen[0]
    assert alert.opened_at == first.opened_at
    assert events(alert) == ["opened"]
    assert len(mail.outbox) == 1


def test_warning_escalates_to_critical_and_notifies_again_even_when_acknowledged(poll, watcher):
    alert = poll(40)
    alerts.acknowledge(alert, watcher, "topping up tomorrow")
    assert Alert.objects.get(pk=alert.pk).state == Alert.State.ACKNOWLEDGED
    escalated = poll(10)
    assert escalated.pk == alert.pk
    assert (escalated.severity, escalated.state, escalated.notified_severity) == ("critical", "open", "critical")
    assert escalated.escalated_at is not None
    assert events(escalated) == ["opened", "acknowledged", "escalated"]
    assert [m.subject.split(":")[0] for m in mail.outbox] == [
        "[Sendwatch] WARNING",
        "[Sendwatch] ESCALATED to CRITICAL",
    ]
    event = escalated.events.get(kind="escalated")
    assert event.notifications.get().recipient == "ops@example.com"
    # Staying critical notifies nobody again.
    poll(9)
    assert len(mail.outbox) == 2


def test_a_balance_hovering_around_the_warning_does_not_flap(poll):
    alert = poll(45)
    for balance in (53, 49, 54.9, 51):  # all below warning x 1.1 = 55
        assert poll(balance).state == Alert.State.OPEN
    resolved = poll(55)
    assert resolved.pk == alert.pk and resolved.state == Alert.State.RESOLVED
    assert events(resolved) == ["opened", "resolved"]
    assert resolved.resolve_note == "Balance 55.00 EUR, at 55.00"  # what resolved it
    assert Alert.objects.count() == 1


def test_critical_eases_to_warning_only_past_the_margin_and_after_a_while(poll, settings):
    alert = poll(15)
    assert alert.severity == "critical"
    assert poll(21).severity == "critical"  # above 20 but below 20 x 1.1
    assert "easing_since" not in Alert.objects.get(pk=alert.pk).details
    held = poll(30)
    assert held.severity == "critical" and "easing_since" in held.details
    assert poll(10).details.get("easing_since") is None  # critical again: the clock restarts
    poll(30)
    since = timezone.now() - timedelta(seconds=settings.SENDWATCH_ALERT_EASE_AFTER_SECONDS + 1)
    Alert.objects.filter(pk=alert.pk).update(details={"easing_since": since.isoformat()})
    eased = poll(30)
    assert (eased.severity, eased.notified_severity) == ("warning", "warning")
    assert events(eased) == ["opened", "de_escalated"]
    assert "easing_since" not in eased.details


def test_a_top_up_resolves_the_alert_and_notifies(poll, sim, provider):
    alert = poll(10)
    sim.topup(provider, 100)
    with_topup = poll()
    assert with_topup.pk == alert.pk and with_topup.state == Alert.State.RESOLVED
    assert with_topup.resolved_by is None and with_topup.resolved_at is not None
    resolved = with_topup.events.get(kind="resolved")
    assert resolved.notifications.get().state == Notification.State.SENT
    assert mail.outbox[-1].subject.startswith("[Sendwatch] RESOLVED")
    assert Provider.objects.get(pk=provider.pk).status == "ok"


def test_manual_acknowledge_and_resolve_record_who_and_why(poll, watcher):
    alert = poll(40)
    alerts.acknowledge(alert, watcher, "on it")
    alerts.resolve(alert, watcher, "paid the invoice")
    alert.refresh_from_db()
    assert (alert.state, alert.acknowledged_by, alert.acknowledge_note) == ("resolved", watcher, "on it")
    assert (alert.resolved_by, alert.resolve_note) == (watcher, "paid the invoice")
    rows = list(alert.events.values_list("kind", "actor", "note"))
    assert rows[1:] == [("acknowledged", watcher.pk, "on it"), ("resolved", watcher.pk, "paid the invoice")]
    with pytest.raises(AlertStateError):
        alerts.resolve(alert, watcher, "again")
    with pytest.raises(AlertStateError):
        alerts.acknowledge(alert, watcher, "late")
    # The balance is still low: the next poll opens a new alert; the resolved one stays as history.
    again = poll(40)
    assert again.pk != alert.pk and again.state == Alert.State.OPEN
    assert Alert.objects.count() == 2


def test_raise_and_clear_by_key_suffix(provider):
    one = alerts.raise_condition(provider, "error_spike", "warning", "A", {"x": Decimal("1.5")}, key_suffix=":sms")
    two = alerts.raise_condition(provider, "error_spike", "warning", "B", key_suffix=":whatsapp")
    assert one.dedupe_key == f"error_spike:{provider.slug}:sms" and one.details == {"x": "1.5"}
    assert one.pk != two.pk
    assert alerts.clear_condition(provider, "error_spike", key_suffix=":sms", note="ok").pk == one.pk
    assert alerts.clear_condition(provider, "error_spike", key_suffix=":sms") is None
    assert Alert.objects.get(pk=two.pk).state == "open"
    assert AlertEvent.objects.filter(alert=one).count() == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_raisers_share_one_alert():
    import threading

    from django.db import connection

    provider = Provider.objects.create(name="Race", slug="race", kind="23telecom")
    barrier = threading.Barrier(4)
    results, errors = [], []

    def raiser():
        try:
            barrier.wait(timeout=5)
            results.append(alerts.raise_condition(provider, "low_balance", "warning", "Race: low").pk)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=raiser) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert len(results) == 4 and len(set(results)) == 1
    assert Alert.objects.count() == 1 and AlertEvent.objects.filter(kind="opened").count() == 1
