"""Charts drawn on the server as SVG geometry: no chart library, no JavaScript, CSP-safe.

Colours come from CSS classes (``series-0`` …), never from style attributes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


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
