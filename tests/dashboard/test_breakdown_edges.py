"""The breakdown at its edges: rows exactly on window starts, ends and bucket boundaries.

Every window is half-open, [start, end): a row at ``start`` counts, a row at ``end`` is
the next window's. The previous window is [start - length, start), so the bucket that
opens the current window is never in the previous one. Each check compares the
breakdown (which reads the rollups) with a raw SQL ``GROUP BY`` over the ErrorEvent and
Send rows using that same rule, for every grain (5 minutes, 1 hour, 1 UTC day), preset
and custom windows alike, including custom windows that ended in the past.
"""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from messaging.dashboard.breakdown import WINDOWS, Window, breakdown, custom_window, parse_window
from messaging.models import ErrorEvent, Provider, Send
from messaging.traffic import rollups

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 12, 2, 30, tzinfo=UTC)
MICRO = timedelta(microseconds=1)
CODES = [("INVALID_TO", "validation"), ("RATE_LIMIT_EXCEEDED", "rate_limit"), ("DB_ERROR", "server")]
GRAIN_SECONDS = {timedelta(minutes=5): 300, timedelta(hours=1): 3600, timedelta(days=1): 86400}


# -- the raw side: SQL over the raw rows, half-open [start, end) --------------------------


def _db(moment: datetime):
    return connection.ops.adapt_datetimefield_value(moment)


def _filters(column: str, start: datetime, end: datetime, providers, channel) -> tuple[str, list]:
    ids = [p.pk for p in providers]
    where = f"r.{column} >= %s AND r.{column} < %s AND r.provider_id IN ({', '.join(['%s'] * len(ids))})"
    params = [_db(start), _db(end), *ids]
    if channel:
        where += " AND r.channel = %s"
        params.append(channel)
    return where, params


def raw_errors(start: datetime, end: datetime, providers, channel=None, group="code") -> Counter:
    """Errors of sends per (provider slug, code), or per category, by GROUP BY over ErrorEvent."""
    key = "p.slug, r.error_code" if group == "code" else "r.category"
    where, params = _filters("occurred_at", start, end, providers, channel)
    sql = (
        f"SELECT {key}, COUNT(*) FROM {ErrorEvent._meta.db_table} r "  # table names from _meta
        f"JOIN {Provider._meta.db_table} p ON p.id = r.provider_id "
        f"WHERE {where} AND r.source IN ('send', 'ingest') GROUP BY {key}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return Counter({tuple(row[:-1]) if group == "code" else row[0]: row[-1] for row in cursor.fetchall()})


def raw_sends(start: datetime, end: datetime, providers, channel=None) -> Counter:
    """Sends per provider slug, by GROUP BY over Send."""
    where, params = _filters("created_at", start, end, providers, channel)
    sql = (
        f"SELECT p.slug, COUNT(*) FROM {Send._meta.db_table} r "
        f"JOIN {Provider._meta.db_table} p ON p.id = r.provider_id WHERE {where} GROUP BY p.slug"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return Counter(dict(cursor.fetchall()))


def raw_error_moments(start: datetime, end: datetime, providers, channel=None) -> list[datetime]:
    where, params = _filters("occurred_at", start, end, providers, channel)
    sql = f"SELECT r.occurred_at FROM {ErrorEvent._meta.db_table} r WHERE {where} AND r.source IN ('send', 'ingest')"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        values = [row[0] for row in cursor.fetchall()]
    # PostgreSQL gives aware datetimes; SQLite gives Django's stored text (or naive datetimes), in UTC.
    moments = [datetime.fromisoformat(v) if isinstance(v, str) else v for v in values]
    return [m if m.tzinfo else m.replace(tzinfo=UTC) for m in moments]


# -- the comparison every test makes ------------------------------------------------------


def _key(row, group):
    return (row.provider.slug, row.key) if group == "code" else row.key


def assert_matches_raw_rows(window: Window, providers, channel=None, group="code"):
    result = breakdown(window, providers=providers, channel=channel, group=group)
    errors = raw_errors(window.start, window.end, providers, channel, group)
    previous = raw_errors(window.previous.start, window.previous.end, providers, channel, group)
    sends = raw_sends(window.start, window.end, providers, channel)

    # Per-code (or per-category) counts, the totals, and the previous-window comparison.
    assert {_key(r, group): r.errors for r in result.rows} == +errors
    assert result.total_errors == errors.total()
    assert result.total_sends == sends.total()
    assert {_key(r, group): r.previous_errors for r in result.rows} == {key: previous[key] for key in +errors}
    for row in result.rows:
        assert row.sends == (sends[row.provider.slug] if group == "code" else sends.total())

    # The chart's buckets lie inside the window and cover it exactly once.
    _, step = window.buckets()
    starts = result.bucket_starts
    assert starts == sorted(set(starts))
    assert all(start < window.end for start in starts), "a chart bucket starts at or after the window's end"
    assert starts[0] <= window.start < starts[0] + step
    assert starts[-1] + step >= window.end
    assert all(later - earlier == step for earlier, later in itertools.pairwise(starts))

    # Each sparkline sums to its row; every error lands in the chart bucket its raw moment falls in.
    assert all(sum(r.sparkline) == r.errors for r in result.rows)
    per_bucket = [0] * len(starts)
    for moment in raw_error_moments(window.start, window.end, providers, channel):
        per_bucket[(moment - starts[0]) // step] += 1
    stacked = [0] * len(starts)
    for row in result.rows:
        stacked = [a + b for a, b in zip(stacked, row.sparkline, strict=True)]
    assert stacked == per_bucket

    # The CSV's totals-only read agrees with the page's.
    totals = breakdown(window, providers=providers, channel=channel, group=group, trends=False)
    assert {_key(r, group): r.errors for r in totals.rows} == +errors
    assert (totals.total_errors, totals.total_sends) == (errors.total(), sends.total())
    return result


def write(providers, rows):
    """rows: (what, provider index, channel, moment, (code, category), source); counted as every writer does."""
    sends, events = [], []
    for what, which, channel, moment, (code, category), source in rows:
        if what == "send":
            sends.append(Send(provider=providers[which], channel=channel, created_at=moment))
        else:
            events.append(
                ErrorEvent(
                    provider=providers[which],
                    channel=channel,
                    occurred_at=moment,
                    error_code=code,
                    category=category,
                    source=source,
                )
            )
    rollups.record(sends=Send.objects.bulk_create(sends), errors=ErrorEvent.objects.bulk_create(events))


def make_providers():
    return [
        Provider.objects.create(name="A", slug="edge-a", kind="23telecom"),
        Provider.objects.create(name="B", slug="edge-b", kind="8x8"),
    ]


# -- property test: rows on the edges of windows of every grain ----------------------------

CUSTOM_LENGTHS = st.one_of(
    st.sampled_from(
        [
            timedelta(minutes=5),
            timedelta(minutes=35),
            timedelta(hours=2),  # the last length read at the 5-minute grain
            timedelta(hours=2, minutes=5),  # widened to whole hours
            timedelta(hours=30),
            timedelta(days=8),  # the last length read at the hour grain
            timedelta(days=8, hours=1),  # widened to whole UTC days
            timedelta(days=45),
        ]
    ),
    st.integers(min_value=1, max_value=92 * 24 * 60).map(lambda minutes: timedelta(minutes=minutes)),
)


@st.composite
def windows(draw) -> Window:
    key = draw(st.sampled_from([*WINDOWS, "custom"]))
    if key != "custom":
        # "now" on a bucket boundary or anywhere inside a bucket.
        now = NOW.replace(minute=0, second=0) + timedelta(
            seconds=draw(st.sampled_from([0, 300, 3600, 86400]) | st.integers(0, 2 * 86400)),
            microseconds=draw(st.sampled_from([0, 1, 999_999])),
        )
        return parse_window(key, now=now)
    # A custom window anywhere in the last 60 days, so most end well in the past.
    begin = NOW - timedelta(minutes=draw(st.integers(min_value=0, max_value=60 * 24 * 60)))
    length = draw(CUSTOM_LENGTHS)
    return custom_window(begin - length, begin)


@st.composite
def scenarios(draw):
    window = draw(windows())
    grain = window.grain
    previous = window.previous
    # The window's and the previous window's edges, the chart's bucket edges, and a few grain edges inside.
    anchors = {previous.start, window.start, window.end, previous.start - grain, window.end + grain}
    anchors |= set(window.bucket_starts())
    inside = window.length // grain
    for k in draw(st.lists(st.integers(min_value=1, max_value=max(1, inside)), max_size=4)):
        anchors |= {window.start + k * grain, previous.start + k * grain}
    offsets = [timedelta(0), -MICRO, MICRO, grain - MICRO, -grain, timedelta(seconds=1)]
    rows = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["send", "error", "error"]),
                st.integers(min_value=0, max_value=1),
                st.sampled_from(["sms", "whatsapp"]),
                st.builds(lambda a, o: a + o, st.sampled_from(sorted(anchors)), st.sampled_from(offsets)),
                st.sampled_from(CODES),
                st.sampled_from(["send", "send", "ingest", "balance"]),
            ),
            min_size=1,
            max_size=40,
        )
    )
    return window, rows


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=scenarios(), channel=st.sampled_from([None, "sms"]), group=st.sampled_from(["code", "category"]))
def test_rows_on_window_and_bucket_edges_are_counted_as_the_raw_rows_say(scenario, channel, group):
    window, rows = scenario
    with transaction.atomic():
        providers = make_providers()
        write(providers, rows)
        assert_matches_raw_rows(window, providers, channel, group)
        # One provider alone: sends and previous counts must not leak from the other.
        assert_matches_raw_rows(window, providers[:1], channel, group)
        transaction.set_rollback(True)


# -- fixed cases: one per grain, with counts that tell each off-by-one-bucket apart -------------

# Each position holds a distinct power of two of errors, so every total names the positions it counted.
POSITIONS = {
    "before the previous window": (lambda w: w.previous.start - MICRO, 1),
    "previous window's first instant": (lambda w: w.previous.start, 2),
    "previous window's last instant": (lambda w: w.start - MICRO, 4),
    "window's first instant": (lambda w: w.start, 8),
    "window's last bucket, first instant": (lambda w: w.end - w.grain, 16),
    "window's last instant": (lambda w: w.end - MICRO, 32),
    "window's end": (lambda w: w.end, 64),
    "a bucket after the end": (lambda w: w.end + w.grain, 128),
}
CURRENT = 8 + 16 + 32
PREVIOUS = 2 + 4

FIXED_WINDOWS = {
    "1h (5-minute grain)": lambda: parse_window("1h", now=NOW),
    "24h (hour grain)": lambda: parse_window("24h", now=NOW),
    "7d (hour grain, 6-hour chart)": lambda: parse_window("7d", now=NOW),
    "30d (UTC-day grain)": lambda: parse_window("30d", now=NOW),
    "1h on a bucket boundary": lambda: parse_window("1h", now=datetime(2026, 11, 20, 12, 0, tzinfo=UTC)),
    # Custom windows that ended long before NOW, with errors in their last bucket.
    "custom, past, 5-minute grain": lambda: custom_window(
        datetime(2026, 3, 1, 10, 0, tzinfo=UTC), datetime(2026, 3, 1, 11, 30, tzinfo=UTC)
    ),
    "custom, past, hour grain": lambda: custom_window(
        datetime(2026, 3, 1, 0, 0, tzinfo=UTC), datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    ),
    "custom, past, hour grain, 6-hour chart": lambda: custom_window(
        datetime(2026, 3, 1, 7, 0, tzinfo=UTC), datetime(2026, 3, 5, 13, 0, tzinfo=UTC)
    ),
    "custom, past, UTC-day grain": lambda: custom_window(
        datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    ),
    "custom, past, snapped outwards": lambda: custom_window(
        datetime(2026, 3, 1, 10, 2, 30, tzinfo=UTC), datetime(2026, 3, 1, 11, 27, tzinfo=UTC)
    ),
}


@pytest.mark.parametrize("name", FIXED_WINDOWS)
def test_each_edge_counts_in_exactly_one_window(name):
    window = FIXED_WINDOWS[name]()
    assert window.end - window.grain > window.start, "the fixed windows hold more than one bucket"
    assert window.end <= NOW + window.grain
    providers = make_providers()
    rows = []
    for place, count in POSITIONS.values():
        moment = place(window)
        rows += [("error", 0, "sms", moment, CODES[0], "send")] * count
        rows += [("send", 0, "sms", moment, CODES[0], "send")] * count
        # A balance-poll error on every edge never counts anywhere.
        rows.append(("error", 0, "sms", moment, CODES[0], "balance"))
    write(providers, rows)

    result = assert_matches_raw_rows(window, providers)
    (row,) = result.rows
    assert (row.errors, row.previous_errors, row.sends) == (CURRENT, PREVIOUS, CURRENT)
    assert (result.total_errors, result.total_sends) == (CURRENT, CURRENT)
    assert row.change == pytest.approx(100.0 * (CURRENT - PREVIOUS) / PREVIOUS)
    # The last chart bucket holds the last grain bucket's errors; the first holds the window's first instant.
    assert row.sparkline[-1] >= 16 + 32
    assert row.sparkline[0] >= 8
    by_category = assert_matches_raw_rows(window, providers, group="category")
    assert [(r.key, r.errors, r.previous_errors) for r in by_category.rows] == [("validation", CURRENT, PREVIOUS)]


def test_the_previous_window_is_the_same_length_and_ends_where_the_window_starts():
    for key in WINDOWS:
        window = parse_window(key, now=NOW)
        assert (window.previous.end, window.previous.length, window.previous.grain) == (
            window.start,
            window.length,
            window.grain,
        )
        assert window.start.timestamp() % GRAIN_SECONDS[window.grain] == 0
        assert window.end.timestamp() % GRAIN_SECONDS[window.grain] == 0
