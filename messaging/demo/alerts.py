"""Demo alerts, so a new user's alerts page shows each state with a real history.

Everything goes through services.alerts (raise, escalate, clear, acknowledge and
errors_recorded), so the rows, events and provider status are what production
would write. Alerts are opened only when the demo providers have none yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count
from django.utils import timezone

from messaging.alerts import lifecycle as alerts
from messaging.models import Alert, ErrorEvent, Provider
from providers import Category

Kind, Severity = Alert.Kind, Alert.Severity
# Errors per code in the demo spike's 15-minute window, most frequent code first.
SPIKE_COUNTS = (12, 7, 4, 2, 1)


def open_demo_alerts(providers: Sequence[Provider], now: datetime | None = None) -> list[Alert]:
    """A resolved low-balance alert, an acknowledged error spike and an open refused key."""
    now = now or timezone.now()
    by_kind = {p.kind: p for p in providers}
    if Alert.objects.filter(provider__in=providers).exists():
        return []
    made = []
    if money := by_kind.get("23telecom"):
        made.append(_resolved_low_balance(money, now))
    if spiky := by_kind.get("8x8"):
        made.append(_acknowledged_spike(spiky, now))
    if keyed := by_kind.get("telnxo"):
        made.append(_refused_key(keyed, now))
    return made


def _resolved_low_balance(provider: Provider, now: datetime) -> Alert:
    """Warning, escalated to critical, then cleared automatically by a top-up."""
    currency = provider.currency or "EUR"
    opened = now - timedelta(days=3)
    escalated, cleared = opened + timedelta(hours=2), opened + timedelta(hours=20)
    steps = [
        (opened, Severity.WARNING, "Low balance", "42.00", "below warning 50.00"),
        (escalated, Severity.CRITICAL, "Balance critical", "18.50", "below critical 20.00"),
    ]
    for at, severity, label, amount, threshold in steps:
        reason = f"balance {amount} {currency} {threshold}"
        alert = alerts.raise_condition(
            provider,
            Kind.LOW_BALANCE,
            severity,
            f"{provider.name}: {label} — {reason}",
            {"reasons": [reason], "amount": amount, "currency": currency, "trigger": "poll"},
            now=at,
        )
    alerts.clear_condition(
        provider, Kind.LOW_BALANCE, note=f"back above the thresholds with balance 520.00 {currency}", now=cleared
    )
    alert.refresh_from_db()
    return alert


def _acknowledged_spike(provider: Provider, now: datetime) -> Alert:
    """Named after the provider's most frequent codes in the generated history."""
    frequent = list(
        ErrorEvent.objects.filter(provider=provider, occurred_at__gte=now - timedelta(days=7))
        .values("error_code")
        .annotate(n=Count("id"))
        .order_by("-n", "error_code")
        .values_list("error_code", flat=True)[: len(SPIKE_COUNTS)]
    )
    if not frequent:
        catalogue = provider.adapter_class.errors
        frequent = [c for c, e in catalogue.items() if e.category == Category.VALIDATION][: len(SPIKE_COUNTS)]
    codes: list[dict[str, Any]] = [{"code": code, "count": n} for code, n in zip(frequent, SPIKE_COUNTS, strict=False)]
    errors, sends = sum(c["count"] for c in codes), 160
    rate = 100 * errors / sends
    lead = f"top: {codes[0]['code']} x{codes[0]['count']}" if codes else "no error codes"
    alert = alerts.raise_condition(
        provider,
        Kind.ERROR_SPIKE,
        Severity.WARNING,
        f"{provider.name}: error spike {rate:.1f}% of {sends} sends in 15 min ({lead})",
        {
            "rate_percent": round(rate, 2),
            "errors": errors,
            "sends": sends,
            "window_minutes": 15,
            "ceiling_percent": float(provider.error_rate_ceiling_percent),
            "baseline_percent": 2.1,
            "reason": f"above the {float(provider.error_rate_ceiling_percent):g}% ceiling",
            "top_codes": codes,
        },
        now=now - timedelta(minutes=40),
    )
    return alerts.acknowledge(alert, None, "The vendor confirmed a routing problem on their side; watching the rate.")


def _refused_key(provider: Provider, now: datetime) -> Alert:
    """The vendor refused the API key on a send: errors_recorded opens it, as on a real send."""
    code = next(c for c, e in provider.adapter_class.errors.items() if e.category == Category.AUTH)
    entry = provider.adapter_class.errors[code]
    refusal = ErrorEvent(
        provider=provider,
        error_code=code,
        category=entry.category,
        http_status=entry.http_status,
        message=entry.description[:300],
        retryable=False,
        details={},
        occurred_at=now - timedelta(minutes=5),
    )
    [alert] = alerts.errors_recorded(provider, [refusal])
    return alert
