"""Which provider of a route takes a message: at send time, and again after a failed attempt.

A provider is skipped, with the reason kept in words on the send, when it is disabled, does
not serve the recipient's country, has no usable or a refused key, is at or below its critical
balance or has blocked credit or a used-up plan (its status, set as soon as such an error or a
poll says so), has its circuit breaker open, or its error rate over its spike window is above
its ceiling. Steps are tried by position; steps sharing a position split traffic by weight.

After a failed attempt the message moves to the next usable provider only when the failure is
one another vendor would not share (FAILOVER_CATEGORIES); never for a validation or compliance
error of the message itself, and never after an ambiguous outcome (it may have been sent).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import phonenumbers
from django.utils import timezone

from messaging.models import Provider, ProviderStatus, Route, RouteStep, Send
from messaging.traffic import breaker
from messaging.traffic.figures import latest_window, totals_by_provider
from messaging.vault.adapters import NoCredential, active_credential
from providers import Category, NormalizedError

FAILOVER_CATEGORIES = frozenset(
    {
        Category.BALANCE,
        Category.QUOTA,
        Category.AUTH,
        Category.PERMISSION,
        Category.UNAVAILABLE,
        Category.SERVER,
        Category.RATE_LIMIT,
        Category.NETWORK,  # the request never reached the vendor
        Category.TIMEOUT,  # only when not ambiguous: a connect timeout, before the request was sent
    }
)
UNUSABLE_STATUSES: dict[str, str] = {
    ProviderStatus.CRITICAL: "critical",
    ProviderStatus.BLOCKED: "credit blocked",
    ProviderStatus.CREDENTIAL_FAILED: "its API key was refused",
}


@dataclass(frozen=True)
class Choice:
    """A routing decision: the provider chosen (None: none can take it) and why, in words."""

    provider: Provider | None
    words: str


def country_of(recipient: str) -> str | None:
    """The ISO country of an E.164 number; None when it has none (an address, an unknown number)."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(recipient, None))
    except phonenumbers.NumberParseException:
        return None


def unusable_because(provider: Provider, now: datetime | None = None) -> str:
    """Why ``provider`` cannot take a message now; "" when it can."""
    now = now or timezone.now()
    if not provider.enabled:
        return "disabled"
    status = UNUSABLE_STATUSES.get(provider.status)
    if status:
        return f"{status}: {provider.status_detail}" if provider.status_detail else status
    try:
        active_credential(provider)
    except NoCredential as exc:
        return str(exc)
    until = breaker.open_until(provider, now)
    if until is not None:
        return f"circuit breaker open until {timezone.localtime(until):%H:%M:%S}"
    return _error_rate_problem(provider, now)


def _error_rate_problem(provider: Provider, now: datetime) -> str:
    window = latest_window(timedelta(minutes=provider.spike_window_minutes), now)
    totals = totals_by_provider(window, [provider])[provider.pk]
    ceiling = float(provider.error_rate_ceiling_percent)
    if totals.sends >= provider.spike_min_sends and totals.rate is not None and totals.rate > ceiling:
        return (
            f"error rate {totals.rate:.1f}% over the last {provider.spike_window_minutes} min "
            f"is above its ceiling of {ceiling:g}%"
        )
    return ""


def steps_of(route: Route) -> list[RouteStep]:
    return list(route.steps.select_related("provider").order_by("position", "id"))


def choose(
    route: Route,
    recipient: str,
    *,
    tried: Iterable[int] = (),
    steps: Sequence[RouteStep] | None = None,
    verdicts: dict[int, str] | None = None,
) -> Choice:
    """The provider of ``route`` that takes a message to ``recipient`` now, skipping those in ``tried``.

    ``steps`` and ``verdicts`` (provider id -> unusable_because) let a batch read the route and
    judge each provider once rather than once per message.
    """
    now = timezone.now()
    steps = steps if steps is not None else steps_of(route)
    # Reading the number's country costs more than the rest of the choice: only when a step asks.
    country = country_of(recipient) if any(step.countries for step in steps) else None
    done = set(tried)
    skipped: list[str] = []
    by_position: dict[int, list[RouteStep]] = {}
    for step in steps:
        by_position.setdefault(step.position, []).append(step)
    for position in sorted(by_position):
        usable = []
        for step in by_position[position]:
            provider = step.provider
            if provider.pk in done:
                continue
            if step.country_codes and country not in step.country_codes:
                skipped.append(f"{provider.slug}: does not serve {country or 'this recipient'}")
                continue
            if verdicts is None:
                problem = unusable_because(provider, now)
            elif provider.pk in verdicts:
                problem = verdicts[provider.pk]
            else:
                problem = verdicts[provider.pk] = unusable_because(provider, now)
            if problem:
                skipped.append(f"{provider.slug}: {problem}")
            else:
                usable.append(step)
        if usable:
            chosen = _weighted(usable).provider
            words = "; ".join([*(f"skipped {reason}" for reason in skipped), f"chose {chosen.slug}"])
            return Choice(chosen, words)
    reasons = "; ".join(skipped) if skipped else "every provider was tried"
    return Choice(None, f"no provider of route {route.slug} can take it: {reasons}")


def _weighted(steps: list[RouteStep]) -> RouteStep:
    weights = [step.weight if step.weight is not None else 1 for step in steps]
    if not any(weights):
        return steps[0]
    return random.choices(steps, weights=weights)[0]


def fails_over(error: NormalizedError) -> bool:
    """Whether another vendor may succeed where this error came back (never when it may have been sent)."""
    return not error.ambiguous and error.category in FAILOVER_CATEGORIES


def note(send: Send, words: str, provider: Provider | None, now: datetime | None = None) -> None:
    """Add a decision to the send's routing trail (unsaved)."""
    entry = {"at": (now or timezone.now()).isoformat(), "words": words}
    if provider is not None:
        entry["provider"] = provider.slug
    send.routing = [*send.routing, entry]


def tried_providers(send: Send) -> set[int]:
    """The providers this send has been handed to (its trail names their slugs)."""
    slugs = {entry.get("provider") for entry in send.routing if entry.get("provider")}
    return set(Provider.objects.filter(slug__in=slugs).values_list("pk", flat=True)) | {send.provider_id}
