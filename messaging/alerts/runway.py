"""Runway: how fast a provider's balance (or plan quota) is used, and when it runs out.

Money vendors. The burn rate comes from the balance readings of the last
``SENDWATCH_RUNWAY_WINDOW_HOURS`` (72 h). Only *decreases* between consecutive
real readings count, over the time they took: an interval in which the balance
rose holds a top-up, so it starts a new segment and neither its change nor its
duration is counted. Degraded readings (23 Telecom ``unavailable``), failed
polls and readings without an amount are skipped, so the last real amount is
what the runway is measured from. With less than
``SENDWATCH_RUNWAY_MIN_SPAN_MINUTES`` of usable history, or no decrease at all,
there is no rate: the runway is ``None`` ("not draining"), never a division by
almost zero.

Quota vendors (Telnxo, texting.blue). Remaining = limit - used of the latest
reading. The rate is the larger of the vendor counter's growth between readings
(Telnxo; a drop is the monthly reset and is ignored like a top-up) and
Sendwatch's own sends over the window's whole hours, read from the send rollups
whatever their status (texting.blue has no counter; the vendor's may include other
systems sharing the account). The plan resets at the
start of the next calendar month (UTC), or at Telnxo's ``period_end`` when the
vendor gives it; a quota that lasts past the reset has ``capped_at_reset`` set
and its ``hours_left`` is the time to the reset, which threshold checks ignore.

``runway_for_providers`` reads everything for any number of providers in two
queries (the sends from the rollups); the maths is in pure functions over plain
readings, easy to test.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

from django.conf import settings
from django.db.models import Min, Sum
from django.utils import timezone

from messaging.models import BalanceSnapshot, Provider, SendRollup
from messaging.traffic.rollups import ceil

HOUR = timedelta(hours=1)
# Statuses of sends that used money or quota at the vendor.


@dataclass(frozen=True)
class Reading:
    """One balance reading, as the runway maths needs it."""

    fetched_at: datetime
    amount: Decimal | None = None
    used: int | None = None
    limit: int | None = None
    ok: bool = True
    unavailable: bool = False
    details: dict | None = None

    @classmethod
    def of(cls, snapshot: BalanceSnapshot) -> Reading:
        return cls(
            snapshot.fetched_at,
            snapshot.amount,
            snapshot.used,
            snapshot.limit,
            snapshot.ok,
            snapshot.unavailable,
            snapshot.details,
        )


@dataclass(frozen=True)
class Runway:
    burn_per_hour: float | None  # currency units (or messages) per hour; None without a rate
    hours_left: float | None  # None: not draining or not known
    runs_out_at: datetime | None
    basis: str  # how it was worked out, for people
    unit: str = ""
    remaining: float | None = None
    resets_at: datetime | None = None  # quota vendors: when the plan resets
    capped_at_reset: bool = False  # the quota lasts until the reset; hours_left is the time to it

    @property
    def draining(self) -> bool:
        return self.hours_left is not None and not self.capped_at_reset

    @property
    def label(self) -> str:
        """'~5 hours', '~3.2 days', 'until the reset', 'not draining'."""
        if self.capped_at_reset:
            return "lasts until the plan resets"
        if self.hours_left is None:
            return "not draining" if self.burn_per_hour == 0 else "unknown"
        return "used up" if self.hours_left <= 0 else f"runs out in {human_hours(self.hours_left)}"


def human_hours(hours: float) -> str:
    if hours < 1:
        return f"~{max(1, round(hours * 60))} minutes"
    if hours < 48:
        return f"~{hours:.0f} hours" if hours >= 10 else f"~{hours:.1f} hours"
    return f"~{hours / 24:.1f} days"


def window() -> timedelta:
    return timedelta(hours=settings.SENDWATCH_RUNWAY_WINDOW_HOURS)


def min_span() -> timedelta:
    return timedelta(minutes=settings.SENDWATCH_RUNWAY_MIN_SPAN_MINUTES)


def _consumption(points: Sequence[tuple[datetime, float]], *, rising_is_use: bool) -> tuple[float, float, int]:
    """(units used, hours counted, resets seen) over consecutive points, skipping intervals that went the wrong way.

    Money falls as it is used (``rising_is_use=False``); a quota counter rises.
    """
    used = hours = 0.0
    resets = 0
    for (t0, v0), (t1, v1) in pairwise(points):
        delta = (v1 - v0) if rising_is_use else (v0 - v1)
        if delta < 0:
            resets += 1  # a top-up (money) or a plan reset (quota): a new segment starts
            continue
        used += delta
        hours += (t1 - t0).total_seconds() / 3600
    return used, hours, resets


def money_runway(readings: Iterable[Reading], now: datetime, *, unit: str = "") -> Runway:
    start = now - window()
    points = sorted(
        (r.fetched_at, float(r.amount))
        for r in readings
        if r.ok and not r.unavailable and r.amount is not None and start <= r.fetched_at <= now
    )
    if not points:
        return Runway(None, None, None, f"no balance reading in the last {_window_text()}", unit)
    at, current = points[-1]
    used, hours, topups = _consumption(points, rising_is_use=False)
    span = (at - points[0][0]).total_seconds() / 3600
    if span * 3600 < min_span().total_seconds() or hours <= 0:
        return Runway(None, None, None, f"not enough history yet (readings over {_span_text()} needed)", unit, current)
    burn = used / hours
    topup_text = f", {topups} top-up{'s' if topups != 1 else ''} left out" if topups else ""
    if used <= 0 or burn < 1e-9:
        return Runway(0.0, None, None, f"not draining: no decrease over {span:.0f} h{topup_text}", unit, current)
    basis = f"{used:.2f} {unit} used over {hours:.1f} h of {len(points)} readings{topup_text}".replace("  ", " ")
    if current <= 0:
        return Runway(burn, 0.0, at, basis + "; the balance is used up", unit, current)
    left = current / burn
    return Runway(burn, left, at + timedelta(hours=left), basis, unit, current)


def plan_resets_at(now: datetime, details: dict | None = None) -> datetime:
    """The vendor's period end when it gives one (Telnxo; a bare date is its last day, in UTC),
    else the start of next calendar month in UTC."""
    end = (details or {}).get("period_end")
    if isinstance(end, str):
        try:
            moment = datetime.fromisoformat(end.replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is not None:
            if timezone.is_naive(moment):
                moment = moment.replace(tzinfo=UTC)
            if len(end) == 10:  # a date ("2026-11-30") is the period's last day: it resets after it
                moment += timedelta(days=1)
            if moment > now:
                return moment
    return month_start(now, months=1)


def month_start(moment: datetime, months: int = 0) -> datetime:
    """The start of moment's calendar month in UTC, moved by ``months``."""
    moment = moment.astimezone(UTC)
    index = moment.year * 12 + moment.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def quota_runway(
    readings: Iterable[Reading],
    now: datetime,
    *,
    own_sends: int | None = None,
    since: datetime | None = None,
) -> Runway:
    """``own_sends``: Sendwatch's sends to the provider (every status, from the rollups) since ``since``.

    ``since`` is when those sends start (default the window start): the rate divides by that span.
    """
    start = now - window()
    usable = sorted(
        (r for r in readings if r.ok and r.limit is not None and start <= r.fetched_at <= now),
        key=lambda r: r.fetched_at,
    )
    unit = "messages"
    if not usable:
        return Runway(None, None, None, f"no plan reading in the last {_window_text()}", unit)
    latest = usable[-1]
    resets_at = plan_resets_at(now, latest.details)
    if latest.used is None or latest.limit is None:  # limit: never None, usable has limits only
        return Runway(None, None, None, "plan usage unknown", unit, resets_at=resets_at)
    remaining = float(max(0, latest.limit - latest.used))
    rates: list[tuple[float, str]] = []
    points = [(r.fetched_at, float(r.used)) for r in usable if r.used is not None]
    used, hours, _ = _consumption(points, rising_is_use=True)
    if hours * 3600 >= min_span().total_seconds():
        rates.append((used / hours, f"plan counter: {used:.0f} over {hours:.1f} h"))
    since = max(since or start, start)
    sent_hours = (now - since).total_seconds() / 3600
    if own_sends is not None and sent_hours * 3600 >= min_span().total_seconds():
        rates.append((own_sends / sent_hours, f"Sendwatch's sends: {own_sends} over {sent_hours:.1f} h"))
    if not rates:
        return Runway(
            None,
            None,
            None,
            f"not enough history yet (readings over {_span_text()} needed)",
            unit,
            remaining,
            resets_at,
        )
    burn, basis = max(rates)
    if burn < 1e-9:
        return Runway(0.0, None, None, f"not draining ({basis})", unit, remaining, resets_at)
    to_reset = (resets_at - now).total_seconds() / 3600
    if remaining <= 0:
        return Runway(burn, 0.0, latest.fetched_at, f"quota used up until {resets_at:%d %b}", unit, 0.0, resets_at)
    left = remaining / burn
    runs_out_at = latest.fetched_at + timedelta(hours=left)
    if runs_out_at >= resets_at:
        return Runway(
            burn,
            max(0.0, to_reset),
            None,
            f"{basis}; lasts past the plan reset on {resets_at:%d %b}",
            unit,
            remaining,
            resets_at,
            capped_at_reset=True,
        )
    return Runway(burn, left, runs_out_at, basis, unit, remaining, resets_at)


def runway_for(provider: Provider, now: datetime | None = None) -> Runway:
    return runway_for_providers([provider], now)[provider.pk]


def runway_for_providers(providers: Sequence[Provider], now: datetime | None = None) -> dict[int, Runway]:
    """The runway of every provider, keyed by id, in two queries whatever their number."""
    now = now or timezone.now()
    start = now - window()
    ids = [p.pk for p in providers]
    if not ids:
        return {}
    readings: dict[int, list[Reading]] = defaultdict(list)
    rows = (
        BalanceSnapshot.objects.filter(provider_id__in=ids, fetched_at__gte=start, fetched_at__lte=now, ok=True)
        .order_by("provider_id", "fetched_at")
        .values_list("provider_id", "fetched_at", "amount", "used", "limit", "unavailable", "details")
    )
    for provider_id, fetched_at, amount, used, limit, unavailable, details in rows:
        readings[provider_id].append(Reading(fetched_at, amount, used, limit, True, unavailable, details))
    # Our own sends come from the hourly rollups: counting the raw rows read ~1 M sends at 10 M a
    # month (seconds). Whole hours from the first after the window start, so the count and the
    # hours it is divided by cover the same span; the rollups count every send, whatever its status.
    counted_from = ceil(start, HOUR)
    sends: dict[int, tuple[int, datetime]] = {
        provider_id: (n, first)
        for provider_id, n, first in SendRollup.objects.filter(
            grain=int(HOUR.total_seconds()), provider_id__in=ids, bucket__gte=counted_from, bucket__lte=now, sends__gt=0
        )
        .order_by()
        .values("provider_id")
        .annotate(n=Sum("sends"), first=Min("bucket"))
        .values_list("provider_id", "n", "first")
    }
    result = {}
    for provider in providers:
        if provider.is_plan_based:
            # The rate divides by the span the counted sends cover, from their first hour:
            # never by the provider's age (backfilled or demo sends predate it).
            own_sends, first_send_hour = sends.get(provider.pk, (0, counted_from))
            result[provider.pk] = quota_runway(readings[provider.pk], now, own_sends=own_sends, since=first_send_hour)
        else:
            result[provider.pk] = money_runway(readings[provider.pk], now, unit=provider.currency)
    return result


def _window_text() -> str:
    return f"{settings.SENDWATCH_RUNWAY_WINDOW_HOURS} h"


def _span_text() -> str:
    minutes = settings.SENDWATCH_RUNWAY_MIN_SPAN_MINUTES
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"
