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

The title says why the alert has its severity, from this window: "critical at
20 %", "above the 10 % ceiling", "4.0x the usual 1.2 %", or, while hysteresis
holds it open, "back under the 10 % ceiling; clears at 9.1 % or less". The
details keep the window (``window_start``, ``window_end``) and ``errors_url``,
the Errors page for exactly this provider and window (``evidence_window``).

Queries: a fixed number per distinct window length (GROUP BY provider), not per provider.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from messaging.alerts import lifecycle as alerts
from messaging.models import Alert, ErrorEvent, Provider
from messaging.traffic import figures
from messaging.traffic.rollups import floor

SEND_SOURCES = (ErrorEvent.Source.SEND, ErrorEvent.Source.INGEST)
BASELINE_DAYS = 7
TOP_CODES = 5
# The Errors page's finest rollup grain: links cover the evidence window in whole buckets of it.
EVIDENCE_GRAIN = timedelta(minutes=5)


@dataclass
class SpikeReport:
    raised: list[Alert] = field(default_factory=list)
    cleared: list[Alert] = field(default_factory=list)
    held: list[Alert] = field(default_factory=list)  # back under the limits, kept open by hysteresis
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
    """Counts for the window ending now and the same window on each of the previous 7 days: four queries.

    The window is the one the alert links to (``covering`` the last ``length``, as the Errors page
    snaps it), counted by messaging.traffic.figures as every page counts: the alert's numbers are the page's.
    """
    window = figures.custom_window(*covering(now - length, now))
    past = [window.shifted(-timedelta(days=d)) for d in range(1, BASELINE_DAYS + 1)]
    errors = figures.errors_by(window, "provider_id", "error_code", providers=providers)
    sends = figures.sends_by(window, "provider_id", providers=providers)
    baseline = figures.totals_by_provider(past, providers)
    codes: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for (provider_id, code), n in errors.items():
        codes[provider_id].append((code, n))
    result = {}
    for pk, usual in baseline.items():
        ranked = tuple(sorted(codes[pk], key=lambda item: (-item[1], item[0])))
        result[pk] = WindowCounts(
            sends=sends.get(pk, 0),
            errors=sum(n for _, n in ranked),
            codes=ranked,
            baseline_sends=usual.sends,
            baseline_errors=usual.errors,
        )
    return result


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
    factor = float(alerts.hysteresis_factor())
    critical_at = ceiling * float(settings.SENDWATCH_SPIKE_CRITICAL_FACTOR)
    clears_at = ceiling / factor if limit is None else min(ceiling, limit) / factor
    over_ceiling = rate > ceiling
    over_baseline = limit is not None and rate > limit
    marks = [ceiling, critical_at, clears_at, *([] if limit is None else [limit])]
    measured = f"{alerts.same_side(rate, marks, digits=1)} % of {counts.sends} sends in {minutes} min"
    if not (over_ceiling or over_baseline):
        if alert is not None and rate <= clears_at:
            _clear(
                report, provider, f"Error rate {measured}, {'under' if rate < clears_at else 'at'} {clears_at:.1f} %"
            )
        elif alert is not None:
            _held(report, provider, counts, rate, limit, measured, now)
        return
    usual = counts.baseline_rate or 0.0
    if rate >= critical_at:
        severity, why = Alert.Severity.CRITICAL, f"critical at {critical_at:g} %"
    elif over_ceiling:
        severity, why = Alert.Severity.WARNING, f"above the {ceiling:g} % ceiling"
    else:
        severity, why = Alert.Severity.WARNING, f"{rate / max(usual, 1e-9):.1f}x the usual {usual:.1f} %"
    title = f"{provider.name}: Error spike: {measured}, {why} ({_lead(counts)})"
    details = _details(provider, counts, rate, limit, why, now)
    report.raised.append(alerts.raise_condition(provider, kind, severity, title, details, now=now))


def _held(
    report: SpikeReport, provider: Provider, counts: WindowCounts, rate: float, limit: float | None, measured: str, now
) -> None:
    """Back under the ceiling (and the baseline limit), not yet by the hysteresis margin: still open, and it says so."""
    ceiling = float(provider.error_rate_ceiling_percent)
    factor = float(alerts.hysteresis_factor())
    if limit is None or rate > ceiling / factor:
        under, bound = f"back under the {ceiling:g} % ceiling", ceiling / factor
    else:
        under, bound = (
            f"back under {limit:.1f} %, {float(provider.spike_baseline_factor):g}x the usual rate",
            limit / factor,
        )
    why = f"{under}; clears at {bound:.1f} % or less ({alerts.hysteresis_text()})"
    title = f"{provider.name}: Error rate {measured}, {why} ({_lead(counts)})"
    details = _details(provider, counts, rate, limit, why, now)
    kept = alerts.refresh_condition(provider, Alert.Kind.ERROR_SPIKE, Alert.Severity.WARNING, title, details, now=now)
    if kept is not None:
        report.held.append(kept)


def _lead(counts: WindowCounts) -> str:
    return f"top: {counts.codes[0][0]} x{counts.codes[0][1]}" if counts.codes else "no error codes"


def _details(provider: Provider, counts: WindowCounts, rate: float, limit: float | None, why: str, now) -> dict:
    start = now - timedelta(minutes=provider.spike_window_minutes)
    return {
        "rate_percent": round(rate, 2),
        "errors": counts.errors,
        "sends": counts.sends,
        "window_minutes": provider.spike_window_minutes,
        # The window these counts and codes are from: the alert page and notifications link the Errors page to it.
        "window_start": start.isoformat(),
        "window_end": now.isoformat(),
        "errors_url": errors_path(provider, *covering(start, now)),
        "ceiling_percent": float(provider.error_rate_ceiling_percent),
        "baseline_percent": None if counts.baseline_rate is None else round(counts.baseline_rate, 2),
        "baseline_limit_percent": None if limit is None else round(limit, 2),
        "reason": why,
        "top_codes": [{"code": code, "count": n} for code, n in counts.codes[:TOP_CODES]],
    }


def _clear(report: SpikeReport, provider: Provider, note: str) -> None:
    cleared = alerts.clear_condition(provider, Alert.Kind.ERROR_SPIKE, note=note)
    if cleared is not None:
        report.cleared.append(cleared)


# -- the evidence window, for links to the Errors page ------------------------------------------


def covering(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The window from ``start`` to ``end`` widened to whole 5-minute buckets (the Errors page's finest grain).

    A spike window holds events after its start up to and including its end, so the end's own bucket is in.
    """
    return floor(start, EVIDENCE_GRAIN), floor(end, EVIDENCE_GRAIN) + EVIDENCE_GRAIN


def evidence_window(alert: Alert) -> tuple[datetime, datetime] | None:
    """The window a spike alert's counts and top codes were read from, in whole 5-minute buckets (UTC).

    Alerts raised before the window was stored fall back to ``window_minutes`` up to ``last_seen_at``.
    """
    details = alert.details or {}
    end = _moment(details.get("window_end")) or alert.last_seen_at
    start = _moment(details.get("window_start"))
    minutes = details.get("window_minutes")
    if start is None and isinstance(minutes, int) and not isinstance(minutes, bool) and minutes > 0:
        start = end - timedelta(minutes=minutes)
    if start is None or end is None or end <= start:
        return None
    return covering(start, end)


def errors_path(provider: Provider, start: datetime, end: datetime) -> str:
    """The Errors page for one provider and a custom window, for notifications (made absolute there).

    ``start`` and ``end`` are written in UTC as ISO 8601 with a ``Z``, which the page's From and To
    read exactly, whoever opens the link in whatever time zone.
    """
    query = {"provider": provider.slug, "window": "custom", "start": _utc(start), "end": _utc(end)}
    return f"{reverse('messaging:errors')}?{urlencode(query)}"


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def _moment(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if timezone.is_aware(moment) else None
