"""Error-spike detection: Σerrors/Σsends over the window, against a ceiling and the same hour of last week."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from messaging.alerts.spikes import evaluate_spikes
from messaging.models import Alert, ErrorEvent, Provider, Send
from messaging.traffic import rollups

pytestmark = pytest.mark.django_db


@pytest.fixture
def now():
    return timezone.now()


@pytest.fixture
def provider():
    return Provider.objects.create(name="23 Telecom EU", slug="eu", kind="23telecom")


def traffic(provider, at, sends, errors=None, source="send"):
    """``sends`` Send rows and ``errors`` {code: count} error events at one moment, counted as the writers count."""
    rows = Send.objects.bulk_create(
        Send(provider=provider, recipient="+447700900001", created_at=at) for _ in range(sends)
    )
    events = ErrorEvent.objects.bulk_create(
        ErrorEvent(provider=provider, occurred_at=at, error_code=code, category="rate_limit", source=source)
        for code, count in (errors or {}).items()
        for _ in range(count)
    )
    rollups.record(sends=rows, errors=events)


def baseline(provider, now, sends, errors, days=7):
    for day in range(1, days + 1):
        traffic(provider, now - timedelta(days=day, minutes=5), sends, {"RATE_LIMIT_EXCEEDED": errors})


def spike(provider):
    return Alert.objects.filter(provider=provider, kind="error_spike").exclude(state="resolved").first()


def test_a_rate_above_the_ceiling_opens_an_alert_naming_the_top_codes(provider, now):
    traffic(provider, now - timedelta(minutes=5), 100, {"RATE_LIMIT_EXCEEDED": 10, "INVALID_TO": 5, "DB_ERROR": 1})
    report = evaluate_spikes(now)
    alert = spike(provider)
    assert report.raised == [alert] and report.rates["eu"] == pytest.approx(16.0)
    assert alert.severity == "warning"
    assert (
        "RATE_LIMIT_EXCEEDED" in alert.title and "16.0 % of 100 sends in 15 min, above the 10 % ceiling" in alert.title
    )
    assert alert.details["top_codes"] == [
        {"code": "RATE_LIMIT_EXCEEDED", "count": 10},
        {"code": "INVALID_TO", "count": 5},
        {"code": "DB_ERROR", "count": 1},
    ]
    assert (alert.details["errors"], alert.details["sends"]) == (16, 100)


def test_too_few_sends_page_no_one(provider, now):
    traffic(provider, now - timedelta(minutes=5), 2, {"RATE_LIMIT_EXCEEDED": 1})
    assert evaluate_spikes(now).rates["eu"] == 50.0
    assert spike(provider) is None


def test_only_the_window_counts(provider, now):
    traffic(provider, now - timedelta(minutes=20), 100, {"RATE_LIMIT_EXCEEDED": 50})  # before the 15 min
    traffic(provider, now - timedelta(minutes=5), 100, {"RATE_LIMIT_EXCEEDED": 2})
    evaluate_spikes(now)
    assert spike(provider) is None


def test_failed_balance_polls_are_not_failed_messages(provider, now):
    traffic(provider, now - timedelta(minutes=5), 100, {"INTERNAL_ERROR": 30}, source="balance")
    evaluate_spikes(now)
    assert spike(provider) is None


def test_a_rate_far_above_the_usual_opens_even_under_the_ceiling(provider, now):
    Provider.objects.filter(pk=provider.pk).update(error_rate_ceiling_percent=50)
    baseline(provider, now, sends=100, errors=1)  # 1 % at this hour last week
    traffic(provider, now - timedelta(minutes=5), 100, {"RATE_LIMIT_EXCEEDED": 5})
    evaluate_spikes(now)
    alert = spike(provider)
    assert alert is not None and alert.details["baseline_percent"] == 1.0
    assert alert.details["reason"] == "5.0x the usual 1.0 %"


def test_the_usual_rate_is_no_spike(provider, now):
    Provider.objects.filter(pk=provider.pk).update(error_rate_ceiling_percent=50)
    baseline(provider, now, sends=100, errors=4)
    traffic(provider, now - timedelta(minutes=5), 100, {"RATE_LIMIT_EXCEEDED": 5})
    evaluate_spikes(now)
    assert spike(provider) is None


def test_a_spotless_week_is_taken_as_the_floor_not_as_zero(provider, now, settings):
    assert settings.SENDWATCH_SPIKE_BASELINE_FLOOR_PERCENT == 1
    Provider.objects.filter(pk=provider.pk).update(error_rate_ceiling_percent=50)
    baseline(provider, now, sends=100, errors=0)
    traffic(provider, now - timedelta(minutes=5), 100, {"RATE_LIMIT_EXCEEDED": 2})  # 2 % < 3 x 1 %
    evaluate_spikes(now)
    assert spike(provider) is None
    traffic(provider, now - timedelta(minutes=4), 0, {"RATE_LIMIT_EXCEEDED": 2})  # 4 %
    evaluate_spikes(now)
    assert spike(provider) is not None


def test_twice_the_ceiling_is_critical(provider, now):
    traffic(provider, now - timedelta(minutes=5), 100, {"RATE_LIMIT_EXCEEDED": 20})
    evaluate_spikes(now)
    assert spike(provider).severity == "critical"


def test_a_spike_clears_only_well_under_the_ceiling(provider, now):
    traffic(provider, now - timedelta(minutes=5), 100, {"RATE_LIMIT_EXCEEDED": 12})
    evaluate_spikes(now)
    alert = spike(provider)
    later = now + timedelta(minutes=15)
    traffic(provider, later - timedelta(minutes=5), 200, {"RATE_LIMIT_EXCEEDED": 19})  # 9.5 %: above 10 / 1.1
    report = evaluate_spikes(later)
    assert report.cleared == [] and spike(provider).pk == alert.pk
    # Held open by hysteresis, and it says so.
    assert [a.pk for a in report.held] == [alert.pk]
    assert "9.5 % of 200 sends in 15 min, back under the 10 % ceiling; clears at 9.1 % or less" in spike(provider).title
    even_later = later + timedelta(minutes=15)
    traffic(provider, even_later - timedelta(minutes=5), 200, {"RATE_LIMIT_EXCEEDED": 16})  # 8 %
    report = evaluate_spikes(even_later)
    assert [a.pk for a in report.cleared] == [alert.pk]
    alert.refresh_from_db()
    assert alert.state == "resolved" and alert.resolve_note == "Error rate 8.0 % of 200 sends in 15 min, under 9.1 %"


def test_with_traffic_gone_a_spike_clears_once_no_errors_remain(provider, now):
    traffic(provider, now - timedelta(minutes=5), 100, {"RATE_LIMIT_EXCEEDED": 30})
    evaluate_spikes(now)
    traffic(provider, now + timedelta(minutes=10), 1, {"RATE_LIMIT_EXCEEDED": 1})
    evaluate_spikes(now + timedelta(minutes=21))  # one send, one error: too little to judge, stays
    assert spike(provider) is not None
    evaluate_spikes(now + timedelta(minutes=40))
    assert spike(provider) is None


def test_disabled_providers_are_skipped(provider, now):
    Provider.objects.filter(pk=provider.pk).update(enabled=False)
    traffic(provider, now - timedelta(minutes=5), 100, {"RATE_LIMIT_EXCEEDED": 50})
    evaluate_spikes(now)
    assert spike(provider) is None


def test_spike_evaluation_takes_a_fixed_number_of_queries(now, django_assert_num_queries):
    providers = [Provider.objects.create(name=f"P{n}", slug=f"p{n}", kind="23telecom") for n in range(5)]
    for provider in providers:
        traffic(provider, now - timedelta(minutes=5), 10, {"RATE_LIMIT_EXCEEDED": 1})
    Provider.objects.exclude(pk=providers[0].pk).update(enabled=False)
    with django_assert_num_queries(6):
        evaluate_spikes(now)
    Provider.objects.update(enabled=True)
    with django_assert_num_queries(6):
        evaluate_spikes(now)
