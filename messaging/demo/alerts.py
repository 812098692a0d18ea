"""The demo's alerts and provider statuses: what the live checks conclude from the generated history.

The history is replayed, in time order and in one transaction, through the functions the
running system calls:

- every balance reading through ``alerts.lifecycle.evaluate_balance_thresholds`` with its
  runway, as a poll does; each provider's status is then set once, from its last reading,
  with the moment that status began. The runway is worked out by the runway module's own
  ``money_runway`` / ``quota_runway`` over the readings and hourly send rollups held in
  memory, exactly as ``runway_for_providers`` reads them (reading the 72 h window again for
  every generated hour was most of the replay's time; tests/demo/test_demo_story.py checks
  the two agree);
- money, plan and key errors on sends through ``alerts.lifecycle.errors_recorded``, as the
  send path does (one call per provider and minute);
- the error-spike check ``alerts.spikes.evaluate_spikes`` over the last hours of the
  history, and once more now, as beat does a minute after the demo starts. Its counts move
  in whole 5-minute buckets, so it runs once per bucket, and only in buckets where some
  provider's window holds enough sends to judge or a spike alert is open: anywhere else the
  check does nothing (ordinary demo traffic never holds that many sends; the generator's
  campaign burst does).

So every alert, its evidence, its history and each provider's status are what a Sendwatch
watching all along would show, and the first live checks after the demo starts agree with
them. Two things people do are played as well: someone acknowledges an error spike a few
minutes after it opens, and the money and plan alerts still open at the end.

Some lifecycle functions take no ``now`` and stamp the wall clock (``errors_recorded``, a
spike clearing, ``acknowledge``); the replay moves what they stamped to the replayed moment.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from itertools import groupby

from django.db import transaction
from django.utils import timezone

from messaging.alerts import lifecycle as alerts
from messaging.alerts import runway, spikes
from messaging.models import Alert, AlertEvent, BalanceSnapshot, ErrorEvent, Provider, SendRollup
from messaging.traffic.rollups import ceil, floor

Kind = Alert.Kind
# The spike check's replay covers this much of the history's end (the generator's burst is in it).
SPIKE_REPLAY = timedelta(hours=6)
BUCKET = timedelta(minutes=5)
ACKNOWLEDGE_SPIKE_AFTER = timedelta(minutes=5)
SPIKE_NOTE = "The vendor confirmed a routing problem on their side; watching the rate."
# Someone is on the money and plan alerts still open at the end.
ON_IT: dict[str, str] = {
    Kind.LOW_BALANCE: "Top-up requested from finance; it usually lands within two working days.",
    Kind.QUOTA_NEAR: "Plan upgrade requested from the vendor's account manager.",
}

# Order of steps at the same moment: errors as they happen, then the poll, then the spike check.
_ERRORS, _POLL, _SPIKES = 0, 1, 2


@transaction.atomic
def open_demo_alerts(providers: Sequence[Provider], now: datetime | None = None) -> list[Alert]:
    """Replay the history through the live checks; the alerts made, or [] when the providers already have alerts."""
    now = now or timezone.now()
    providers = list(providers)
    if not providers or Alert.objects.filter(provider__in=providers).exists():
        return []
    by_id = {p.pk: p for p in providers}
    steps: list[tuple[datetime, int, int, object]] = []
    readings = BalanceSnapshot.objects.filter(provider__in=providers, fetched_at__lte=now).order_by("fetched_at", "pk")
    for at, together in groupby(readings, key=lambda snapshot: snapshot.fetched_at):
        group = list(together)
        steps.append((at, _POLL, group[0].pk, group))
    for events in _alerting_errors(providers, now).values():
        steps.append((events[-1].occurred_at, _ERRORS, events[0].pk, events))  # when the last was recorded
    last = max((step[0] for step in steps if step[1] == _POLL), default=None)
    if last is not None and _spikes_replayable(providers):
        steps += [(at, _SPIKES, 0, busy) for at, busy in _spike_moments(providers, last)]
        steps.append((now, _SPIKES, 0, True))  # beat's first check after the start
    steps.sort(key=lambda step: step[:3])

    status: dict[int, tuple[str, str, datetime]] = {}  # provider -> (status, detail, since)
    runways = Runways(providers, now)
    spike_open = False
    for at, order, _, payload in steps:
        wall = timezone.now()
        if order == _POLL:
            assert isinstance(payload, list)
            for snapshot in payload:
                runways.add(snapshot)
            for snapshot in payload:
                provider = by_id[snapshot.provider_id]
                evaluation = alerts.evaluate_balance_thresholds(provider, snapshot, runways.at(provider, at))
                _note_status(status, provider, evaluation.status, evaluation.detail, at)
        elif order == _ERRORS:
            assert isinstance(payload, list)
            provider = by_id[payload[0].provider_id]
            if alerts.errors_recorded(provider, payload):
                _backdate(providers, wall, at)
                _note_status(status, provider, provider.status, provider.status_detail, at)
        elif payload or spike_open:  # a bucket where the check can conclude something
            report = spikes.evaluate_spikes(at)
            if report.cleared:
                _backdate(providers, wall, at)
            _acknowledge_spikes(providers, at)
            spike_open = (
                Alert.objects.filter(provider__in=providers, kind=Kind.ERROR_SPIKE)
                .exclude(state=Alert.State.RESOLVED)
                .exists()
            )
    for provider_id, (value, detail, since) in status.items():
        alerts.set_status(by_id[provider_id], value, detail, since)
    for alert in Alert.objects.filter(provider__in=providers, kind__in=list(ON_IT), state=Alert.State.OPEN):
        alerts.acknowledge(alert, None, ON_IT[alert.kind])
    return list(Alert.objects.filter(provider__in=providers).order_by("opened_at", "pk"))


class Runways:
    """Runways during the replay: ``runway_for_providers``'s reading of the database, over rows held in memory.

    Readings are added as the replay reaches them, so a runway never sees a later one.
    """

    def __init__(self, providers: Sequence[Provider], until: datetime) -> None:
        self.times: dict[int, list[datetime]] = defaultdict(list)
        self.readings: dict[int, list[runway.Reading]] = defaultdict(list)
        self.hours: dict[int, list[tuple[datetime, int]]] = defaultdict(list)  # hourly send rollups, sends > 0
        hourly: dict[tuple[int, datetime], int] = defaultdict(int)
        for provider_id, bucket, n in SendRollup.objects.filter(
            grain=int(runway.HOUR.total_seconds()), provider__in=providers, bucket__lte=until, sends__gt=0
        ).values_list("provider_id", "bucket", "sends"):
            hourly[(provider_id, bucket)] += n
        for (provider_id, bucket), n in sorted(hourly.items()):
            self.hours[provider_id].append((bucket, n))

    def add(self, snapshot: BalanceSnapshot) -> None:
        if snapshot.ok:  # runway_for_providers reads ok readings only
            self.times[snapshot.provider_id].append(snapshot.fetched_at)
            self.readings[snapshot.provider_id].append(runway.Reading.of(snapshot))

    def at(self, provider: Provider, now: datetime) -> runway.Runway:
        start = now - runway.window()
        times = self.times[provider.pk]
        readings = self.readings[provider.pk][bisect_left(times, start) : bisect_right(times, now)]
        if not provider.is_plan_based:
            return runway.money_runway(readings, now, unit=provider.currency)
        counted_from = ceil(start, runway.HOUR)
        hours = [(bucket, n) for bucket, n in self.hours[provider.pk] if counted_from <= bucket <= now]
        return runway.quota_runway(
            readings,
            now,
            own_sends=sum(n for _, n in hours),
            since=hours[0][0] if hours else counted_from,
        )


def _note_status(status: dict, provider: Provider, value: str, detail: str, at: datetime) -> None:
    """The provider's status after a step, and since when it has held (what set_status would have recorded)."""
    previous = status.get(provider.pk)
    since = previous[2] if previous is not None and previous[0] == value else at
    status[provider.pk] = (value, detail, since)


def _alerting_errors(providers: Sequence[Provider], now: datetime) -> dict[tuple[int, datetime], list[ErrorEvent]]:
    """Errors on sends that errors_recorded acts on, per provider and minute (what one call would report)."""
    wanted = ErrorEvent.objects.filter(
        provider__in=providers,
        occurred_at__lte=now,
        source__in=spikes.SEND_SOURCES,
        category__in=[str(c) for c in alerts.ALERTING_CATEGORIES],
    ).order_by("occurred_at", "pk")
    grouped: dict[tuple[int, datetime], list[ErrorEvent]] = defaultdict(list)
    for event in wanted:
        if alerts.wants(event):
            grouped[(event.provider_id, event.occurred_at.replace(second=0, microsecond=0))].append(event)
    return grouped


def _spikes_replayable(providers: Sequence[Provider]) -> bool:
    """evaluate_spikes checks every enabled provider: replaying it in the past is only for a demo-only database."""
    return not Provider.objects.filter(enabled=True).exclude(pk__in=[p.pk for p in providers]).exists()


def _spike_moments(providers: Sequence[Provider], last: datetime) -> list[tuple[datetime, bool]]:
    """The last whole minute of each 5-minute bucket of the replayed span, and whether some provider's
    spike window then holds ``spike_min_sends`` sends or more (from the 5-minute send rollups)."""
    first = floor(last - SPIKE_REPLAY, BUCKET)
    widest = max(timedelta(minutes=p.spike_window_minutes) for p in providers)
    sends: dict[tuple[int, datetime], int] = defaultdict(int)
    for provider_id, bucket, n in SendRollup.objects.filter(
        grain=int(BUCKET.total_seconds()), provider__in=providers, bucket__gte=first - widest, bucket__lte=last
    ).values_list("provider_id", "bucket", "sends"):
        sends[(provider_id, bucket)] += n
    moments = []
    bucket = first
    while bucket <= last:
        at = bucket + BUCKET - timedelta(minutes=1)
        busy = False
        for provider in providers:
            start, end = spikes.covering(at - timedelta(minutes=provider.spike_window_minutes), at)
            held = sum(sends[(provider.pk, b)] for b in _buckets(start, end))
            busy = busy or held >= provider.spike_min_sends
        moments.append((at, busy))
        bucket += BUCKET
    return moments


def _buckets(start: datetime, end: datetime) -> list[datetime]:
    out = []
    while start < end:
        out.append(start)
        start += BUCKET
    return out


def _acknowledge_spikes(providers: Sequence[Provider], at: datetime) -> None:
    """Someone acknowledges an error spike a few minutes after it opens."""
    due = Alert.objects.filter(
        provider__in=providers,
        kind=Kind.ERROR_SPIKE,
        state=Alert.State.OPEN,
        acknowledged_at=None,
        opened_at__lte=at - ACKNOWLEDGE_SPIKE_AFTER,
    )
    for alert in due:
        wall = timezone.now()
        alerts.acknowledge(alert, None, SPIKE_NOTE)
        _backdate(providers, wall, at)


def _backdate(providers: Sequence[Provider], wall: datetime, at: datetime) -> None:
    """Move what the lifecycle stamped with the wall clock since ``wall`` to the replayed moment ``at``."""
    mine = Alert.objects.filter(provider__in=providers)
    for name in ("opened_at", "last_seen_at", "escalated_at", "acknowledged_at", "resolved_at"):
        mine.filter(**{f"{name}__gte": wall}).update(**{name: at})
    AlertEvent.objects.filter(alert__provider__in=providers, at__gte=wall).update(at=at)
    Provider.objects.filter(pk__in=[p.pk for p in providers], status_changed_at__gte=wall).update(status_changed_at=at)
    for provider in providers:
        if provider.status_changed_at is not None and provider.status_changed_at >= wall:
            provider.status_changed_at = at
