"""The breakdown reads rollups: they must equal a GROUP BY over the raw rows, whatever was written."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from messaging.dashboard.breakdown import SPARKLINE_ROWS, breakdown, parse_window
from messaging.models import ErrorEvent, ErrorRollup, Provider, Send, SendRollup
from messaging.traffic import rollups

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 12, 2, 30, tzinfo=UTC)
CODES = [("INVALID_TO", "validation"), ("RATE_LIMIT_EXCEEDED", "rate_limit"), ("1002", "validation")]

writes = st.lists(
    st.tuples(
        st.sampled_from(["send", "error"]),
        st.integers(min_value=0, max_value=1),  # which provider
        st.sampled_from(["sms", "whatsapp"]),
        st.integers(min_value=0, max_value=40 * 24 * 3600),  # seconds before NOW
        st.sampled_from(CODES),
        st.sampled_from(["send", "ingest", "balance", "verify"]),
    ),
    max_size=60,
)


def naive(window, providers, channel):
    """The old way: GROUP BY over the raw rows inside the window."""
    ids = [p.pk for p in providers]
    errors = ErrorEvent.objects.filter(
        provider_id__in=ids, occurred_at__gte=window.start, occurred_at__lt=window.end, source__in=["send", "ingest"]
    )
    sends = Send.objects.filter(provider_id__in=ids, created_at__gte=window.start, created_at__lt=window.end)
    if channel:
        errors, sends = errors.filter(channel=channel), sends.filter(channel=channel)
    return (
        Counter(errors.values_list("provider__slug", "error_code")),
        Counter(sends.values_list("provider__slug", flat=True)),
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(writes=writes, window=st.sampled_from(["1h", "24h", "7d", "30d"]), channel=st.sampled_from(["", "sms"]))
def test_rollup_breakdown_equals_a_group_by_over_raw_rows(writes, window, channel):
    with transaction.atomic():
        providers = [
            Provider.objects.create(name="A", slug="pa", kind="23telecom"),
            Provider.objects.create(name="B", slug="pb", kind="8x8"),
        ]
        for kind, which, chan, seconds_ago, (code, category), source in writes:
            provider, at = providers[which], NOW - timedelta(seconds=seconds_ago)
            if kind == "send":
                # Through the recording function, as queue_sends and the ingest writer do.
                rollups.record(sends=Send.objects.bulk_create([Send(provider=provider, channel=chan, created_at=at)]))
            else:
                event = ErrorEvent(
                    provider=provider, channel=chan, occurred_at=at, error_code=code, category=category, source=source
                )
                rollups.record(errors=ErrorEvent.objects.bulk_create([event]))
        chosen = parse_window(window, now=NOW)
        result = breakdown(chosen, providers=providers, channel=channel or None)
        errors, sends = naive(chosen, providers, channel)
        assert {(r.provider.slug, r.key): r.errors for r in result.rows} == errors
        assert {r.provider.slug: r.sends for r in result.rows} == {slug: sends[slug] for slug, _ in errors}
        assert result.total_sends == sum(sends.values())
        assert result.total_errors == sum(errors.values())
        # The sparkline buckets add up to the row's count: the window holds whole buckets only.
        assert all(sum(r.sparkline) == r.errors for r in result.rows)
        previous_errors, _ = naive(chosen.previous, providers, channel)
        assert {(r.provider.slug, r.key): r.previous_errors for r in result.rows} == {
            key: previous_errors[key] for key in errors
        }
        transaction.set_rollback(True)


def test_windows_are_snapped_to_whole_buckets_of_their_grain():
    assert parse_window("1h", now=NOW).start == datetime(2026, 11, 20, 11, 5, tzinfo=UTC)
    assert parse_window("1h", now=NOW).end == datetime(2026, 11, 20, 12, 5, tzinfo=UTC)
    assert parse_window("24h", now=NOW).end == datetime(2026, 11, 20, 13, tzinfo=UTC)
    assert parse_window("30d", now=NOW).end == datetime(2026, 11, 21, tzinfo=UTC)
    custom = parse_window("custom", "2026-11-20T08:10", "2026-11-20T09:55")
    assert (custom.start, custom.end) == (
        datetime(2026, 11, 20, 8, 10, tzinfo=UTC),
        datetime(2026, 11, 20, 9, 55, tzinfo=UTC),
    )
    # 2 h 10 min is past the 5-minute grain: widened to whole hours.
    wider = parse_window("custom", "2026-11-20T08:10", "2026-11-20T10:20")
    assert (wider.start, wider.end) == (datetime(2026, 11, 20, 8, tzinfo=UTC), datetime(2026, 11, 20, 11, tzinfo=UTC))


def test_rollups_count_each_row_once_per_grain_and_skip_balance_errors(traffic):
    assert set(SendRollup.objects.values_list("grain", flat=True)) == {300, 3600, 86400}
    for grain in (300, 3600, 86400):
        assert sum(SendRollup.objects.filter(grain=grain).values_list("sends", flat=True)) == Send.objects.count()
        counted = sum(ErrorRollup.objects.filter(grain=grain).values_list("errors", flat=True))
        assert counted == ErrorEvent.objects.filter(source__in=["send", "ingest"]).count()


def test_a_rolled_back_write_leaves_no_count(traffic):
    before = list(SendRollup.objects.order_by("pk").values_list("sends", flat=True))
    with pytest.raises(RuntimeError), transaction.atomic():
        rollups.record(sends=Send.objects.bulk_create([Send(provider=traffic["eu"], created_at=traffic["now"])]))
        raise RuntimeError
    assert list(SendRollup.objects.order_by("pk").values_list("sends", flat=True)) == before


def test_rebuild_recounts_what_the_writers_counted(traffic):
    counted = sorted(ErrorRollup.objects.values_list("grain", "provider", "bucket", "channel", "error_code", "errors"))
    sends = sorted(SendRollup.objects.values_list("grain", "provider", "bucket", "channel", "sends"))
    rollups.rebuild()
    assert (
        sorted(ErrorRollup.objects.values_list("grain", "provider", "bucket", "channel", "error_code", "errors"))
        == counted
    )
    assert sorted(SendRollup.objects.values_list("grain", "provider", "bucket", "channel", "sends")) == sends


@pytest.mark.parametrize("window", ["1h", "24h", "7d", "30d"])
def test_the_breakdown_issues_the_same_queries_with_few_and_many_rows(traffic, window, django_assert_max_num_queries):
    with django_assert_max_num_queries(4) as few:
        breakdown(parse_window(window))
    provider = Provider.objects.create(name="More", slug="more", kind="telnxo")
    for hours_ago in range(0, 24 * 30, 5):
        at = traffic["now"] - timedelta(hours=hours_ago)
        sends = Send.objects.bulk_create(Send(provider=provider, channel="sms", created_at=at) for _ in range(3))
        events = ErrorEvent.objects.bulk_create(
            ErrorEvent(provider=provider, occurred_at=at, error_code=f"code_{n}", category="server") for n in range(4)
        )
        rollups.record(sends=sends, errors=events)
    with django_assert_max_num_queries(len(few.captured_queries)):
        result = breakdown(parse_window(window))
    assert any(row.provider == provider for row in result.rows)


def test_sparklines_and_the_chart_stay_exact_with_more_codes_than_sparkline_rows(traffic):
    """Only the top codes' buckets are read; every other code, even one sharing a shown code, counts as 'other'."""
    more = Provider.objects.create(name="More", slug="more", kind="telnxo")
    now = traffic["now"]
    # 56 codes at "More" outrank the traffic's three; its INVALID_TO tops the list, so the
    # t23 INVALID_TO shares a shown code but is itself past the sparkline rows.
    counts = {f"code_{n:02d}": n + 10 for n in range(55)} | {"INVALID_TO": 90}
    for n, (code, count) in enumerate(counts.items()):
        at = now - timedelta(hours=n % 20, minutes=10)
        rollups.record(sends=Send.objects.bulk_create(Send(provider=more, created_at=at) for _ in range(count)))
        events = ErrorEvent.objects.bulk_create(
            ErrorEvent(provider=more, occurred_at=at, error_code=code, category="server") for _ in range(count)
        )
        rollups.record(errors=events)
    window = parse_window("24h")
    result = breakdown(window)

    assert len(result.rows) == 59
    assert (result.rows[0].provider, result.rows[0].key) == (more, "INVALID_TO")
    with_sparkline = result.rows[:SPARKLINE_ROWS]
    assert all(sum(row.sparkline) == row.errors for row in with_sparkline)
    assert all(row.sparkline == [] for row in result.rows[SPARKLINE_ROWS:])
    assert ("t23", "INVALID_TO") in {(r.provider.slug, r.key) for r in result.rows[SPARKLINE_ROWS:]}

    # The stacked chart, bucket by bucket, against a count over the raw rows.
    step = timedelta(hours=1)
    slot = {start: i for i, start in enumerate(result.bucket_starts)}
    errors, sends = [0] * len(slot), [0] * len(slot)
    for at in ErrorEvent.objects.filter(
        occurred_at__gte=window.start, occurred_at__lt=window.end, source__in=["send", "ingest"]
    ).values_list("occurred_at", flat=True):
        errors[slot[rollups.floor(at, step)]] += 1
    for at in Send.objects.filter(created_at__gte=window.start, created_at__lt=window.end).values_list(
        "created_at", flat=True
    ):
        sends[slot[rollups.floor(at, step)]] += 1
    assert [s.label for s in result.series] == [
        "More: INVALID_TO",
        *(f"More: code_{n}" for n in (54, 53, 52, 51)),
        "other",
    ]
    stacked = [sum(s.rates[i] for s in result.series) for i in range(len(slot))]
    assert stacked == pytest.approx([100 * e / s if s else 0 for e, s in zip(errors, sends, strict=True)])


def test_totals_only_read_two_queries_and_give_the_same_rows(traffic, django_assert_max_num_queries):
    window = parse_window("30d")
    full = breakdown(window)
    with django_assert_max_num_queries(3):  # providers, error totals, send totals
        totals = breakdown(window, trends=False)
    assert [(r.provider, r.key, r.category, r.errors, r.sends) for r in totals.rows] == [
        (r.provider, r.key, r.category, r.errors, r.sends) for r in full.rows
    ]
    assert (totals.total_errors, totals.total_sends) == (full.total_errors, full.total_sends)
