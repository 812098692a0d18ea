"""Error-spike alerts, evaluated every minute by beat.

For each enabled provider the error rate over its last ``spike_window_minutes``
is Σ error events / Σ sends: ErrorEvent rows from sends and the ingest API (a
failed balance poll is not a failed message) over Send rows created in the
window, the same definition as the error breakdown page. A send retried after
an error can add more than one event, so the rate is "errors per 100 sends".

An alert opens when the window holds at least ``spike_min_sends`` sends and the
rate is above ``error_rate_ceiling_percent`` or above
``spike_baseline_factor`` x the baseline. The baseline is the rate in windows
of the same length at the same time of day on each of the previous 7 days
(Σ over Σ again), used only when those windows held at least
``spike_min_sends`` sends, and never taken as less than
``SENDWATCH_SPIKE_BASELINE_FLOOR_PERCENT``. It is critical at
``SENDWATCH_SPIKE_CRITICAL_FACTOR`` x the ceiling. It names the top error codes.

It clears once the rate is back under the ceiling (and the baseline limit) by
the hysteresis margin; with too few sends to judge, only a window with no
errors at all clears it.

Queries: a fixed number per distinct window length (GROUP BY provider), not per provider.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import reduce
from operator import or_

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from messaging.alerts import lifecycle as alerts
from messaging.models import Alert, ErrorEvent, Provider, Send

SEND_SOURCES = (ErrorEvent.Source.SEND, ErrorEvent.Source.INGEST)
BASELINE_DAYS = 7
TOP_CODES = 5


@dataclass
class SpikeReport:
    raised: list[Alert] = field(default_factory=list)
    cleared: list[Alert] = field(default_factory=list)
    rates: dict[str, float | None] = field(default_factory=dict)  # provider slug -> rate in percent


@dataclass(frozen=True)
class WindowCounts:
    sends: int
    errors: int
    codes: tuple[tuple[str, int], ...]  # most frequent first
    baseline_sends: int
    baseline_errors: int

    @property
    def rate(self) -> float | None:
        return 100.0 * self.errors / self.sends if self.sends else None

    @property
    def baseline_rate(self) -> float | None:
        return 100.0 * self.baseline_errors / self.baseline_sends if self.baseline_sends else None


def evaluate_spikes(now: datetime | None = None) -> SpikeReport:
    now = now or timezone.now()
    report = SpikeReport()
    providers = list(Provider.objects.filter(enabled=True).order_by("pk"))
    if not providers:
        return report
    open_spikes = {
        a.dedupe_key: a
        for a in Alert.objects.filter(
            dedupe_key__in=[alerts.dedupe_key(p, Alert.Kind.ERROR_SPIKE) for p in providers]
        ).exclude(state=Alert.State.RESOLVED)
    }
    by_window: dict[int, list[Provider]] = defaultdict(list)
    for provider in providers:
        by_window[provider.spike_window_minutes].append(provider)
    for minutes, group in by_window.items():
        counts = window_counts(group, timedelta(minutes=minutes), now)
        for provider in group:
            alert = open_spikes.get(alerts.dedupe_key(provider, Alert.Kind.ERROR_SPIKE))
            _decide(report, provider, counts[provider.pk], alert, now)
    return report


def window_counts(providers: list[Provider], length: timedelta, now: datetime) -> dict[int, WindowCounts]:
    """Counts for the window ending now and the same window on each of the previous 7 days: four queries."""
    ids = [p.pk for p in providers]
    start = now - length
    errors = (
        ErrorEvent.objects.filter(
            provider_id__in=ids, occurred_at__gt=start, occurred_at__lte=now, source__in=SEND_SOURCES
        )
        .order_by()
        .values_list("provider_id", "error_code")
        .annotate(n=Count("id"))
    )
    sends = _per_provider(Send.objects.filter(provider_id__in=ids, created_at__gt=start, created_at__lte=now))
    past = [(now - timedelta(days=d) - length, now - timedelta(days=d)) for d in range(1, BASELINE_DAYS + 1)]
    base_errors = _per_provider(
        ErrorEvent.objects.filter(
            reduce(or_, (Q(occurred_at__gt=a, occurred_at__lte=b) for a, b in past)),
            provider_id__in=ids,
            source__in=SEND_SOURCES,
        )
    )
    base_sends = _per_provider(
        Send.objects.filter(reduce(or_, (Q(created_at__gt=a, created_at__lte=b) for a, b in past)), provider_id__in=ids)
    )
    codes: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for provider_id, code, n in errors:
        codes[provider_id].append((code, n))
    result = {}
    for pk in ids:
        ranked = tuple(sorted(codes[pk], key=lambda item: (-item[1], item[0])))
        result[pk] = WindowCounts(
            sends=sends.get(pk, 0),
            errors=sum(n for _, n in ranked),
            codes=ranked,
            baseline_sends=base_sends.get(pk, 0),
            baseline_errors=base_errors.get(pk, 0),
        )
    return result


def _per_provider(queryset) -> dict[int, int]:
    return dict(queryset.order_by().values("provider_id").annotate(n=Count("id")).values_list("provider_id", "n"))


def baseline_limit(provider: Provider, counts: WindowCounts) -> float | None:
    """The rate above which the baseline test fires, or None without enough baseline volume."""
    if counts.baseline_sends < max(1, provider.spike_min_sends):
        return None
    floor = float(settings.SENDWATCH_SPIKE_BASELINE_FLOOR_PERCENT)
    return float(provider.spike_baseline_factor) * max(counts.baseline_rate or 0.0, floor)


def _decide(report: SpikeReport, provider: Provider, counts: WindowCounts, alert: Alert | None, now) -> None:
    rate = counts.rate
    report.rates[provider.slug] = rate
    kind = Alert.Kind.ERROR_SPIKE
    minutes = provider.spike_window_minutes
    if rate is None or counts.sends < provider.spike_min_sends:  # None: no sends
        if alert is not None and counts.errors == 0:
            _clear(report, provider, f"no errors in the last {minutes} min")
        return
    ceiling = float(provider.error_rate_ceiling_percent)
    limit = baseline_limit(provider, counts)
    over_ceiling = rate > ceiling
    over_baseline = limit is not None and rate > limit
    if over_ceiling or over_baseline:
        critical = rate >= ceiling * float(settings.SENDWATCH_SPIKE_CRITICAL_FACTOR)
        severity = Alert.Severity.CRITICAL if critical else Alert.Severity.WARNING
        top = [{"code": code, "count": n} for code, n in counts.codes[:TOP_CODES]]
        reason = (
            f"above the {ceiling:g}% ceiling"
            if over_ceiling
            else f"{rate / max(counts.baseline_rate or 0.0, 1e-9):.1f}x the usual {counts.baseline_rate:.1f}%"
        )
        lead = f"top: {top[0]['code']} x{top[0]['count']}" if top else "no error codes"
        title = f"{provider.name}: error spike {rate:.1f}% of {counts.sends} sends in {minutes} min ({lead})"
        details = {
            "rate_percent": round(rate, 2),
            "errors": counts.errors,
            "sends": counts.sends,
            "window_minutes": minutes,
            "ceiling_percent": ceiling,
            "baseline_percent": None if counts.baseline_rate is None else round(counts.baseline_rate, 2),
            "baseline_limit_percent": None if limit is None else round(limit, 2),
            "reason": reason,
            "top_codes": top,
        }
        report.raised.append(alerts.raise_condition(provider, kind, severity, title, details, now=now))
        return
    if alert is None:
        return
    factor = float(alerts.hysteresis_factor())
    if rate <= ceiling / factor and (limit is None or rate <= limit / factor):
        _clear(report, provider, f"error rate back to {rate:.1f}% of {counts.sends} sends")


def _clear(report: SpikeReport, provider: Provider, note: str) -> None:
    cleared = alerts.clear_condition(provider, Alert.Kind.ERROR_SPIKE, note=note)
    if cleared is not None:
        report.cleared.append(cleared)
