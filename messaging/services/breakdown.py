"""Error-rate breakdown by vendor error code (or by normalized category).

Rates are Σerrors / Σsends over the window, never an average of rates. Only
errors on sends count (source send or ingest): a failed balance poll is not a
failed message. A send retried after an error can contribute more than one
error, so a rate counts error events per 100 sends.

Every call issues a fixed number of queries whatever the row counts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db.models import Count, QuerySet
from django.db.models.functions import TruncDay, TruncHour, TruncMinute
from django.utils import timezone

from messaging.models import ErrorEvent, Provider, Send
from providers import get_adapter_class

WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
DEFAULT_WINDOW = "24h"
MAX_CUSTOM_WINDOW = timedelta(days=92)
SEND_SOURCES = (ErrorEvent.Source.SEND, ErrorEvent.Source.INGEST)
TOP_CODES_IN_CHART = 5
SPARKLINE_ROWS = 50


class BadFilter(ValueError):
    """A filter value a person typed is not valid; the message says which and why."""


@dataclass(frozen=True)
class Window:
    key: str
    start: datetime
    end: datetime

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    @property
    def previous(self) -> Window:
        return Window(self.key, self.start - self.length, self.start)

    def buckets(self) -> tuple[str, timedelta]:
        """The time bucket for sparklines and the chart: about 24 to 60 points."""
        if self.length <= timedelta(hours=2):
            return "minute5", timedelta(minutes=5)
        if self.length <= timedelta(days=2):
            return "hour", timedelta(hours=1)
        if self.length <= timedelta(days=8):
            return "hour6", timedelta(hours=6)
        return "day", timedelta(days=1)

    def bucket_starts(self) -> list[datetime]:
        _, step = self.buckets()
        first = _floor(self.start, step)
        starts, current = [], first
        while current < self.end:
            starts.append(current)
            current += step
        return starts


def parse_window(
    key: str | None, start: str | None = None, end: str | None = None, now: datetime | None = None
) -> Window:
    now = now or timezone.now()
    key = key or DEFAULT_WINDOW
    if key in WINDOWS:
        return Window(key, now - WINDOWS[key], now)
    if key != "custom":
        raise BadFilter(f"window must be one of {', '.join([*WINDOWS, 'custom'])}")
    begin, finish = _parse_moment(start, "start"), _parse_moment(end, "end")
    if finish <= begin:
        raise BadFilter("the custom window must end after it starts")
    if finish - begin > MAX_CUSTOM_WINDOW:
        raise BadFilter("a custom window may span at most 92 days")
    return Window("custom", begin, finish)


def _parse_moment(value: str | None, name: str) -> datetime:
    if not value:
        raise BadFilter(f"a custom window needs a {name}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadFilter(f"{name} must be a date or date and time, such as 2026-11-20 or 2026-11-20T08:00") from None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


@dataclass
class BreakdownRow:
    provider: Provider | None  # None when grouped by category across vendors
    key: str  # the vendor's error_code, or the category
    category: str
    errors: int
    sends: int
    share: float  # of all errors in the window, percent
    previous_errors: int
    sparkline: list[int] = field(default_factory=list)

    @property
    def rate(self) -> float | None:
        """Errors per 100 sends; None without sends."""
        return 100.0 * self.errors / self.sends if self.sends else None

    @property
    def change(self) -> float | None:
        """Percent change against the previous window of the same length; None when it had none."""
        if not self.previous_errors:
            return None
        return 100.0 * (self.errors - self.previous_errors) / self.previous_errors

    @property
    def description(self) -> str:
        if self.provider is None:
            return ""
        entry = get_adapter_class(self.provider.kind).errors.get(self.key)
        return entry.description if entry else ""


@dataclass
class ChartSeries:
    label: str
    rates: list[float]  # errors per 100 sends per bucket


@dataclass
class Breakdown:
    window: Window
    group: str
    rows: list[BreakdownRow]
    total_errors: int
    total_sends: int
    bucket_starts: list[datetime]
    series: list[ChartSeries]

    @property
    def rate(self) -> float | None:
        return 100.0 * self.total_errors / self.total_sends if self.total_sends else None


def breakdown(
    window: Window,
    *,
    providers: list[Provider] | None = None,
    channel: str | None = None,
    group: str = "code",
) -> Breakdown:
    """The breakdown for the chosen providers (all when None), channel and window."""
    if group not in ("code", "category"):
        raise BadFilter("group must be 'code' or 'category'")
    by_id = {p.pk: p for p in (providers if providers is not None else Provider.objects.all())}
    keys = ("provider_id", "error_code", "category") if group == "code" else ("category",)

    def errors_in(w: Window) -> QuerySet:
        return _errors(w, by_id, providers, channel).values(*keys).annotate(n=Count("id"))

    current = {tuple(r[k] for k in keys): r["n"] for r in errors_in(window)}
    previous = {tuple(r[k] for k in keys): r["n"] for r in errors_in(window.previous)}
    sends_by_provider = dict(
        _sends(window, providers, channel).values("provider_id").annotate(n=Count("id")).values_list("provider_id", "n")
    )
    total_sends = sum(sends_by_provider.values())
    total_errors = sum(current.values())
    ranked = sorted(current.items(), key=lambda item: (-item[1], item[0]))
    rows = [
        BreakdownRow(
            provider=by_id.get(key[0]) if group == "code" else None,
            key=key[1] if group == "code" else key[0],
            category=key[2] if group == "code" else key[0],
            errors=count,
            sends=sends_by_provider.get(key[0], 0) if group == "code" else total_sends,
            share=100.0 * count / total_errors if total_errors else 0.0,
            previous_errors=previous.get(key, 0),
        )
        for key, count in ranked
    ]
    starts = window.bucket_starts()
    per_bucket = _bucketed_errors(window, by_id, providers, channel, keys)
    sends_per_bucket = _bucketed_sends(window, providers, channel)
    for row, (key, _) in zip(rows[:SPARKLINE_ROWS], ranked[:SPARKLINE_ROWS], strict=False):
        row.sparkline = [per_bucket.get((key, start), 0) for start in starts]
    series = _chart_series(ranked, per_bucket, sends_per_bucket, starts, by_id, group)
    return Breakdown(window, group, rows, total_errors, total_sends, starts, series)


def _errors(window: Window, by_id, providers, channel) -> QuerySet:
    queryset = ErrorEvent.objects.filter(
        occurred_at__gte=window.start, occurred_at__lt=window.end, source__in=SEND_SOURCES
    )
    if providers is not None:
        queryset = queryset.filter(provider_id__in=list(by_id))
    if channel:
        queryset = queryset.filter(channel=channel)
    return queryset.order_by()


def _sends(window: Window, providers, channel) -> QuerySet:
    queryset = Send.objects.filter(created_at__gte=window.start, created_at__lt=window.end)
    if providers is not None:
        queryset = queryset.filter(provider_id__in=[p.pk for p in providers])
    if channel:
        queryset = queryset.filter(channel=channel)
    return queryset.order_by()


TRUNC = {"minute5": TruncMinute, "hour": TruncHour, "hour6": TruncHour, "day": TruncDay}


def _bucketed_errors(window, by_id, providers, channel, keys) -> dict:
    name, step = window.buckets()
    trunc = TRUNC[name]
    counts: dict = defaultdict(int)
    rows = (
        _errors(window, by_id, providers, channel)
        .annotate(bucket=trunc("occurred_at", tzinfo=UTC))
        .values(*keys, "bucket")
        .annotate(n=Count("id"))
    )
    for row in rows:
        counts[(tuple(row[k] for k in keys), _floor(row["bucket"], step))] += row["n"]
    return counts


def _bucketed_sends(window, providers, channel) -> dict:
    name, step = window.buckets()
    counts: dict = defaultdict(int)
    rows = _sends(window, providers, channel).annotate(bucket=TRUNC[name]("created_at", tzinfo=UTC)).values("bucket")
    for row in rows.annotate(n=Count("id")):
        counts[_floor(row["bucket"], step)] += row["n"]
    return counts


def _chart_series(ranked, per_bucket, sends_per_bucket, starts, by_id, group) -> list[ChartSeries]:
    """Error rate per bucket, stacked: the top codes, then everything else as 'other'."""
    top = [key for key, _ in ranked[:TOP_CODES_IN_CHART]]
    series = []
    for key in top:
        label = key[0] if group == "category" else f"{by_id[key[0]].name}: {key[1]}" if key[0] in by_id else key[1]
        series.append(
            ChartSeries(label, [_rate(per_bucket.get((key, s), 0), sends_per_bucket.get(s, 0)) for s in starts])
        )
    rest = [key for key, _ in ranked[TOP_CODES_IN_CHART:]]
    if rest:
        other = [sum(per_bucket.get((key, s), 0) for key in rest) for s in starts]
        series.append(
            ChartSeries("other", [_rate(n, sends_per_bucket.get(s, 0)) for n, s in zip(other, starts, strict=True)])
        )
    return series


def _rate(errors: int, sends: int) -> float:
    return 100.0 * errors / sends if sends else 0.0


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _floor(moment: datetime, step: timedelta) -> datetime:
    """The start of the bucket of length ``step`` that holds ``moment``, in UTC (days are UTC days)."""
    moment = moment.astimezone(UTC)
    return moment - (moment - EPOCH) % step


def export_rows(result: Breakdown) -> list[list[str]]:
    """The CSV rows: provider,error_code,category,errors,sends,error_rate (rate as a fraction, 6 places)."""
    lines = [["provider", "error_code", "category", "errors", "sends", "error_rate"]]
    for row in result.rows:
        rate = f"{row.errors / row.sends:.6f}" if row.sends else ""
        provider = row.provider.slug if row.provider else "all"
        code = row.key if row.provider else ""
        lines.append([provider, code, row.category, str(row.errors), str(row.sends), rate])
    return lines
