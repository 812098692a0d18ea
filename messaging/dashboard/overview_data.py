"""What the Overview page shows: one card per provider and the alerts that are still open.

Everything is read in a fixed number of queries whatever the number of providers
or snapshots: the latest readings by id, the 72 h sparkline as hourly averages
(at most 72 points a provider), the runway, and the errors and sends of the Errors
page's 24 h window (24 whole hours ending with the current one), counted by
messaging.traffic.figures as that page counts them.

*Poll now* runs on a worker; its card says "Checking…" until a snapshot newer
than the request exists, or POLL_WAIT has passed. The request time travels as
a poll token (microseconds since the epoch) in the status fragment's URL and in
the card, so the 30 s refresh keeps a waiting card waiting.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from django.db.models import Avg, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import TruncHour
from django.utils import timezone

from messaging.alerts.runway import Runway, runway_for_providers, window
from messaging.dashboard.alert_list import SEVERITY_RANK
from messaging.dashboard.charts import sparkline
from messaging.models import Alert, BalanceSnapshot, Provider, Route, Send
from messaging.traffic.figures import Totals, Window, preset_window, totals_by_provider

ERRORS_WINDOW = "24h"  # a preset of the Errors page, so the card's link shows the same counts
ALERTS_SHOWN = 10
SPARK_WIDTH, SPARK_HEIGHT = 160, 32
# Poll now runs on a worker: its card waits this long for a newer snapshot, then says there is no answer yet.
POLL_WAIT = timedelta(seconds=30)
# A poll token a little ahead of this server's clock came from a web server whose clock runs ahead.
POLL_CLOCK_SKEW = timedelta(seconds=5)
# Routed sends that failed over to another provider of their route, counted over this window.
FAILOVER_WINDOW = timedelta(hours=24)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class ProviderCard:
    provider: Provider
    quota: bool
    latest: BalanceSnapshot | None  # the last poll, whatever its outcome: "last checked"
    reading: BalanceSnapshot | None  # the last real balance or usage, shown even when later polls failed
    runway: Runway
    spark_points: str
    totals: Totals  # errors of sends and sends in ``window``
    window: Window  # the Errors page's 24 h window: whole hours, the current one included
    poll_token: str = ""  # set while a Poll now waits for a snapshot newer than this token's time ("Checking…")

    @property
    def used_percent(self) -> float | None:
        reading = self.reading
        if reading is None or reading.limit in (None, 0) or reading.used is None:
            return None
        return min(100.0, 100 * reading.used / reading.limit)


def _usable(snapshots: QuerySet) -> QuerySet:
    # A degraded reading's zero is not a balance (see services/balances.py).
    return snapshots.filter(ok=True, unavailable=False)


def provider_cards(providers: QuerySet[Provider] | None = None, now: datetime | None = None) -> list[ProviderCard]:
    """Cards for ``providers`` (default: all, by name) in five queries."""
    now = now or timezone.now()
    snapshots = BalanceSnapshot.objects.filter(provider=OuterRef("pk")).order_by("-fetched_at", "-pk")
    annotated = list(
        (providers if providers is not None else Provider.objects.order_by("name")).annotate(
            latest_id=Subquery(snapshots.values("pk")[:1]),
            reading_id=Subquery(_usable(snapshots).values("pk")[:1]),
        )
    )
    if not annotated:
        return []
    ids = [p.pk for p in annotated]
    wanted = {p.latest_id for p in annotated} | {p.reading_id for p in annotated}
    by_id = BalanceSnapshot.objects.in_bulk([pk for pk in wanted if pk is not None])
    series = _hourly_series(ids, now)
    errors_window = preset_window(ERRORS_WINDOW, now)
    totals = totals_by_provider(errors_window, ids)
    runways = runway_for_providers(annotated, now)
    cards = []
    for provider in annotated:
        quota = provider.is_plan_based
        values = series[provider.pk]["used" if quota else "amount"]
        cards.append(
            ProviderCard(
                provider=provider,
                quota=quota,
                latest=by_id.get(provider.latest_id),
                reading=by_id.get(provider.reading_id),
                runway=runways[provider.pk],
                spark_points=sparkline(values, SPARK_WIDTH, SPARK_HEIGHT) if len(values) > 1 else "",
                totals=totals[provider.pk],
                window=errors_window,
            )
        )
    return cards


def provider_card(provider: Provider) -> ProviderCard:
    return provider_cards(Provider.objects.filter(pk=provider.pk))[0]


def _hourly_series(ids: Sequence[int], now: datetime) -> dict[int, dict[str, list[float]]]:
    """Hourly averages of the balance and of the plan usage over the runway window, oldest first."""
    rows = (
        _usable(BalanceSnapshot.objects.filter(provider_id__in=ids, fetched_at__gte=now - window()))
        .annotate(hour=TruncHour("fetched_at", tzinfo=UTC))
        .order_by()
        .values("provider_id", "hour")
        .annotate(amount=Avg("amount"), used=Avg("used"))
        .order_by("provider_id", "hour")
    )
    series: dict[int, dict[str, list[float]]] = defaultdict(lambda: {"amount": [], "used": []})
    for row in rows:
        for name in ("amount", "used"):
            if row[name] is not None:
                series[row["provider_id"]][name].append(float(row[name]))
    return series


def open_alerts(limit: int = ALERTS_SHOWN) -> list[Alert]:
    """Open and acknowledged alerts, critical first, newest first."""
    return list(
        Alert.objects.filter(~Q(state=Alert.State.RESOLVED))
        .select_related("provider")
        .order_by(SEVERITY_RANK, "-opened_at", "-pk")[:limit]
    )


def failed_over_ids(now: datetime | None = None) -> list[int]:
    """The sends of the last 24 h that failed over, newest first (Send.failovers, a partial index)."""
    since = (now or timezone.now()) - FAILOVER_WINDOW
    rows = Send.objects.filter(failovers__gt=0, created_at__gte=since).order_by("-created_at", "-pk")
    return list(rows.values_list("pk", flat=True))


def failover_count(now: datetime | None = None) -> int | None:
    """How many sends failed over in the last 24 h; None when there are no routes (the Overview says nothing)."""
    if not Route.objects.exists():
        return None
    since = (now or timezone.now()) - FAILOVER_WINDOW
    return Send.objects.filter(failovers__gt=0, created_at__gte=since).count()


def poll_summary(card: ProviderCard) -> str:
    """One sentence for people about what a poll found, e.g. "23 EU: 12.50 EUR, status OK."."""
    provider, reading, latest = card.provider, card.reading, card.latest
    if latest is not None and not latest.ok:
        found = "the poll failed"
    elif card.quota and reading is not None and reading.limit:
        found = f"{reading.used if reading.used is not None else '?'} / {reading.limit} {reading.currency} used"
    elif reading is not None and reading.amount is not None:
        found = f"{reading.amount:.2f} {reading.currency}".strip()
    else:
        found = "no balance reported"
    detail = f" ({provider.status_detail})" if provider.status != "ok" and provider.status_detail else ""
    return f"{provider.name}: {found}, status {provider.get_status_display()}{detail}."


# -- Poll now: the card waits for the worker's snapshot ---------------------------------------------


def poll_token(requested_at: datetime) -> str:
    """When a Poll now was asked for, as whole microseconds since the epoch (exact, and plain in a URL)."""
    return str((requested_at - _EPOCH) // _MICROSECOND)


def poll_requested_at(token: str | None, now: datetime | None = None) -> datetime | None:
    """The time in a poll token; None for anything a Poll now cannot have made (not digits, in the future)."""
    if not token or not token.isascii() or not token.isdigit() or len(token) > 17:  # 17 digits: until year 4138
        return None
    requested_at = _EPOCH + int(token) * _MICROSECOND
    if requested_at > (now or timezone.now()) + POLL_CLOCK_SKEW:
        return None
    return requested_at


def answered(provider: Provider, requested_at: datetime) -> bool:
    """Whether a poll stored a snapshot after ``requested_at``: the worker's answer (or a beat poll's, as fresh)."""
    return BalanceSnapshot.objects.filter(provider=provider, fetched_at__gt=requested_at).exists()


def waiting_too_long(requested_at: datetime, now: datetime | None = None) -> bool:
    return (now or timezone.now()) - requested_at >= POLL_WAIT


def with_pending_polls(
    cards: Sequence[ProviderCard], pending: Mapping[str, datetime], now: datetime | None = None
) -> list[ProviderCard]:
    """``cards``, those still waiting for their Poll now (by slug, within POLL_WAIT) marked "Checking…"; no query."""
    now = now or timezone.now()
    marked = []
    for card in cards:
        requested_at = pending.get(card.provider.slug)
        if (
            requested_at is not None
            and not waiting_too_long(requested_at, now)
            and (card.latest is None or card.latest.fetched_at <= requested_at)
        ):
            card = replace(card, poll_token=poll_token(requested_at))
        marked.append(card)
    return marked
