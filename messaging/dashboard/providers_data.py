"""Providers as the dashboard shows them, and the changes people make to them (audited).

The list and the detail page read a fixed number of queries whatever the number
of providers or balance readings: the latest reading comes from subqueries, the
runway from ``runway_for_providers`` (two queries for any number).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypedDict

from django.db import transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from messaging.alerts.runway import Runway, runway_for_providers
from messaging.dashboard.charts import LineChart, line_chart
from messaging.models import Alert, BalanceSnapshot, Credential, Provider
from messaging.traffic.figures import Totals, Window, preset_window, totals_by_provider
from messaging.vault import audit
from messaging.vault.actor import Actor
from providers import get_adapter_class
from providers.outbound import origin

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

HISTORY_DAYS = (7, 30)
ERRORS_WINDOW = "24h"  # as on the Overview's card: a preset of the Errors page, which the figure links to
# At most this many points on the balance chart: one (the last reading) per time slot.
CHART_SLOTS = 240

THRESHOLD_FIELDS = (
    "balance_warning",
    "balance_critical",
    "quota_warning_percent",
    "quota_critical_percent",
    "runway_warning_hours",
    "runway_critical_hours",
    "error_rate_ceiling_percent",
    "spike_window_minutes",
    "spike_min_sends",
    "spike_baseline_factor",
    "poll_interval_seconds",
)
MONEY_ONLY = ("balance_warning", "balance_critical")
QUOTA_ONLY = ("quota_warning_percent", "quota_critical_percent")


def threshold_fields(provider: Provider) -> tuple[str, ...]:
    """The thresholds that apply to this vendor: money balances or plan quota, never both."""
    skip = MONEY_ONLY if provider.is_plan_based else QUOTA_ONLY
    return tuple(name for name in THRESHOLD_FIELDS if name not in skip)


def reading_text(amount: Decimal | None, used: int | None, limit: int | None, unit: str) -> str:
    """'42.50 EUR', '850 / 1000 messages used', or '—' without a reading."""
    if amount is not None:
        return f"{amount:.2f} {unit}".strip()
    if limit is not None:
        return f"{'?' if used is None else used} / {limit} {unit or 'messages'} used"
    return "—"


@dataclass(frozen=True)
class ProviderRow:
    provider: Provider
    reading: str
    read_at: datetime | None
    runway: Runway


class LatestReading(TypedDict):
    """The annotations :func:`with_latest_reading` adds."""

    reading_amount: Decimal | None
    reading_used: int | None
    reading_limit: int | None
    reading_unit: str | None
    reading_at: datetime | None


if TYPE_CHECKING:
    ProviderWithReading = WithAnnotations[Provider, LatestReading]


def with_latest_reading(providers: QuerySet[Provider]) -> QuerySet[ProviderWithReading]:
    """Annotate the latest real balance reading (failed polls and degraded answers carry no amount)."""
    latest = BalanceSnapshot.objects.filter(provider=OuterRef("pk"), ok=True, unavailable=False).order_by("-fetched_at")
    return providers.annotate(
        reading_amount=Subquery(latest.values("amount")[:1]),
        reading_used=Subquery(latest.values("used")[:1]),
        reading_limit=Subquery(latest.values("limit")[:1]),
        reading_unit=Subquery(latest.values("currency")[:1]),
        reading_at=Subquery(latest.values("fetched_at")[:1]),
    )


def provider_rows(providers: QuerySet[Provider]) -> list[ProviderRow]:
    annotated = list(with_latest_reading(providers))
    runways = runway_for_providers(annotated)
    return [_row(provider, runways[provider.pk]) for provider in annotated]


def _row(provider: ProviderWithReading, runway: Runway) -> ProviderRow:
    unit = provider.reading_unit or provider.currency
    text = reading_text(provider.reading_amount, provider.reading_used, provider.reading_limit, unit)
    return ProviderRow(provider, text, provider.reading_at, runway)


@dataclass(frozen=True)
class ProviderDetail:
    row: ProviderRow
    last_poll: BalanceSnapshot | None  # the latest poll, failed or not
    chart: LineChart
    chart_unit: str
    chart_start: datetime
    days: int
    totals: Totals  # errors of sends and sends in ``window``, counted as the Errors page counts them
    window: Window
    open_alerts: list[Alert]
    watching: bool
    credentials: list[Credential] | None  # None: the viewer may not see keys


def provider_detail(provider: ProviderWithReading, user, *, days: int, with_credentials: bool) -> ProviderDetail:
    """Everything the detail page shows, in a fixed number of queries (``provider`` from ``with_latest_reading``)."""
    now = timezone.now()
    row = _row(provider, runway_for_providers([provider], now)[provider.pk])
    window = preset_window(ERRORS_WINDOW, now)
    chart, unit = balance_chart(provider, days, now)
    keys = None
    if with_credentials:
        keys = list(provider.credentials.exclude(state=Credential.State.REVOKED).order_by("-created_at", "-pk"))
    return ProviderDetail(
        row=row,
        last_poll=provider.balance_snapshots.order_by("-fetched_at").first(),
        chart=chart,
        chart_unit=unit,
        chart_start=now - timedelta(days=days),
        days=days,
        totals=totals_by_provider(window, [provider])[provider.pk],
        window=window,
        open_alerts=list(provider.alerts.exclude(state=Alert.State.RESOLVED).order_by("-opened_at")),
        watching=provider.watchers.filter(pk=user.pk).exists(),
        credentials=keys,
    )


def balance_chart(provider: Provider, days: int, now: datetime) -> tuple[LineChart, str]:
    """The balance (money) or the remaining plan quota over the last ``days``, and its unit."""
    start = now - timedelta(days=days)
    rows = (
        BalanceSnapshot.objects.filter(provider=provider, fetched_at__gte=start, ok=True, unavailable=False)
        .order_by("fetched_at")
        .values_list("fetched_at", "amount", "used", "limit", "currency")
    )
    quota = provider.is_plan_based
    slot = (now - start) / CHART_SLOTS
    last_per_slot: dict[int, tuple[datetime, float]] = {}
    unit = "messages left" if quota else provider.currency
    for fetched_at, amount, used, limit, currency in rows:
        if quota and used is not None and limit is not None:
            value = float(limit - used)
        elif not quota and amount is not None:
            value, unit = float(amount), currency or unit
        else:
            continue
        last_per_slot[int((fetched_at - start) / slot)] = (fetched_at, value)
    series = "Remaining plan quota" if quota else "Balance"
    return line_chart(list(last_per_slot.values()), start, now, unit=unit, series=series), unit


# -- changes ------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """A value the audit log (JSON) and people read well: Decimal("50.0000") -> "50"."""
    if isinstance(value, Decimal):
        text = f"{value:f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    return value


def changes(before: dict[str, Any], provider: Provider, fields) -> dict[str, list]:
    """{field: [old, new]} for the fields whose value changed."""
    return {
        name: [plain(before[name]), plain(getattr(provider, name))]
        for name in fields
        if before[name] != getattr(provider, name)
    }


def snapshot_of(provider: Provider, fields) -> dict[str, Any]:
    return {name: getattr(provider, name) for name in fields}


def save_thresholds(actor: Actor, provider: Provider, before: dict[str, Any]) -> dict[str, list]:
    """Save the thresholds already set on ``provider`` (by a valid form) and audit old -> new."""
    changed = changes(before, provider, before)
    if changed:
        with transaction.atomic():
            provider.save(update_fields=[*changed, "updated_at"])
            audit.record(actor, "provider.thresholds", provider, changes=changed)
    return changed


def origin_of(kind: str, base_url: str) -> str:
    """The origin a provider of ``kind`` with ``base_url`` calls (Provider.api_origin, from saved values)."""
    return origin(base_url or get_adapter_class(kind).default_base_url)


def origin_change(before: dict[str, Any], provider: Provider) -> tuple[str, str] | None:
    """(old, new) origin when the edit moves the provider's API to another scheme://host:port, else None.

    ``before`` holds the saved ``kind`` and ``base_url``: a new vendor kind with a blank URL moves it too.
    """
    old, new = origin_of(before["kind"], before["base_url"]), provider.api_origin
    return (old, new) if old != new else None


def keys_to_verify(provider: Provider) -> list[Credential]:
    """The provider's live keys not verified for its current origin: none of them is sent anywhere until it is."""
    current = provider.api_origin
    live = provider.credentials.exclude(state=Credential.State.REVOKED).order_by("-created_at", "-pk")
    return [credential for credential in live if credential.verified_origin != current]


def save_provider(actor: Actor, provider: Provider, before: dict[str, Any] | None, fields) -> dict[str, list]:
    """Create (``before`` is None) or update a provider, audited in the same transaction.

    An update that moves the API to another origin is also audited as
    ``provider.base_url_change`` (old -> new origin, the hints of the keys that now
    need verifying there). The caller makes sure the person re-authenticated first.
    """
    with transaction.atomic():
        if before is None:
            provider.save()
            audit.record(actor, "provider.create", provider, values={n: plain(getattr(provider, n)) for n in fields})
            return {}
        changed = changes(before, provider, fields)
        if changed:
            provider.save(update_fields=[*changed, "updated_at"])
            audit.record(actor, "provider.change", provider, changes=changed)
            moved = origin_change(before, provider)
            if moved is not None:
                audit.record(
                    actor,
                    "provider.base_url_change",
                    provider,
                    old_origin=moved[0],
                    new_origin=moved[1],
                    old_base_url=before["base_url"],
                    new_base_url=provider.base_url,
                    hints_to_verify=[credential.hint for credential in keys_to_verify(provider)],
                )
        return changed


def set_watching(actor: Actor, provider: Provider, watch: bool) -> bool:
    """Add or remove the acting user as a watcher; True when that changed anything."""
    user = actor.user
    already = provider.watchers.filter(pk=user.pk).exists()
    if already == watch:
        return False
    with transaction.atomic():
        if watch:
            provider.watchers.add(user)
        else:
            provider.watchers.remove(user)
        audit.record(actor, "provider.watch" if watch else "provider.unwatch", provider)
    return True
