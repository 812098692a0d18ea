"""Error-rate breakdown by vendor error code (or by normalized category).

Rates are Σerrors / Σsends over the window, never an average of rates. Only
errors on sends count (source send or ingest): a failed balance poll is not a
failed message. A send retried after an error can contribute more than one
error, so a rate counts error events per 100 sends.

Counts come from the rollups through messaging.traffic.figures, the one source of
every error and send count (the Overview, a provider's page, the Error codes page
and the spike alerts count through it too), never from the raw rows: a window is
snapped to whole buckets of the grain it reads (5 minutes up to 2 h, 1 hour up to
8 days, 1 UTC day beyond), and every number shown is the exact sum over the
buckets inside the window's half-open [start, end), which the page shows. Every
call issues a fixed number of queries whatever the row counts.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Case, F, Q, Sum, Value, When
from django.utils import timezone

from messaging.models import Provider
from messaging.traffic import figures
from messaging.traffic.figures import (
    DEFAULT_WINDOW,
    MAX_CUSTOM_WINDOW,
    SEND_SOURCES,
    WINDOWS,
    Window,
    custom_window,
    grain_for,
    preset_window,
    snap,
)

__all__ = [
    "DEFAULT_WINDOW",
    "MAX_CUSTOM_WINDOW",
    "SEND_SOURCES",
    "WINDOWS",
    "Breakdown",
    "Window",
    "breakdown",
    "custom_window",
    "export_rows",
    "grain_for",
    "parse_window",
    "preset_window",
    "snap",
]
TOP_CODES_IN_CHART = 5
SPARKLINE_ROWS = 50


def parse_window(
    key: str | None, start: str | None = None, end: str | None = None, now: datetime | None = None
) -> Window:
    """The window from its query-string spelling, for code and tests; ValueError (saying why) when it is not one.

    The Errors page reads what people type with its form (ErrorFilterForm in errors.py) instead.
    """
    key = key or DEFAULT_WINDOW
    if key in WINDOWS:
        return preset_window(key, now)
    if key != "custom":
        raise ValueError(f"window must be one of {', '.join([*WINDOWS, 'custom'])}")
    return custom_window(_parse_moment(start, "start"), _parse_moment(end, "end"))


def _parse_moment(value: str | None, name: str) -> datetime:
    if not value:
        raise ValueError(f"a custom window needs a {name}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} must be a date or date and time, such as 2026-11-20 or 2026-11-20T08:00") from None
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
        entry = self.provider.adapter_class.errors.get(self.key)
        return entry.description if entry else ""


@dataclass
class ChartSeries:
    label: str
    rates: list[float]  # errors per 100 sends per bucket
    errors: list[int] = field(default_factory=list)  # the errors behind each rate


@dataclass
class Breakdown:
    window: Window
    group: str
    rows: list[BreakdownRow]
    total_errors: int
    total_sends: int
    bucket_starts: list[datetime]
    series: list[ChartSeries]
    bucket_errors: list[int] = field(default_factory=list)  # every error per chart bucket
    bucket_sends: list[int] = field(default_factory=list)  # every send per chart bucket

    @property
    def rate(self) -> float | None:
        return 100.0 * self.total_errors / self.total_sends if self.total_sends else None


def breakdown(
    window: Window,
    *,
    providers: list[Provider] | None = None,
    channel: str | None = None,
    group: str = "code",
    trends: bool = True,
) -> Breakdown:
    """The breakdown for the chosen providers (all when None), channel and window.

    ``group`` is "code" or "category" (the Errors page's form checks what people type).
    ``trends=False`` (the CSV) leaves out what only the page shows: the previous
    window, the sparklines and the chart, so it reads totals only.
    """
    by_id = {p.pk: p for p in (providers if providers is not None else Provider.objects.all())}
    keys = ("provider_id", "error_code", "category") if group == "code" else ("category",)
    errors = figures.error_rollups(window, providers=providers, channel=channel)
    sends = figures.send_rollups(window, providers=providers, channel=channel)

    # Totals per key in SQL: a few hundred rows, however many buckets the window holds.
    current: dict[tuple, int] = {}
    previous: dict[tuple, int] = {}
    if trends:
        # The previous window in the same statement: same length, so same grain.
        both = figures.error_rollups([window.previous, window], providers=providers, channel=channel)
        for *key, n, before in both.values_list(*keys).annotate(
            n=Sum("errors", filter=Q(bucket__gte=window.start), default=0),
            before=Sum("errors", filter=Q(bucket__lt=window.start), default=0),
        ):
            if n:
                current[tuple(key)], previous[tuple(key)] = n, before
    else:
        current = {tuple(key): n for *key, n in errors.values_list(*keys).annotate(n=Sum("errors"))}

    starts = window.bucket_starts()
    _, step = window.buckets()

    def slot(bucket: datetime) -> int:
        """The chart bucket a rollup row falls in (rows of the window's grain may be finer than the chart's)."""
        return (bucket - starts[0]) // step

    sends_by_provider: Counter = Counter()
    sends_per_bucket = [0] * len(starts)
    if trends:
        for provider_id, bucket, n in sends.values_list("provider_id", "bucket").annotate(n=Sum("sends")):
            sends_by_provider[provider_id] += n
            sends_per_bucket[slot(bucket)] += n
    else:
        sends_by_provider.update(dict(sends.values_list("provider_id").annotate(n=Sum("sends"))))

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
    if not trends:
        return Breakdown(window, group, rows, total_errors, total_sends, [], [])

    # One more pass for the buckets: each code (or category) with a sparkline keeps its own
    # rows, every other one folds into a NULL key per bucket, which the chart's "other" needs.
    shown = {key for key, _ in ranked[:SPARKLINE_ROWS]}
    column, position = ("error_code", 1) if group == "code" else ("category", 0)
    has_sparkline = Q(**{f"{column}__in": sorted({key[position] for key in shown})})
    folded = {f"key_{k}": Case(When(has_sparkline, then=F(k)), default=Value(None)) for k in keys}
    per_bucket: dict[tuple, list[int]] = defaultdict(lambda: [0] * len(starts))
    errors_per_bucket = [0] * len(starts)
    for *key, bucket, n in errors.annotate(**folded).values_list(*folded, "bucket").annotate(n=Sum("errors")):
        index = slot(bucket)
        per_bucket[tuple(key)][index] += n
        errors_per_bucket[index] += n

    for row, (key, _) in zip(rows[:SPARKLINE_ROWS], ranked[:SPARKLINE_ROWS], strict=False):
        row.sparkline = per_bucket[key]
    series = _chart_series(ranked, per_bucket, errors_per_bucket, sends_per_bucket, by_id, group)
    return Breakdown(
        window, group, rows, total_errors, total_sends, starts, series, errors_per_bucket, sends_per_bucket
    )


def _chart_series(ranked, per_bucket, errors_per_bucket, sends_per_bucket, by_id, group) -> list[ChartSeries]:
    """Error rate per bucket, stacked: the top codes, then everything else as 'other'."""
    top = [key for key, _ in ranked[:TOP_CODES_IN_CHART]]
    series = []
    for key in top:
        label = key[0] if group == "category" else f"{by_id[key[0]].name}: {key[1]}" if key[0] in by_id else key[1]
        series.append(ChartSeries(label, list(map(_rate, per_bucket[key], sends_per_bucket)), per_bucket[key]))
    if len(ranked) > TOP_CODES_IN_CHART:
        # Everything else is the bucket's total less the top codes: no pass over every code per bucket.
        other = [total - sum(per_bucket[key][i] for key in top) for i, total in enumerate(errors_per_bucket)]
        series.append(ChartSeries("other", list(map(_rate, other, sends_per_bucket)), other))
    return series


def _rate(errors: int, sends: int) -> float:
    return 100.0 * errors / sends if sends else 0.0


def export_rows(result: Breakdown) -> list[list[str]]:
    """The CSV rows: provider,error_code,category,errors,sends,error_rate (rate as a fraction, 6 places)."""
    lines = [["provider", "error_code", "category", "errors", "sends", "error_rate"]]
    for row in result.rows:
        rate = f"{row.errors / row.sends:.6f}" if row.sends else ""
        provider = row.provider.slug if row.provider else "all"
        code = row.key if row.provider else ""
        lines.append([provider, code, row.category, str(row.errors), str(row.sends), rate])
    return lines
