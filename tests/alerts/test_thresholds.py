"""Every per-provider threshold is honoured: changing it changes the outcome."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from messaging.alerts import balances, spikes
from messaging.alerts import lifecycle as alerts
from messaging.alerts.runway import runway_for
from messaging.models import Alert, BalanceSnapshot, ErrorEvent, Provider, Send
from messaging.traffic import rollups
from tests.alerts.conftest import history

pytestmark = pytest.mark.django_db

NO_THRESHOLDS = {
    "balance_warning": None,
    "balance_critical": None,
    "quota_warning_percent": None,
    "quota_critical_percent": None,
    "runway_warning_hours": None,
    "runway_critical_hours": None,
}


def opened(provider) -> set[tuple[str, str]]:
    return set(Alert.objects.filter(provider=provider).exclude(state="resolved").values_list("kind", "severity"))


def money_reading(provider):
    """40 EUR now, after 5 EUR an hour for the last 6 hours: 8 h of runway."""
    history(provider, [(6, 70), (3, 55)])
    snapshot = BalanceSnapshot.objects.create(provider=provider, fetched_at=timezone.now(), amount=40, currency="EUR")
    alerts.evaluate_balance_thresholds(provider, snapshot, runway_for(provider))
    return opened(provider)


def quota_reading(provider):
    snapshot = BalanceSnapshot.objects.create(provider=provider, fetched_at=timezone.now(), used=850, limit=1000)
    alerts.evaluate_balance_thresholds(provider, snapshot, runway_for(provider))
    return opened(provider)


def spike(provider, sends=100, errors=8, minutes_ago=5):
    at = timezone.now() - timedelta(minutes=minutes_ago)
    rows = Send.objects.bulk_create(
        Send(provider=provider, recipient="+447700900001", created_at=at) for _ in range(sends)
    )
    events = ErrorEvent.objects.bulk_create(
        ErrorEvent(provider=provider, occurred_at=at, error_code="E1", category="server") for _ in range(errors)
    )
    rollups.record(sends=rows, errors=events)  # as the writers count them
    spikes.evaluate_spikes()
    return opened(provider)


def spike_over_baseline(provider):
    now = timezone.now()
    for day in range(1, 8):  # 2 % at this time of day all last week
        at = now - timedelta(days=day, minutes=5)
        rows = Send.objects.bulk_create(Send(provider=provider, recipient="+4477", created_at=at) for _ in range(100))
        events = ErrorEvent.objects.bulk_create(
            ErrorEvent(provider=provider, occurred_at=at, error_code="E1", category="server") for _ in range(2)
        )
        rollups.record(sends=rows, errors=events)
    return spike(provider, sends=100, errors=5)  # 5 % now


def due(provider):
    Provider.objects.filter(pk=provider.pk).update(last_polled_at=timezone.now() - timedelta(seconds=200))
    return {(p.slug, "due") for p in balances.claim_due()}


CASES = [
    # field, value that fires, value that does not, kind of provider, scenario, what fires
    ("balance_warning", Decimal(50), Decimal(30), "23telecom", money_reading, {("low_balance", "warning")}),
    ("balance_critical", Decimal(45), Decimal(30), "23telecom", money_reading, {("low_balance", "critical")}),
    ("runway_warning_hours", 24, 5, "23telecom", money_reading, {("low_balance", "warning")}),
    ("runway_critical_hours", 12, 5, "23telecom", money_reading, {("low_balance", "critical")}),
    ("quota_warning_percent", 80, 90, "telnxo", quota_reading, {("quota_near", "warning")}),
    ("quota_critical_percent", 85, 95, "telnxo", quota_reading, {("quota_near", "critical")}),
    ("error_rate_ceiling_percent", 5, 10, "23telecom", spike, {("error_spike", "warning")}),
    ("spike_min_sends", 50, 101, "23telecom", lambda p: spike(p, errors=15), {("error_spike", "warning")}),
    (
        "spike_window_minutes",
        30,
        15,
        "23telecom",
        lambda p: spike(p, errors=15, minutes_ago=20),
        {("error_spike", "warning")},
    ),
    ("spike_baseline_factor", 2, 3, "23telecom", spike_over_baseline, {("error_spike", "warning")}),
    ("poll_interval_seconds", 120, 300, "23telecom", due, {("t", "due")}),
]


@pytest.mark.parametrize(
    ("field", "fires", "quiet", "kind", "scenario", "expected"), CASES, ids=[case[0] for case in CASES]
)
@pytest.mark.parametrize("setting", ["fires", "quiet"])
def test_each_threshold_changes_the_outcome(field, fires, quiet, kind, scenario, expected, setting):
    fields = {**NO_THRESHOLDS, field: fires if setting == "fires" else quiet}
    if field == "spike_baseline_factor":
        fields["error_rate_ceiling_percent"] = 50
    provider = Provider.objects.create(name="T", slug="t", kind=kind, **fields)
    result = scenario(provider)
    assert result == (expected if setting == "fires" else set())
