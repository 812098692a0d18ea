"""A per-provider circuit breaker shared by every worker process through the database.

After FAILURE_THRESHOLD consecutive server/network failures the provider's
breaker opens for COOL_DOWN; sends stay queued until then. The first call after
the cool-down is the trial: success closes the breaker, failure reopens it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Case, F, When
from django.utils import timezone

from messaging.models import Provider
from providers import Category, NormalizedError

# Failures that say the vendor is unwell, not that our request was wrong.
TRIPPING_CATEGORIES = frozenset({Category.SERVER, Category.UNAVAILABLE, Category.TIMEOUT, Category.NETWORK})


def failure_threshold() -> int:
    return settings.SENDWATCH_BREAKER_THRESHOLD


def cool_down() -> timedelta:
    return timedelta(seconds=settings.SENDWATCH_BREAKER_COOL_DOWN_SECONDS)


def open_until(provider: Provider, now: datetime | None = None) -> datetime | None:
    """When the breaker closes again, or None when calls may go ahead, by the provider row as read.

    The claim reads the row with its sends, in the same transaction: no query of its own.
    """
    until = provider.breaker_open_until
    return until if until and until > (now or timezone.now()) else None


def trips(error: NormalizedError) -> bool:
    return error.category in TRIPPING_CATEGORIES


def record_failure(provider_id: int, now: datetime | None = None) -> None:
    now = now or timezone.now()
    # One statement, so concurrent workers count every failure.
    Provider.objects.filter(pk=provider_id).update(
        breaker_failures=F("breaker_failures") + 1,
        breaker_open_until=Case(
            When(breaker_failures__gte=failure_threshold() - 1, then=now + cool_down()),
            default=F("breaker_open_until"),
        ),
    )


def record_success(provider_id: int) -> None:
    Provider.objects.filter(pk=provider_id, breaker_failures__gt=0).update(breaker_failures=0, breaker_open_until=None)
