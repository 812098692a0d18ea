"""Runway: burn rate and time left, from readings (pure functions) and for many providers at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from messaging.alerts.runway import Reading, money_runway, month_start, quota_runway, runway_for_providers
from messaging.models import Provider, Send, SendStatus
from messaging.traffic import rollups
from tests.alerts.conftest import history

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def money(*points):
    """[(hours_ago, amount)] -> readings."""
    return [Reading(NOW - timedelta(hours=h), amount=Decimal(str(a))) for h, a in points]


def quota(*points, limit=10_000, details=None):
    return [Reading(NOW - timedelta(hours=h), used=u, limit=limit, details=details) for h, u in points]


def test_a_steady_drain_gives_the_burn_rate_and_when_it_runs_out():
    runway = money_runway(money((10, 100), (5, 75), (0, 50)), NOW, unit="EUR")
    assert runway.burn_per_hour == pytest.approx(5.0)
    assert runway.hours_left == pytest.approx(10.0)
    assert runway.runs_out_at == NOW + timedelta(hours=10)
    assert runway.draining and runway.label == "runs out in ~10 hours"
    assert "50.00 EUR used over 10.0 h of 3 readings" in runway.basis


def test_a_top_up_in_the_middle_starts_a_new_segment():
    # 100 -> 80 (4 h), top-up to 200, 200 -> 180 (4 h): 40 used in 8 h, whatever the top-up.
    readings = money((10, 100), (6, 80), (5, 200), (1, 180))
    runway = money_runway(readings, NOW)
    assert runway.burn_per_hour == pytest.approx(5.0)
    assert runway.hours_left == pytest.approx(36.0)
    assert "1 top-up left out" in runway.basis


def test_a_quiet_period_is_not_draining_and_never_divides_by_almost_zero():
    runway = money_runway(money((30, 80), (20, 80), (0, 80)), NOW)
    assert (runway.burn_per_hour, runway.hours_left, runway.runs_out_at) == (0.0, None, None)
    assert not runway.draining and runway.label == "not draining"


def test_a_quiet_day_after_busy_ones_still_uses_the_whole_window():
    # Busy two days ago, silent since: the 72 h window still sees the use.
    runway = money_runway(money((70, 100), (50, 60), (24, 60), (0, 60)), NOW)
    assert runway.burn_per_hour == pytest.approx(40 / 70)
    assert runway.hours_left == pytest.approx(60 / (40 / 70))


def test_readings_older_than_the_window_degraded_or_failed_are_ignored():
    readings = [
        *money((100, 500)),  # outside 72 h
        Reading(NOW - timedelta(hours=3), amount=Decimal(0), unavailable=True),  # a degraded zero
        Reading(NOW - timedelta(hours=2), ok=False),
        *money((4, 60), (0, 40)),
    ]
    runway = money_runway(readings, NOW)
    assert runway.remaining == 40.0 and runway.burn_per_hour == pytest.approx(5.0)


def test_too_little_history_gives_no_rate(settings):
    runway = money_runway(money((0.5, 50), (0, 40)), NOW)
    assert runway.hours_left is None and runway.burn_per_hour is None
    assert "not enough history" in runway.basis
    settings.SENDWATCH_RUNWAY_MIN_SPAN_MINUTES = 20
    assert money_runway(money((0.5, 50), (0, 40)), NOW).hours_left == pytest.approx(2.0)


def test_a_used_up_balance_has_no_runway_left():
    runway = money_runway(money((2, 3), (0, -0.5)), NOW)
    assert runway.hours_left == 0.0 and runway.label == "used up"


def test_quota_runway_is_remaining_over_the_send_rate():
    # The counter rose 600 in 6 h; 9,000 of 10,000 left -> 90 h, well before the plan resets.
    now = datetime(2026, 11, 5, tzinfo=UTC)
    readings = [Reading(now - timedelta(hours=h), used=u, limit=10_000) for h, u in ((6, 400), (0, 1000))]
    runway = quota_runway(readings, now)
    assert runway.burn_per_hour == pytest.approx(100.0)
    assert runway.hours_left == pytest.approx(90.0)
    assert not runway.capped_at_reset and runway.resets_at == datetime(2026, 12, 1, tzinfo=UTC)


def test_quota_runway_is_capped_at_the_monthly_reset():
    runway = quota_runway(quota((6, 400), (0, 460)), NOW)  # 10 an hour: 954 h needed, the plan resets in 10.5 days
    assert runway.capped_at_reset and runway.runs_out_at is None
    assert runway.hours_left == pytest.approx((datetime(2026, 12, 1, tzinfo=UTC) - NOW).total_seconds() / 3600)
    assert not runway.draining and runway.label == "lasts until the plan resets"


def test_a_quota_reset_in_the_window_is_not_counted_as_negative_use():
    now = datetime(2026, 12, 1, 6, tzinfo=UTC)
    readings = [
        Reading(now - timedelta(hours=h), used=u, limit=1000) for h, u in ((10, 900), (6, 980), (5, 0), (0, 100))
    ]
    runway = quota_runway(readings, now)
    assert runway.burn_per_hour == pytest.approx(180 / 9)  # 80 in 4 h and 100 in 5 h
    assert runway.hours_left == pytest.approx(900 / 20)


def test_quota_runway_uses_our_own_sends_when_the_vendor_has_no_counter_growth():
    readings = quota((6, 0), (0, 0), limit=1000)  # a counter that does not move (or is not there)
    runway = quota_runway(readings, NOW, own_sends=120, since=NOW - timedelta(hours=100))
    assert runway.burn_per_hour == pytest.approx(120 / 72)  # the window, not the provider's age
    assert "Sendwatch's sends" in runway.basis


def test_telnxo_period_end_is_the_reset():
    runway = quota_runway(quota((6, 0), (0, 600), details={"period_end": "2026-11-25"}), NOW)
    assert runway.resets_at == datetime(2026, 11, 26, tzinfo=UTC)
    assert runway.hours_left == pytest.approx(9400 / 100) and not runway.capped_at_reset


def test_month_start_rolls_over_the_year():
    assert month_start(datetime(2026, 12, 31, 23, tzinfo=UTC), months=1) == datetime(2027, 1, 1, tzinfo=UTC)


@pytest.mark.django_db
def test_runway_for_providers_takes_a_fixed_number_of_queries(django_assert_num_queries):
    kinds = ["23telecom", "telnxo", "8x8", "textingblue", "telephonyio"]
    providers = [Provider.objects.create(name=k, slug=k, kind=k, currency="EUR") for k in kinds]
    for provider in providers:
        if provider.kind in ("telnxo", "textingblue"):
            history(provider, [(6, 100), (3, 160), (0, 220)], limit=1000)
        else:
            history(provider, [(6, 100), (3, 85), (0, 70)])
    Send.objects.bulk_create(Send(provider=providers[3], recipient="+447700900001", status=SendStatus.ACCEPTED)
                             for _ in range(3))  # fmt: skip
    with django_assert_num_queries(2):
        one = runway_for_providers(providers[:1])
    with django_assert_num_queries(2):
        five = runway_for_providers(providers)
    assert one[providers[0].pk] == five[providers[0].pk]
    assert five[providers[0].pk].burn_per_hour == pytest.approx(5.0)
    assert five[providers[1].pk].burn_per_hour == pytest.approx(20.0)  # the Telnxo counter: 120 in 6 h
    assert set(five) == {p.pk for p in providers}


@pytest.mark.django_db
def test_our_own_sends_come_from_the_hourly_rollups_over_the_windows_whole_hours():
    now = datetime(2026, 11, 20, 12, 30, tzinfo=UTC)  # the 72 h window starts at 12:30: counted from 13:00
    blue = Provider.objects.create(name="Blue", slug="blue", kind="textingblue")
    Provider.objects.filter(pk=blue.pk).update(created_at=now - timedelta(days=30))
    blue.refresh_from_db()
    history(blue, [(6, 0), (0, 0)], limit=1000, now=now)  # no counter growth: our sends give the rate

    def sent(hours_ago, count, status=SendStatus.ACCEPTED):
        at = now - timedelta(hours=hours_ago)
        rows = Send.objects.bulk_create(
            Send(provider=blue, recipient="+447700900001", status=status, created_at=at) for _ in range(count)
        )
        rollups.record(sends=rows)

    sent(72 + 1 / 60, 50)  # before the window
    sent(71.75, 7)  # in the window's part hour (12:30-13:00), left out with its half hour
    sent(71, 60)
    sent(0.2, 10, status=SendStatus.FAILED)  # the rollups count every send, whatever its status
    runway = runway_for_providers([blue], now)[blue.pk]
    assert runway.burn_per_hour == pytest.approx(70 / 71.5)
    assert "Sendwatch's sends: 70 over 71.5 h" in runway.basis


@pytest.mark.django_db
def test_a_new_provider_with_backfilled_sends_forecasts_from_the_sends_own_span():
    """Found: created an hour ago with three days of backfilled sends, the rate divided by 1 h (a false critical)."""
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    blue = Provider.objects.create(name="Blue", slug="blue", kind="textingblue")
    Provider.objects.filter(pk=blue.pk).update(created_at=now - timedelta(hours=1))
    blue.refresh_from_db()
    history(blue, [(0.9, 100), (0, 100)], limit=10_000, now=now)  # an hour of readings, no counter growth
    for hours_ago in range(1, 61):  # 518 sends spread over 60 hours before the provider existed
        at = now - timedelta(hours=hours_ago)
        rows = Send.objects.bulk_create(
            Send(provider=blue, recipient="+447700900001", status=SendStatus.ACCEPTED, created_at=at)
            for _ in range(9 if hours_ago <= 38 else 8)
        )
        rollups.record(sends=rows)
    runway = runway_for_providers([blue], now)[blue.pk]
    assert runway.burn_per_hour == pytest.approx(518 / 60, rel=0.01)
    assert runway.burn_per_hour < 10  # not 518 per hour
