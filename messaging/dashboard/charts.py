"""Charts drawn on the server as SVG geometry: no chart library, no JavaScript, CSP-safe.

Colours come from CSS classes (``series-0`` …), never from style attributes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal


def fixed(value: float, places: int) -> str:
    """``value`` to ``places`` decimals, rounded as floatformat rounds (half up), but never localized.

    floatformat's locale lookups cost ~20 µs a call, which the breakdown's hundreds of
    numbers felt; SVG coordinates need a dot whatever the language anyway.
    """
    rounded = Decimal(str(value)).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
    return str(rounded if rounded else abs(rounded))  # "0.0", never "-0.0"


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


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: int
    label: str
    value: float


@dataclass(frozen=True)
class StackedChart:
    width: int
    height: int
    bars: list[Bar]
    maximum: float
    labels: list[str]

    @property
    def gridlines(self) -> list[tuple[float, str]]:
        """Three horizontal guides with their values."""
        return [(self.height * (1 - f), f"{self.maximum * f:.2f}") for f in (0.25, 0.5, 0.75)] if self.maximum else []


def stacked_bars(series: Sequence[tuple[str, Sequence[float]]], width: int = 720, height: int = 180) -> StackedChart:
    """One bar per bucket, each series stacked on the ones before it."""
    labels = [label for label, _ in series]
    if not series or not series[0][1]:
        return StackedChart(width, height, [], 0.0, labels)
    buckets = len(series[0][1])
    totals = [sum(values[i] for _, values in series) for i in range(buckets)]
    maximum = max(totals) or 0.0
    slot = width / buckets
    bars: list[Bar] = []
    for bucket in range(buckets):
        base = 0.0
        for index, (label, values) in enumerate(series):
            value = values[bucket]
            if value <= 0 or not maximum:
                continue
            bar_height = value / maximum * height
            base += bar_height
            bars.append(Bar(bucket * slot + 1, height - base, max(slot - 2, 1), bar_height, index, label, value))
    return StackedChart(width, height, bars, maximum, labels)


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    points: str  # SVG polyline points
    area: str  # SVG path of the area under the line
    minimum: float
    maximum: float

    @property
    def gridlines(self) -> list[tuple[float, str]]:
        """Three horizontal guides with their values."""
        span = self.maximum - self.minimum
        if not self.points or not span:
            return []
        return [(self.height * (1 - f), f"{self.minimum + span * f:.2f}") for f in (0.25, 0.5, 0.75)]


def line_chart(
    readings: Sequence[tuple[datetime, float]], start: datetime, end: datetime, width: int = 720, height: int = 180
) -> LineChart:
    """A line (and the area under it) of timed values, placed by time so gaps in the readings show.

    The value axis starts at zero (or the lowest value, when below zero) so a small dip does not look like a crash.
    """
    inside = [(at, value) for at, value in readings if start <= at <= end]
    if not inside or end <= start:
        return LineChart(width, height, "", "", 0.0, 0.0)
    low = min(0.0, *(value for _, value in inside))
    high = max(value for _, value in inside)
    span = (high - low) or 1.0
    seconds = (end - start).total_seconds()
    coords = [
        ((at - start).total_seconds() / seconds * width, height - (value - low) / span * (height - 2) - 1)
        for at, value in inside
    ]
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    area = f"M{coords[0][0]:.1f},{height} L" + " L".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    area += f" L{coords[-1][0]:.1f},{height} Z"
    return LineChart(width, height, points, area, low, high)
