"""Errors that open alerts at once, from the send path (not at the next poll)."""

from __future__ import annotations

import pytest
from django.core import mail

from messaging.alerts import balances
from messaging.alerts import lifecycle as alerts
from messaging.models import Alert, ErrorEvent, Provider, ProviderStatus, SendStatus
from providers import Category, NormalizedError

pytestmark = pytest.mark.django_db


def unresolved(provider):
    return list(Alert.objects.filter(provider=provider).exclude(state=Alert.State.RESOLVED))


def test_insufficient_balance_on_a_send_opens_a_critical_alert_at_once(sim, make_provider, send_now, watcher):
    provider = make_provider("23telecom", sim.root)  # no balance thresholds: the refusal alone is enough
    provider.watchers.add(watcher)
    sim.configure(provider, balance=0.01)
    [send] = send_now(provider)
    assert (send.status, send.error_code) == (SendStatus.FAILED, "INSUFFICIENT_BALANCE")
    [alert] = unresolved(provider)
    assert (alert.kind, alert.severity, alert.dedupe_key) == ("low_balance", "critical", f"low_balance:{provider.slug}")
    assert "INSUFFICIENT_BALANCE" in alert.title
    assert alert.details["vendor_details"]["balance"] == "0.01"
    assert Provider.objects.get(pk=provider.pk).status == ProviderStatus.CRITICAL
    assert [m.to for m in mail.outbox] == [["ops@example.com"]]
    # More refusals: still one alert.
    send_now(provider, count=3)
    assert [a.pk for a in unresolved(provider)] == [alert.pk]
    assert ErrorEvent.objects.filter(provider=provider, error_code="INSUFFICIENT_BALANCE").count() == 4


def test_a_refusal_stays_critical_at_the_next_poll_until_a_top_up(sim, make_provider, send_now):
    provider = make_provider("23telecom", sim.root)
    sim.configure(provider, balance=0.01)
    send_now(provider)
    [alert] = unresolved(provider)
    balances.poll_provider(provider)  # 0.01 EUR and no thresholds: only the refusal keeps it open
    alert.refresh_from_db()
    assert alert.state == Alert.State.OPEN and alert.severity == "critical"
    assert "refused sends (INSUFFICIENT_BALANCE)" in alert.details["reasons"][0]
    assert Provider.objects.get(pk=provider.pk).status == ProviderStatus.CRITICAL
    sim.topup(provider, 20)
    balances.poll_provider(provider)
    alert.refresh_from_db()
    assert alert.state == Alert.State.RESOLVED
    assert Provider.objects.get(pk=provider.pk).status == ProviderStatus.OK


def test_an_accepted_send_after_the_refusal_also_ends_it(sim, make_provider, send_now):
    provider = make_provider("telephonyio", sim.root)
    sim.configure(provider, balance=0.01)
    send_now(provider)
    [alert] = unresolved(provider)
    assert alert.details["error_code"] == "insufficient_balance"
    sim.configure(provider, balance=0.5)
    assert send_now(provider)[0].status == SendStatus.ACCEPTED
    balances.poll_provider(provider)
    alert.refresh_from_db()
    assert alert.state == Alert.State.RESOLVED


def test_texting_blue_plan_limit_opens_quota_near_critical(sim, make_provider, send_now):
    provider = make_provider("textingblue", sim.root, quota_warning_percent=None, quota_critical_percent=None)
    sim.configure(provider, quota_limit=2)
    sends = send_now(provider, count=3)
    assert [s.status for s in sends] == ["accepted", "accepted", "failed"]
    [alert] = unresolved(provider)
    assert (alert.kind, alert.severity) == ("quota_near", "critical")
    assert "plan_limit_exceeded" in alert.title
    assert alert.details["vendor_details"]["upgrade_url"].startswith("https://")
    # The next poll (limit 2, 2 of our sends) keeps it; a plan upgrade clears it.
    balances.poll_provider(provider)
    alert.refresh_from_db()
    assert alert.state == Alert.State.OPEN
    sim.configure(provider, quota_limit=1000)
    balances.poll_provider(provider)
    alert.refresh_from_db()
    assert alert.state == Alert.State.RESOLVED


def test_telnxo_quota_exceeded_opens_quota_near_critical(sim, make_provider, send_now):
    provider = make_provider("telnxo", sim.root)
    sim.fail_next(provider, "quota_exceeded", scope="send")
    send_now(provider)
    [alert] = unresolved(provider)
    assert (alert.kind, alert.severity, alert.details["error_code"]) == ("quota_near", "critical", "quota_exceeded")


def test_a_refused_key_on_a_send_opens_credential_failed_with_the_credential_link(sim, make_provider, send_now):
    provider = make_provider("8x8", sim.root)
    sim.configure(provider, valid_keys=["some-other-key-entirely"])
    [send] = send_now(provider)
    assert send.error_category == "auth"
    [alert] = unresolved(provider)
    assert (alert.kind, alert.severity) == ("credential_failed", "critical")
    assert alert.details["credential_url"] == f"/providers/{provider.slug}/credentials/"
    assert alert.details["error_code"] == send.error_code
    assert Provider.objects.get(pk=provider.pk).status == ProviderStatus.CREDENTIAL_FAILED


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("8x8", "1002"),
        ("telnxo", "daily_limit_reached"),
        ("23telecom", "RATE_LIMIT_EXCEEDED"),
        ("telnxo", "insufficient_scope"),
    ],
)
def test_other_errors_open_no_alert(sim, make_provider, send_now, kind, code, settings):
    settings.SENDWATCH_SEND_MAX_ATTEMPTS = 1
    provider = make_provider(kind, sim.root)
    sim.fail_next(provider, code, scope="send", count=3)
    send_now(provider)
    assert ErrorEvent.objects.filter(provider=provider, error_code=code).exists()
    assert not Alert.objects.exists()


def test_errors_recorded_takes_a_batch_and_opens_one_alert_per_condition(make_provider, simulator):
    provider = make_provider("23telecom", simulator.root)

    def error(code, category, status):
        return NormalizedError("23telecom", code, category, status, retryable=False, message=code)

    opened = alerts.errors_recorded(
        provider,
        [
            error("INVALID_TO", Category.VALIDATION, 400),
            error("INSUFFICIENT_BALANCE", Category.BALANCE, 402),
            error("INSUFFICIENT_BALANCE", Category.BALANCE, 402),
            error("INVALID_API_KEY", Category.AUTH, 401),
        ],
    )
    assert sorted(a.kind for a in opened) == ["credential_failed", "low_balance"]
    assert Alert.objects.count() == 2
    assert alerts.errors_recorded(provider, [error("INVALID_TO", Category.VALIDATION, 400)]) == []


def test_an_alerting_failure_never_breaks_the_send(sim, make_provider, send_now, monkeypatch):
    provider = make_provider("23telecom", sim.root)
    sim.configure(provider, balance=0.01)

    def broken(*args, **kwargs):
        raise RuntimeError("alert store down")

    monkeypatch.setattr(alerts, "raise_condition", broken)
    [send] = send_now(provider)
    assert (send.status, send.error_code) == (SendStatus.FAILED, "INSUFFICIENT_BALANCE")
    assert ErrorEvent.objects.filter(send=send).exists()
    assert not Alert.objects.exists()
