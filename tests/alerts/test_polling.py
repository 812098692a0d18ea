"""Balance polls against the vendor simulator over real HTTP: snapshots, statuses and the alerts they imply."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from messaging.alerts import balances
from messaging.alerts.runway import runway_for
from messaging.models import Alert, BalanceSnapshot, Credential, ErrorEvent, Provider, ProviderStatus, Send
from tests.alerts.conftest import history

pytestmark = pytest.mark.django_db

THRESHOLDS = {"balance_warning": Decimal(50), "balance_critical": Decimal(20)}


def unresolved(provider, kind=None):
    alerts = Alert.objects.filter(provider=provider).exclude(state=Alert.State.RESOLVED)
    return alerts.filter(kind=kind) if kind else alerts


@pytest.mark.parametrize(
    ("balance", "status", "alert"),
    [
        (100, ProviderStatus.OK, None),
        (40, ProviderStatus.LOW, ("low_balance", "warning")),
        (10, ProviderStatus.CRITICAL, ("low_balance", "critical")),
    ],
)
def test_a_poll_stores_the_balance_and_sets_the_status(sim, make_provider, balance, status, alert):
    provider = make_provider("23telecom", sim.root, **THRESHOLDS)
    sim.configure(provider, balance=balance)
    before = timezone.now()
    snapshot = balances.poll_provider(provider)
    provider.refresh_from_db()
    assert (snapshot.ok, snapshot.amount, snapshot.currency) == (True, Decimal(balance), "EUR")
    assert provider.status == status
    assert provider.last_polled_at >= before and provider.status_changed_at >= before
    assert f"{balance}.00 EUR" in provider.status_detail
    found = [(a.kind, a.severity) for a in unresolved(provider)]
    assert found == ([alert] if alert else [])


def test_credit_blocked_is_its_own_status_and_alert(sim, make_provider):
    provider = make_provider("23telecom", sim.root)  # no thresholds at all: blocked still alerts
    sim.configure(provider, balance=0)
    snapshot = balances.poll_provider(provider)
    provider.refresh_from_db()
    assert snapshot.blocked and snapshot.amount == 0
    assert provider.status == ProviderStatus.BLOCKED
    [alert] = unresolved(provider)
    assert (alert.kind, alert.severity) == ("balance_blocked", "critical")
    sim.topup(provider, 30)
    balances.poll_provider(provider)
    provider.refresh_from_db()
    assert provider.status == ProviderStatus.OK
    alert.refresh_from_db()
    assert alert.state == Alert.State.RESOLVED


def test_a_degraded_zero_never_alerts_and_the_runway_keeps_the_last_real_amount(sim, make_provider):
    provider = make_provider("23telecom", sim.root, **THRESHOLDS, runway_critical_hours=1)
    history(provider, [(4, 100), (2, 90)])
    sim.configure(provider, degraded_balance=True)
    for _ in range(3):
        snapshot = balances.poll_provider(provider)
    provider.refresh_from_db()
    assert snapshot.ok and snapshot.unavailable and snapshot.amount is None
    assert snapshot.details["reason"] == "cache_miss_refresh_failed"
    assert provider.status == ProviderStatus.DEGRADED
    assert not Alert.objects.exists()
    runway = runway_for(provider)
    assert runway.remaining == 90.0
    assert runway.burn_per_hour == pytest.approx(5.0)


def test_a_degraded_answer_leaves_an_open_low_balance_alert_alone(sim, make_provider):
    provider = make_provider("23telecom", sim.root, **THRESHOLDS)
    sim.configure(provider, balance=30)
    balances.poll_provider(provider)
    [alert] = unresolved(provider)
    sim.configure(provider, degraded_balance=True)
    balances.poll_provider(provider)
    alert.refresh_from_db()
    assert alert.state == Alert.State.OPEN and alert.severity == "warning"


def test_a_refused_key_on_a_poll_is_credential_failed_with_a_link(sim, make_provider):
    provider = make_provider("23telecom", sim.root)
    sim.configure(provider, valid_keys=["sk_test_some_other_key"])
    snapshot = balances.poll_provider(provider)
    provider.refresh_from_db()
    assert not snapshot.ok and snapshot.error_code == "INVALID_API_KEY"
    assert provider.status == ProviderStatus.CREDENTIAL_FAILED
    [alert] = unresolved(provider)
    assert (alert.kind, alert.severity) == ("credential_failed", "critical")
    assert alert.details["credential_url"] == f"/providers/{provider.slug}/credentials/"
    event = ErrorEvent.objects.get(provider=provider)
    assert (event.source, event.error_code, event.category) == ("balance", "INVALID_API_KEY", "auth")
    # The key works again (fixed at the vendor): the next poll clears it.
    sim.configure(provider, valid_keys=[])
    balances.poll_provider(provider)
    alert.refresh_from_db()
    assert alert.state == Alert.State.RESOLVED


def test_a_provider_without_a_key_is_credential_failed_without_calling_the_vendor(sim, make_provider):
    provider = make_provider("8x8", sim.root)
    Credential.objects.filter(provider=provider).update(state=Credential.State.REVOKED)
    snapshot = balances.poll_provider(provider)
    provider.refresh_from_db()
    assert (snapshot.ok, snapshot.error_code) == (False, "no_credential")
    assert provider.status == ProviderStatus.CREDENTIAL_FAILED
    assert unresolved(provider, "credential_failed").get().title.endswith("no usable API key")
    assert not ErrorEvent.objects.exists()  # not a vendor error


def test_unreachable_opens_after_three_failed_polls_turns_critical_after_six_and_clears(sim, make_provider, settings):
    assert settings.SENDWATCH_UNREACHABLE_AFTER_FAILED_POLLS == 3
    provider = make_provider("23telecom", sim.root)
    sim.fail_next(provider, "INTERNAL_ERROR", count=6)
    for poll in range(1, 7):
        snapshot = balances.poll_provider(provider)
        provider.refresh_from_db()
        assert provider.status == ProviderStatus.UNREACHABLE
        alert = unresolved(provider, "unreachable").first()
        if poll < 3:
            assert alert is None
        else:
            assert alert.severity == ("critical" if poll == 6 else "warning")
            assert alert.details["failed_polls"] == poll
    assert (snapshot.ok, snapshot.error_code, snapshot.details["category"]) == (False, "INTERNAL_ERROR", "server")
    assert Alert.objects.filter(kind="unreachable").count() == 1
    balances.poll_provider(provider)
    provider.refresh_from_db()
    alert.refresh_from_db()
    assert provider.status == ProviderStatus.OK and alert.state == Alert.State.RESOLVED


def test_a_dropped_connection_counts_as_unreachable(sim, make_provider):
    provider = make_provider("telephonyio", sim.root)
    sim.fail_next(provider, "disconnect")
    snapshot = balances.poll_provider(provider)
    provider.refresh_from_db()
    assert snapshot.details["category"] == "network"
    assert provider.status == ProviderStatus.UNREACHABLE


def test_a_rate_limited_poll_is_degraded_not_an_alert(sim, make_provider):
    provider = make_provider("23telecom", sim.root)
    sim.fail_next(provider, "RATE_LIMIT_EXCEEDED", count=5)
    for _ in range(5):
        balances.poll_provider(provider)
    provider.refresh_from_db()
    assert provider.status == ProviderStatus.DEGRADED
    assert "RATE_LIMIT_EXCEEDED" in provider.status_detail
    assert not Alert.objects.exists()


def test_telnxo_usage_is_read_as_used_of_limit(sim, make_provider):
    provider = make_provider("telnxo", sim.root)  # quota 80% warning, 95% critical (model defaults)
    sim.configure(provider, quota_limit=50_000, quota_used=42_000)
    snapshot = balances.poll_provider(provider)
    provider.refresh_from_db()
    assert (snapshot.used, snapshot.limit, snapshot.amount, snapshot.currency) == (42_000, 50_000, None, "messages")
    assert "used_source" not in snapshot.details and snapshot.details["plan"] == "growth"
    assert provider.status == ProviderStatus.LOW
    assert unresolved(provider).get().kind == "quota_near"
    sim.configure(provider, quota_used=48_000)
    balances.poll_provider(provider)
    provider.refresh_from_db()
    assert provider.status == ProviderStatus.CRITICAL
    assert unresolved(provider).get().severity == "critical"
    sim.topup(provider)  # quota kinds: the monthly reset
    balances.poll_provider(provider)
    assert not unresolved(provider).exists()


def test_texting_blue_usage_is_counted_from_our_own_sends_this_month(sim, make_provider, send_now):
    provider = make_provider("textingblue", sim.root)
    sim.configure(provider, quota_limit=10)
    sends = send_now(provider, count=9)
    assert {s.status for s in sends} == {"accepted"}
    # A send from last month does not count against this month's plan.
    Send.objects.filter(pk=sends[0].pk).update(created_at=timezone.now() - timedelta(days=40))
    snapshot = balances.poll_provider(provider)
    provider.refresh_from_db()
    assert (snapshot.used, snapshot.limit) == (8, 10)
    assert snapshot.details["used_source"] == "sendwatch"
    assert provider.status == ProviderStatus.LOW  # 80 %
    assert "8 of 10 messages" in provider.status_detail


def test_poll_due_providers_polls_only_enabled_providers_past_their_interval(sim, make_provider):
    due = make_provider("23telecom", sim.root, slug="due")
    fresh = make_provider("8x8", sim.root, slug="fresh", poll_interval_seconds=300)
    make_provider("telephonyio", sim.root, slug="never")
    disabled = make_provider("telnxo", sim.root, slug="off", enabled=False)
    now = timezone.now()
    Provider.objects.filter(pk=due.pk).update(last_polled_at=now - timedelta(seconds=301))
    Provider.objects.filter(pk=fresh.pk).update(last_polled_at=now - timedelta(seconds=100))
    snapshots = balances.poll_due_providers()
    assert sorted(s.provider.slug for s in snapshots) == ["due", "never"]
    assert not BalanceSnapshot.objects.filter(provider__in=[fresh, disabled]).exists()
    # Claimed: a second run right away finds nothing due.
    assert balances.poll_due_providers() == []


def test_the_poll_balances_command_prints_each_result(sim, make_provider, capsys):
    make_provider("23telecom", sim.root, slug="eu", **THRESHOLDS)
    make_provider("telnxo", sim.root, slug="plan")
    call_command("poll_balances", "--all")
    out = capsys.readouterr().out
    assert "eu: ok — balance 100.00 EUR" in out
    assert "plan: ok" in out and "used 0 of 50000 messages" in out
    call_command("poll_balances", "--provider", "eu")
    assert capsys.readouterr().out.startswith("eu: ok")
    assert BalanceSnapshot.objects.count() == 3


def test_a_poll_that_only_works_with_the_retired_key_keeps_credential_failed_open(sim, make_provider):
    from tests.conftest import store_key

    provider = make_provider("23telecom", sim.root)
    store_key(
        provider,
        "sk_test_retired_key_00000000",
        Credential.State.RETIRED,
        retired_at=timezone.now(),
        grace_until=timezone.now() + timedelta(hours=1),
    )
    sim.configure(provider, valid_keys=["sk_test_retired_key_00000000"])  # the new key is refused
    snapshot = balances.poll_provider(provider)
    provider.refresh_from_db()
    assert snapshot.ok and snapshot.amount == 100 and snapshot.details["credential"] == "grace"
    assert provider.status == ProviderStatus.CREDENTIAL_FAILED
    assert "retired key" in unresolved(provider, "credential_failed").get().title
