"""Every count of errors and sends that a page or an alert shows, and the windows they are counted over.

One source and one rule for every figure: the Overview's cards, the Errors page (table,
chart, CSV), the Error codes page, a provider's page and the error-spike alerts all count
through :func:`error_rollups` and :func:`send_rollups`, over a :class:`Window`.

- **Errors** are error events of sends (source ``send`` or ``ingest``): a failed balance
  poll or key check is not a failed message. **Sends** are Send rows by ``created_at``.
- A window is half-open, ``[start, end)``: a row at ``start`` counts, a row at ``end``
  belongs to the next window. Its bounds are whole buckets of its grain (5 minutes up to
  2 h, 1 hour up to 8 days, 1 UTC day beyond), so the sum of the rollup rows whose bucket
  starts inside it is exactly the count of the raw rows inside it (messaging.traffic.rollups
  counts every row at every grain in the transaction that writes it).
- A window "of the last 15 min / 24 h / 7 d" ends with the bucket that holds now (so the
  latest rows are always in) and starts its length earlier (:func:`latest_window`). Pages
  show its bounds next to every figure; an alert keeps them in its details.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce
from operator import or_
from typing import Any

from django.db.models import Model, Q, QuerySet, Sum
from django.utils import timezone

from messaging.models import ErrorRollup, Provider, SendRollup
from messaging.traffic.rollups import GRAINS, SEND_SOURCES, ceil, floor

__all__ = [
    "DEFAULT_WINDOW",
    "MAX_CUSTOM_WINDOW",
    "SEND_SOURCES",
    "WINDOWS",
    "Totals",
    "Window",
    "custom_window",
    "error_rollups",
    "errors_by",
    "grain_for",
    "latest_window",
    "preset_window",
    "send_rollups",
    "sends_by",
    "snap",
    "totals_by_provider",
]

WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
DEFAULT_WINDOW = "24h"
MAX_CUSTOM_WINDOW = timedelta(days=92)


def grain_for(length: timedelta) -> timedelta:
    """The rollup grain a window of ``length`` reads: the coarsest that still gives its chart buckets."""
    if length <= timedelta(hours=2):
        return GRAINS[0]
    if length <= timedelta(days=8):
        return GRAINS[1]
    return GRAINS[2]


def span_text(length: timedelta) -> str:
    """A window's length as people read it: "15 min", "24 h", "7 d"."""
    minutes = int(length.total_seconds() // 60)
    if minutes % (24 * 60) == 0 and minutes >= 2 * 24 * 60:
        return f"{minutes // (24 * 60)} d"
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"


@dataclass(frozen=True)
class Window:
    """``[start, end)`` in whole buckets of its grain; ``key`` is the preset's name or "custom"."""

    key: str
    start: datetime
    end: datetime

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    @property
    def grain(self) -> timedelta:
        """The rollup grain this window reads: the coarsest that still gives its sparkline buckets."""
        return grain_for(self.length)

    @property
    def grain_label(self) -> str:
        return {300: "5-minute", 3600: "hour", 86400: "UTC-day"}[int(self.grain.total_seconds())]

    @property
    def span(self) -> str:
        """Its length for people: "15 min", "1 h", "24 h", "7 d"."""
        return span_text(self.length)

    @property
    def label(self) -> str:
        """What a page says the figure covers: "last 24 h" for a preset, "custom window" otherwise."""
        return f"last {self.span}" if self.key in WINDOWS else "custom window"

    @property
    def previous(self) -> Window:
        return Window(self.key, self.start - self.length, self.start)

    def shifted(self, by: timedelta) -> Window:
        """The same window moved by ``by`` (a whole number of its grain: the same buckets a day earlier, say)."""
        return Window(self.key, self.start + by, self.end + by)

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
        first = floor(self.start, step)
        starts, current = [], first
        while current < self.end:
            starts.append(current)
            current += step
        return starts


def latest_window(length: timedelta, now: datetime | None = None, key: str = "custom") -> Window:
    """The last ``length`` (rounded up to whole buckets), ending with the bucket that holds ``now``.

    Both presets and the spike alerts' windows are made here, so an alert's window is
    one the Errors page shows as it is (a custom window of whole buckets is not widened).
    """
    now = now or timezone.now()
    grain = grain_for(length)
    end = floor(now, grain) + grain
    buckets = -(-length // grain)  # whole buckets, rounded up
    return Window(key, end - buckets * grain, end)


def preset_window(key: str, now: datetime | None = None) -> Window:
    """One of WINDOWS ending with the bucket that holds now, so the latest errors are always in."""
    return latest_window(WINDOWS[key], now, key)


def custom_window(begin: datetime, finish: datetime) -> Window:
    """The window from ``begin`` to ``finish`` snapped to whole buckets; ValueError (saying why) when it is not one."""
    if finish <= begin:
        raise ValueError("the custom window must end after it starts")
    if finish - begin > MAX_CUSTOM_WINDOW:
        raise ValueError("a custom window may span at most 92 days")
    return snap(begin, finish)


def snap(begin: datetime, finish: datetime) -> Window:
    """The custom window widened to whole buckets of its grain, so it covers at least what was asked."""
    grain = grain_for(finish - begin)
    while True:
        start, end = floor(begin, grain), ceil(finish, grain)
        if grain_for(end - start) == grain:
            return Window("custom", start, end)
        grain = grain_for(end - start)  # widening made it longer: snap to the coarser grain


# -- the counts --------------------------------------------------------------------------------

Windows = Window | Sequence[Window]
Providers = Iterable[Provider | int] | None


def error_rollups(windows: Windows, *, providers: Providers = None, channel: str | None = None) -> QuerySet:
    """The ErrorRollup rows that hold the errors of sends inside ``windows`` (one, or several of one grain)."""
    return _rows(ErrorRollup, windows, providers, channel)


def send_rollups(windows: Windows, *, providers: Providers = None, channel: str | None = None) -> QuerySet:
    """The SendRollup rows that hold the sends inside ``windows`` (one, or several of one grain)."""
    return _rows(SendRollup, windows, providers, channel)


def errors_by(windows: Windows, *keys: str, providers: Providers = None, channel: str | None = None) -> dict[Any, int]:
    """Errors of sends inside ``windows`` per value of ``keys`` (rollup columns, or lookups like provider__kind).

    One key gives {value: n}, several {(value, …): n}: one query.
    """
    return _sum(error_rollups(windows, providers=providers, channel=channel), "errors", keys)


def sends_by(windows: Windows, *keys: str, providers: Providers = None, channel: str | None = None) -> dict[Any, int]:
    """Sends inside ``windows`` per value of ``keys``, as :func:`errors_by` counts errors: one query."""
    return _sum(send_rollups(windows, providers=providers, channel=channel), "sends", keys)


@dataclass(frozen=True)
class Totals:
    errors: int
    sends: int

    @property
    def rate(self) -> float | None:
        """Errors per 100 sends (Σ over Σ, never an average of rates); None without sends."""
        return 100.0 * self.errors / self.sends if self.sends else None


def totals_by_provider(
    windows: Windows, providers: Iterable[Provider | int], *, channel: str | None = None
) -> dict[int, Totals]:
    """Errors and sends inside ``windows`` for each of ``providers`` (zeros included): two queries."""
    ids = _ids(providers)
    errors = errors_by(windows, "provider_id", providers=ids, channel=channel)
    sends = sends_by(windows, "provider_id", providers=ids, channel=channel)
    return {pk: Totals(errors.get(pk, 0), sends.get(pk, 0)) for pk in ids}


def _ids(providers: Iterable[Provider | int]) -> list[int]:
    return [p.pk if isinstance(p, Provider) else p for p in providers]


def _spans(windows: Windows) -> tuple[timedelta, list[tuple[datetime, datetime]]]:
    """The windows' grain and their bounds, touching or overlapping ones merged (a window and its previous: one)."""
    listed = [windows] if isinstance(windows, Window) else list(windows)
    if not listed:
        raise ValueError("count over at least one window")
    grain = listed[0].grain
    if any(window.grain != grain for window in listed):
        raise ValueError("windows counted together must read the same grain")
    if any(floor(moment, grain) != moment for window in listed for moment in (window.start, window.end)):
        raise ValueError("a window counted from the rollups starts and ends on its grain's bucket edges")
    merged: list[tuple[datetime, datetime]] = []
    for window in sorted(listed, key=lambda w: w.start):
        if merged and window.start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], window.end))
        else:
            merged.append((window.start, window.end))
    return grain, merged


def _rows(model: type[Model], windows: Windows, providers: Providers, channel: str | None) -> QuerySet:
    grain, spans = _spans(windows)
    rows = model._default_manager.filter(
        reduce(or_, (Q(bucket__gte=start, bucket__lt=end) for start, end in spans)),
        grain=int(grain.total_seconds()),
    )
    if providers is not None:
        rows = rows.filter(provider_id__in=_ids(providers))
    if channel:
        rows = rows.filter(channel=channel)
    return rows.order_by()


def _sum(rows: QuerySet, column: str, keys: tuple[str, ...]) -> dict[Any, int]:
    if not keys:
        raise ValueError("count per at least one key")
    grouped = rows.values_list(*keys).annotate(n=Sum(column))
    if len(keys) == 1:
        return {key: n for key, n in grouped}
    return {tuple(key): n for *key, n in grouped}
