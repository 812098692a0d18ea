"""Charts drawn on the server as SVG: no chart library, no JavaScript, CSP-safe.

Colours come from CSS classes (``series-0`` …, ``series-other``), never from style attributes.

A chart is one ``<svg>`` laid out in CSS pixels (no viewBox), so its text is real
text at its real size at any width: the plot is a nested ``<svg>`` whose viewBox is
stretched to the width (bars, line, area), while gridlines, tick labels and markers
sit in the outer one, placed horizontally in percent of the width and vertically
in pixels (the plot's height is fixed: PLOT_TOP + height, see app.css).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise

from django.utils import dateformat, timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

PLOT_TOP = 14  # room above the plot for the top tick's label, in px
AXIS_HEIGHT = 24  # room under the plot for the time labels, in px
OTHER = "other"


def fixed(value: float, places: int) -> str:
    """``value`` to ``places`` decimals, rounded as floatformat rounds (half up), but never localized.

    floatformat's locale lookups cost ~20 µs a call, which the breakdown's hundreds of
    numbers felt; SVG coordinates need a dot whatever the language anyway.
    """
    rounded = Decimal(str(value)).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
    return str(rounded if rounded else abs(rounded))  # "0.0", never "-0.0"


def grouped(value: float, places: int) -> str:
    """``value`` with thousands separators, as people read amounts: 1,150.34 (rounded as :func:`fixed`)."""
    return f"{Decimal(fixed(value, places)):,.{places}f}"


def sparkline(values: Sequence[float], width: int = 120, height: int = 24) -> str:
    """The ``points`` of an SVG polyline for ``values``, scaled to the box (flat when all equal)."""
    if not values:
        return ""
    top = max(values)
    bottom = min(values)
    span = (top - bottom) or 1
    step = width / max(len(values) - 1, 1)
    return " ".join(
        f"{i * step:.1f},{height - 1 - (v - bottom) / span * (height - 2):.1f}" for i, v in enumerate(values)
    )


# -- axes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class YTick:
    y: float  # px from the top of the outer svg (the plot starts at PLOT_TOP)
    label: str
    value: float

    @property
    def label_y(self) -> float:
        """The label sits just above its gridline."""
        return round(self.y - 3, 1)


@dataclass(frozen=True)
class XTick:
    x: str  # percent of the width, "37.5%"
    anchor: str  # text-anchor: start, middle or end (the edges' labels stay inside the chart)
    label: str
    at: datetime
    minor: bool  # hidden on narrow screens, so the labels left do not collide


def nice_step(span: float, count: int) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) that cuts ``span`` into about ``count`` parts."""
    if span <= 0:
        return 1.0
    raw = span / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    return next(f * power for f in (1, 2, 2.5, 5, 10) if f * power >= raw - 1e-12 * power)


def nice_range(low: float, high: float, most: int = 5) -> tuple[float, float, float]:
    """(bottom, top, step): round ticks that contain ``low``..``high`` in 2 to ``most`` steps.

    Of the candidates, the tightest range wins (the data fills the height); on a tie, the finer step.
    """
    best: tuple[float, float, float] | None = None
    for count in range(2, most + 1):
        step = nice_step(high - low, count)
        bottom = math.floor(low / step + 1e-9) * step
        top = math.ceil(high / step - 1e-9) * step
        if top <= bottom:
            top = bottom + step
        if round((top - bottom) / step) > most:
            continue
        if best is None or (top - bottom, step) < (best[1] - best[0], best[2]):
            best = (bottom, top, step)
    if best is None:  # not reached: two steps always fit
        step = nice_step(high - low, 1)
        return math.floor(low / step) * step, math.ceil(high / step) * step or step, step
    return best


def decimals_for(step: float) -> int:
    """Decimals a tick label needs for ``step``: 0 for 50, 1 for 0.5, 2 for 0.25."""
    for places in range(0, 6):
        if abs(round(step, places) - step) < 1e-9:
            return places
    return 6


def y_ticks(bottom: float, top: float, step: float, height: int, unit: str = "") -> list[YTick]:
    places = decimals_for(step)
    count = round((top - bottom) / step)
    ticks = []
    for i in range(count + 1):
        value = bottom + i * step
        y = PLOT_TOP + height - (value - bottom) / (top - bottom) * height
        label = grouped(value, places) + (f" {unit}" if unit else "")
        ticks.append(YTick(round(y, 1), label, value))
    return ticks


# Steps for time ticks; the first giving at most MAX_X_TICKS ticks wins.
TIME_STEPS = (
    [timedelta(minutes=m) for m in (5, 10, 15, 30)]
    + [timedelta(hours=h) for h in (1, 2, 3, 6, 12)]
    + [timedelta(days=d) for d in (1, 2, 7, 14, 28)]
)
MAX_X_TICKS = 8


def _aligned(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    """Local moments in [start, end] on round boundaries of ``step``: 14:00, midnight, Mondays."""
    zone = timezone.get_current_timezone()
    local = timezone.localtime(start, zone).replace(tzinfo=None)
    if step < timedelta(hours=1):
        minutes = int(step.total_seconds() // 60)
        cursor = local.replace(second=0, microsecond=0, minute=local.minute // minutes * minutes)
    elif step < timedelta(days=1):
        hours = int(step.total_seconds() // 3600)
        cursor = local.replace(minute=0, second=0, microsecond=0, hour=local.hour // hours * hours)
    else:
        days = step.days
        cursor = local.replace(hour=0, minute=0, second=0, microsecond=0)
        # Day ticks on a fixed rhythm of the calendar (every other day, Mondays for weeks).
        while (cursor.toordinal() - 1) % days:
            cursor -= timedelta(days=1)
    moments: list[datetime] = []
    while True:
        moment = timezone.make_aware(cursor, zone)
        if moment > end:
            return moments
        if moment >= start:
            moments.append(moment)
        cursor += step


def x_ticks(start: datetime, end: datetime, max_ticks: int = MAX_X_TICKS) -> list[XTick]:
    """Labelled moments along a time axis from ``start`` to ``end``: times of day, or dates at midnight."""
    if end <= start:
        return []
    seconds = (end - start).total_seconds()
    moments: list[datetime] = []
    step = TIME_STEPS[-1]
    for step in TIME_STEPS:
        moments = _aligned(start, end, step)
        if len(moments) <= max_ticks:
            break
    ticks = []
    for index, moment in enumerate(moments):
        local = timezone.localtime(moment)
        midnight = (local.hour, local.minute) == (0, 0)
        label = dateformat.format(local, "j M" if midnight or step >= timedelta(days=1) else "H:i")
        share = (moment - start).total_seconds() / seconds * 100
        anchor = "start" if share < 4 else "end" if share > 96 else "middle"
        minor = len(moments) > 4 and index % 2 == 1
        ticks.append(XTick(f"{fixed(share, 2)}%", anchor, label, moment, minor))
    return ticks


def moment_text(moment: datetime) -> str:
    """A moment as the rest of the app writes one (sw_datetime): 1 Dec 2026 20:57, in the reader's time zone."""
    return dateformat.format(timezone.localtime(moment), "j M Y H:i")


class Layout:
    """Where a chart's parts go in its outer svg, in px: the plot, then the time axis under it."""

    height: int  # the plot's

    plot_top = PLOT_TOP

    @property
    def outer_height(self) -> int:
        return PLOT_TOP + self.height + AXIS_HEIGHT

    @property
    def axis_y(self) -> int:
        """Where the plot ends and the time axis begins."""
        return PLOT_TOP + self.height

    @property
    def tick_end(self) -> int:
        return PLOT_TOP + self.height + 4

    @property
    def label_y(self) -> int:
        return PLOT_TOP + self.height + AXIS_HEIGHT - 6


# -- stacked bars (the Errors page) -------------------------------------------------


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: int
    label: str
    value: float
    start: datetime | None = None  # the bucket's start
    css: str = ""  # the series' class: series-0 …, or series-other


@dataclass(frozen=True)
class StackedChart(Layout):
    width: int
    height: int
    bars: list[Bar]
    maximum: float  # the highest stack
    labels: list[str]
    unit: str = ""
    top: float = 0.0  # the value axis' top: the round tick at or above ``maximum``
    yticks: list[YTick] = field(default_factory=list)
    xticks: list[XTick] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)  # each series' CSS class, as ``labels``

    @property
    def gridlines(self) -> list[tuple[float, str]]:
        """The horizontal guides (px from the top of the outer svg) with their labels, zero excluded."""
        return [(tick.y, tick.label) for tick in self.yticks if tick.value]

    @property
    def legend(self) -> list[tuple[str, str]]:
        """(label, CSS class) per series, in stacking order (bottom first)."""
        return list(zip(self.labels, self.classes, strict=True))

    @property
    def rects(self) -> SafeString:
        """The bars as SVG rects, each titled with its bucket's time, its series and its value.

        One pass in Python: as a template loop, ~180 bars of seven values each were the
        costliest part of the error breakdown. Only the texts need escaping.
        """
        labels = {label: escape(label) for label in self.labels}
        unit = escape(self.unit)
        times: dict[datetime | None, str] = {}
        parts = []
        for bar in self.bars:
            if bar.start not in times:
                times[bar.start] = f"{escape(moment_text(bar.start))} · " if bar.start else ""
            parts.append(
                f'<rect class="{bar.css or f"series-{bar.series}"}" x="{fixed(bar.x, 1)}" y="{fixed(bar.y, 1)}" '
                f'width="{fixed(bar.width, 1)}" height="{fixed(bar.height, 1)}">'
                f"<title>{times[bar.start]}{labels[bar.label]}: {fixed(bar.value, 2)} {unit}</title></rect>"
            )
        return mark_safe("".join(parts))  # noqa: S308 - every text is escaped above


def stacked_bars(
    series: Sequence[tuple[str, Sequence[float]]],
    width: int = 720,
    height: int = 180,
    *,
    starts: Sequence[datetime] = (),
    end: datetime | None = None,
    unit: str = "",
) -> StackedChart:
    """One bar per bucket, each series stacked on the ones before it, the value axis from 0 to a round top.

    ``starts`` are the buckets' starts and ``end`` the last one's end, for the time axis
    and the bars' titles. A series labelled "other" (the rest, folded) gets the quiet
    ``series-other`` class; the named ones ``series-0`` … in order.
    """
    labels = [label for label, _ in series]
    classes = [
        "series-other" if label == OTHER and index == len(series) - 1 else f"series-{index}"
        for index, (label, _) in enumerate(series)
    ]
    if not series or not series[0][1]:
        return StackedChart(width, height, [], 0.0, labels, unit, classes=classes)
    buckets = len(series[0][1])
    totals = [sum(values[i] for _, values in series) for i in range(buckets)]
    maximum = max(totals) or 0.0
    bottom, top, step = nice_range(0.0, maximum) if maximum else (0.0, 0.0, 1.0)
    slot = width / buckets
    bars: list[Bar] = []
    for bucket in range(buckets):
        base = 0.0
        for index, (label, values) in enumerate(series):
            value = values[bucket]
            if value <= 0 or not maximum:
                continue
            bar_height = value / top * height
            base += bar_height
            at = starts[bucket] if bucket < len(starts) else None
            bars.append(
                Bar(
                    bucket * slot + 1,
                    height - base,
                    max(slot - 2, 1),
                    bar_height,
                    index,
                    label,
                    value,
                    at,
                    classes[index],
                )
            )
    yticks = y_ticks(bottom, top, step, height) if maximum else []
    xticks: list[XTick] = []
    if starts:
        last = end or (starts[-1] + (starts[-1] - starts[-2] if len(starts) > 1 else timedelta(hours=1)))
        xticks = x_ticks(starts[0], last)
    return StackedChart(width, height, bars, maximum, labels, unit, top, yticks, xticks, classes)


# -- a line over time (a provider's balance) ----------------------------------------


@dataclass(frozen=True)
class Point:
    x: str  # percent of the width
    y: float  # px from the top of the outer svg
    at: datetime
    value: float
    title: str


@dataclass(frozen=True)
class LineChart(Layout):
    width: int
    height: int
    points: str  # SVG polyline points, in the plot's viewBox
    area: str  # SVG path of the area under the line
    minimum: float  # the lowest reading
    maximum: float  # the highest reading
    unit: str = ""
    bottom: float = 0.0  # the value axis' range: round ticks around the readings, not from zero
    top: float = 0.0
    first: tuple[datetime, float] | None = None  # the first and last readings, as read
    last: tuple[datetime, float] | None = None
    yticks: list[YTick] = field(default_factory=list)
    xticks: list[XTick] = field(default_factory=list)
    hover: list[tuple[float, float, str]] = field(default_factory=list)  # (x, width, title) in the viewBox
    end_point: Point | None = None  # the last reading, marked

    @property
    def gridlines(self) -> list[tuple[float, str]]:
        """The horizontal guides (px from the top of the outer svg) with their labels."""
        return [(tick.y, tick.label) for tick in self.yticks]

    @property
    def places(self) -> int:
        """Decimals for values: 2 for money, 0 for a count of messages."""
        return 2 if self.unit and len(self.unit) <= 4 else 0

    def amount(self, value: float) -> str:
        return f"{grouped(value, self.places)} {self.unit}".strip()

    @property
    def hover_rects(self) -> SafeString:
        """Invisible columns over the plot, one per reading, each titled with its time and value."""
        return mark_safe(  # noqa: S308 - titles are escaped
            "".join(
                f'<rect class="hover" x="{fixed(x, 1)}" y="0" width="{fixed(w, 1)}" height="{self.height}">'
                f"<title>{escape(title)}</title></rect>"
                for x, w, title in self.hover
            )
        )

    @property
    def trend(self) -> str:
        """The first reading against the last, in words: "fell from 1,150.34 EUR to 1,034.00 EUR over 7 days"."""
        if self.first is None or self.last is None:
            return ""
        (since, before), (until, after) = self.first, self.last
        if self.amount(before) == self.amount(after):
            verb = f"stayed at {self.amount(after)}"
        else:
            verb = f"{'fell' if after < before else 'rose'} from {self.amount(before)} to {self.amount(after)}"
        return f"{verb} over {duration_text(until - since)}"

    @property
    def extremes(self) -> str:
        """ "lowest …, highest …" when the line went beyond its first and last readings (a top-up, a dip), else ""."""
        if self.first is None or self.last is None:
            return ""
        ends = sorted((self.first[1], self.last[1]))
        if self.minimum >= ends[0] and self.maximum <= ends[1]:
            return ""
        return f"lowest {self.amount(self.minimum)}, highest {self.amount(self.maximum)}"


def duration_text(span: timedelta) -> str:
    """A span in the unit people would say: "7 days", "1 day", "18 hours", "40 minutes"."""
    hours = span.total_seconds() / 3600
    if hours >= 36:
        days = round(hours / 24)
        return f"{days} day{'s' if days != 1 else ''}"
    if hours >= 1:
        whole = round(hours)
        return f"{whole} hour{'s' if whole != 1 else ''}"
    minutes = round(span.total_seconds() / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def value_range(low: float, high: float) -> tuple[float, float, float]:
    """The value axis for readings ``low``..``high``: round ticks around them with some room, not from zero.

    A tenth of the span is added on each side (or, when the readings are flat, 5 % of the
    value, at least 1) and the range widened to round ticks; it crosses zero only when the
    readings do, so a fall from 1,150 to 1,034 fills the height instead of looking flat.
    """
    span = high - low
    pad = span * 0.1 if span else max(abs(high) * 0.05, 1.0)
    bottom, top = low - pad, high + pad
    if low >= 0 > bottom:
        bottom = 0.0
    return nice_range(bottom, top)


def line_chart(
    readings: Sequence[tuple[datetime, float]],
    start: datetime,
    end: datetime,
    width: int = 720,
    height: int = 180,
    *,
    unit: str = "",
    series: str = "Balance",
) -> LineChart:
    """A line (and the area under it) of timed values, placed by time so gaps in the readings show.

    The value axis is :func:`value_range` of the readings; the time axis runs from ``start`` to ``end``.
    """
    inside = [(at, value) for at, value in readings if start <= at <= end]
    if not inside or end <= start:
        return LineChart(width, height, "", "", 0.0, 0.0, unit)
    low = min(value for _, value in inside)
    high = max(value for _, value in inside)
    bottom, top, step = value_range(low, high)
    seconds = (end - start).total_seconds()
    coords = [
        ((at - start).total_seconds() / seconds * width, height - (value - bottom) / (top - bottom) * height)
        for at, value in inside
    ]
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    area = f"M{coords[0][0]:.1f},{height} L" + " L".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    area += f" L{coords[-1][0]:.1f},{height} Z"
    chart = LineChart(
        width,
        height,
        points,
        area,
        low,
        high,
        unit,
        bottom,
        top,
        first=inside[0],
        last=inside[-1],
        yticks=y_ticks(bottom, top, step, height, unit if unit and len(unit) <= 4 else ""),
        xticks=x_ticks(start, end),
    )
    # Hover columns reach halfway to the neighbouring readings.
    xs = [x for x, _ in coords]
    edges = [0.0, *((a + b) / 2 for a, b in pairwise(xs)), float(width)]
    hover = [
        (edges[i], max(edges[i + 1] - edges[i], 0.5), f"{moment_text(at)} · {series}: {chart.amount(value)}")
        for i, (at, value) in enumerate(inside)
    ]
    at, value = inside[-1]
    end_point = Point(f"{fixed(xs[-1] / width * 100, 2)}%", round(PLOT_TOP + coords[-1][1], 1), at, value, hover[-1][2])
    return replace(chart, hover=hover, end_point=end_point)
