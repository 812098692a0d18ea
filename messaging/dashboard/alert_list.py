"""The alerts list: filters from the query string and keyset pages, critical first, then newest.

Resolved alerts stay forever as history, so pages are cut by the (severity rank,
opened_at, id) of the last row shown, never by OFFSET: the hundredth page costs
what the first does. Rows also carry their tab counts, in one GROUP BY query.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, TypedDict

from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from messaging.models import Alert, Provider

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

PAGE_SIZE = 50
ACTIVE = "active"  # the default tab: open and acknowledged
STATE_TABS: tuple[tuple[str, str], ...] = (
    (ACTIVE, "Open and acknowledged"),
    (Alert.State.OPEN, "Open"),
    (Alert.State.ACKNOWLEDGED, "Acknowledged"),
    (Alert.State.RESOLVED, "Resolved"),
    ("all", "All"),
)
TAB_STATES: dict[str, tuple[str, ...]] = {
    ACTIVE: (Alert.State.OPEN, Alert.State.ACKNOWLEDGED),
    Alert.State.OPEN: (Alert.State.OPEN,),
    Alert.State.ACKNOWLEDGED: (Alert.State.ACKNOWLEDGED,),
    Alert.State.RESOLVED: (Alert.State.RESOLVED,),
    "all": tuple(Alert.State.values),
}
# Critical sorts first whatever the severity labels are called.
SEVERITY_RANK = Case(
    When(severity=Alert.Severity.CRITICAL, then=Value(0)), default=Value(1), output_field=IntegerField()
)


class Ranked(TypedDict):
    """The annotation :meth:`AlertFilters.queryset` adds: SEVERITY_RANK."""

    rank: int


if TYPE_CHECKING:
    RankedAlert = WithAnnotations[Alert, Ranked]


@dataclass(frozen=True)
class AlertFilters:
    """Which alerts to list; the page's form (AlertFilterForm in alerts.py) reads it from the query string."""

    state: str = ACTIVE  # a key of TAB_STATES
    provider: Provider | None = None
    kind: str = ""
    severity: str = ""

    def without_state(self) -> QuerySet:
        alerts = Alert.objects.all()
        if self.provider:
            alerts = alerts.filter(provider=self.provider)
        if self.kind:
            alerts = alerts.filter(kind=self.kind)
        if self.severity:
            alerts = alerts.filter(severity=self.severity)
        return alerts

    def queryset(self) -> QuerySet[RankedAlert]:
        return (
            self.without_state()
            .filter(state__in=TAB_STATES[self.state])
            .select_related("provider", "acknowledged_by")
            .annotate(rank=SEVERITY_RANK)
            .order_by("rank", "-opened_at", "-id")
        )


@dataclass(frozen=True)
class Tab:
    key: str
    label: str
    count: int


@dataclass(frozen=True)
class Page:
    alerts: list[RankedAlert]
    next_cursor: str | None
    tabs: list[Tab]


def page(filters: AlertFilters, cursor: str | None = None, size: int = PAGE_SIZE) -> Page:
    alerts = filters.queryset()
    if cursor:
        rank, opened_at, pk = decode_cursor(cursor)
        alerts = alerts.filter(
            Q(rank__gt=rank) | Q(rank=rank, opened_at__lt=opened_at) | Q(rank=rank, opened_at=opened_at, id__lt=pk)
        )
    rows = list(alerts[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return Page(rows, encode_cursor(rows[-1]) if more else None, tabs(filters))


def tabs(filters: AlertFilters) -> list[Tab]:
    per_state = dict(filters.without_state().order_by().values_list("state").annotate(n=Count("id")))
    return [Tab(key, label, sum(per_state.get(s, 0) for s in TAB_STATES[key])) for key, label in STATE_TABS]


def encode_cursor(alert: RankedAlert) -> str:
    raw = f"{alert.rank}|{alert.opened_at.isoformat()}|{alert.pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, datetime, int]:
    """The (severity rank, opened_at, id) a page link carries; ValueError when the link is damaged."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        rank, moment, pk = raw.split("|")
        opened_at = datetime.fromisoformat(moment)
        if timezone.is_naive(opened_at):
            raise ValueError
        return int(rank), opened_at, int(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValueError("the page link is damaged; start from the first page") from None
