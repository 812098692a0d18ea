"""Alerts with a lifecycle: open -> (escalate / ease) -> acknowledge -> resolve.

One unresolved alert per condition: the dedupe key ``f"{kind}:{provider.slug}{key_suffix}"``
is unique among unresolved alerts (a partial unique index), so repeated polls
move ``last_seen_at`` of the same row and concurrent callers cannot open two.

- **Escalation** warning -> critical is immediate: an ``escalated`` event, the
  alert goes back to *open* if it was acknowledged (the acknowledgement was for
  the warning), and people are notified again unless they were already told
  about a critical (``Alert.notified_severity``).
- **Easing** critical -> warning waits until the lower severity has been
  reported for ``SENDWATCH_ALERT_EASE_AFTER_SECONDS`` without a critical in
  between, so a value hovering around a threshold cannot flap the alert.
- **Clearing** is the caller's decision; threshold checks here apply
  hysteresis first: a balance alert clears only once the value is
  ``SENDWATCH_ALERT_HYSTERESIS_PERCENT`` (10 %) past its threshold.

Words are facts (docs/alerts.md, "What an alert says"): a threshold alert's title is the
reason that set its current severity, in this reading's words; a reading held only by
hysteresis says so ("back above the warning 225.00; clears at 247.50"), and an automatic
resolution's note is the fact that resolved it ("Balance 250.00 EUR, above 247.50").

Every change writes an AlertEvent; opening, escalating and resolving queue
Notifications (services.notify), delivered after commit in their own
transactions so a failed email or webhook never touches the alert.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from messaging.alerts import notify
from messaging.alerts.runway import human_hours, month_start
from messaging.models import (
    CONSUMING_STATUSES,
    Alert,
    AlertEvent,
    BalanceSnapshot,
    ErrorEvent,
    Provider,
    ProviderStatus,
    Send,
)
from messaging.traffic import clean
from providers import Category

log = logging.getLogger(__name__)

Kind = Alert.Kind
Severity = Alert.Severity
State = Alert.State
RANK: dict[str | None, int] = {None: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}
# Internal marker in Alert.details: since when a lower severity has been reported.
EASING_SINCE = "easing_since"
# Categories of a failed poll that mean the vendor could not be reached or answered nonsense.
UNREACHABLE_CATEGORIES = frozenset(
    {Category.NETWORK, Category.TIMEOUT, Category.SERVER, Category.UNAVAILABLE, Category.INVALID_RESPONSE}
)
# Error categories errors_recorded acts on; everything else is left to spike detection.
ALERTING_CATEGORIES = frozenset({Category.AUTH, Category.BALANCE, Category.QUOTA})


class AlertStateError(ValueError):
    """The alert cannot make this change (it is already resolved)."""


def dedupe_key(provider: Provider, kind: str, key_suffix: str = "") -> str:
    return f"{kind}:{provider.slug}{key_suffix}"


def credential_url(provider: Provider) -> str:
    return f"/providers/{provider.slug}/credentials/"


def hysteresis_factor() -> Decimal:
    return 1 + Decimal(settings.SENDWATCH_ALERT_HYSTERESIS_PERCENT) / 100


def ease_after() -> timedelta:
    return timedelta(seconds=settings.SENDWATCH_ALERT_EASE_AFTER_SECONDS)


def unreachable_after() -> int:
    return max(1, settings.SENDWATCH_UNREACHABLE_AFTER_FAILED_POLLS)


# -- the lifecycle ------------------------------------------------------------------


def raise_condition(
    provider: Provider,
    kind: str,
    severity: str,
    title: str,
    details: dict | None = None,
    *,
    key_suffix: str = "",
    now: datetime | None = None,
) -> Alert:
    """Open the condition's alert, or refresh the open one (last_seen_at, title, details, severity)."""
    now = now or timezone.now()
    key = dedupe_key(provider, kind, key_suffix)
    details = clean.json_value(details or {})
    with transaction.atomic():
        alert = _unresolved(key)
        if alert is None:
            try:
                with transaction.atomic():
                    alert = Alert.objects.create(
                        provider=provider,
                        kind=kind,
                        severity=severity,
                        state=State.OPEN,
                        dedupe_key=key,
                        title=title[:200],
                        details=details,
                        opened_at=now,
                        last_seen_at=now,
                        notified_severity=severity,
                    )
            except IntegrityError:
                alert = _unresolved(key)  # a concurrent caller opened it first
                if alert is None:
                    raise
            else:
                notify.queue(_event(alert, AlertEvent.Kind.OPENED, severity, now, details=details))
                return alert
        _refresh(alert, severity, title, details, now)
    return alert


def refresh_condition(
    provider: Provider,
    kind: str,
    severity: str,
    title: str,
    details: dict | None = None,
    *,
    key_suffix: str = "",
    now: datetime | None = None,
) -> Alert | None:
    """Refresh the condition's unresolved alert like raise_condition, but never open one.

    For a reading that only hysteresis keeps in the condition: it keeps an open alert's words
    true ("back above the warning …; clears at …") but is no reason to open a new alert.
    """
    now = now or timezone.now()
    details = clean.json_value(details or {})
    with transaction.atomic():
        alert = _unresolved(dedupe_key(provider, kind, key_suffix))
        if alert is not None:
            _refresh(alert, severity, title, details, now)
    return alert


def _refresh(alert: Alert, severity: str, title: str, details: dict, now: datetime) -> None:
    alert.last_seen_at = max(alert.last_seen_at, now)  # a poll's reading time may trail a send's error
    alert.title = title[:200]
    fields = ["last_seen_at", "title", "details"]
    if RANK[severity] > RANK[alert.severity]:
        alert.severity, alert.escalated_at = severity, now
        fields += ["severity", "escalated_at"]
        if alert.state == State.ACKNOWLEDGED:
            alert.state = State.OPEN
            fields.append("state")
        event = _event(alert, AlertEvent.Kind.ESCALATED, severity, now, details=details)
        if RANK[alert.notified_severity or None] < RANK[severity]:
            alert.notified_severity = severity
            fields.append("notified_severity")
            notify.queue(event)
    elif RANK[severity] < RANK[alert.severity]:
        since = _parse_time(alert.details.get(EASING_SINCE)) or now
        if now - since >= ease_after():
            alert.severity = severity
            # People hear about a new critical again once it has eased.
            alert.notified_severity = severity
            fields += ["severity", "notified_severity"]
            _event(alert, AlertEvent.Kind.DE_ESCALATED, severity, now, details=details)
        else:
            details = {**details, EASING_SINCE: since.isoformat()}
            alert.title = still_title(title, alert.severity, severity)
    alert.details = details
    alert.save(update_fields=fields)


def still_title(title: str, current: str, lower: str) -> str:
    """The title while a lower severity waits out the easing delay: the reading, and why the severity stays."""
    seconds = int(ease_after().total_seconds())
    wait = f"{seconds // 60} min" if seconds >= 60 and seconds % 60 == 0 else f"{seconds} s"
    suffix = f" — still {current}: eases to {lower} once this holds for {wait}"
    return title[: max(0, 200 - len(suffix))] + suffix


def clear_condition(
    provider: Provider, kind: str, *, key_suffix: str = "", note: str = "", now: datetime | None = None
) -> Alert | None:
    """Resolve the condition's unresolved alert, if any (the caller decided the condition is over)."""
    with transaction.atomic():
        alert = _unresolved(dedupe_key(provider, kind, key_suffix))
        if alert is None:
            return None
        _resolve(alert, None, note or "condition cleared", now or timezone.now())
    return alert


def acknowledge(alert: Alert, user, note: str = "") -> Alert:
    """Someone is on it: notifications stop until it escalates."""
    now = timezone.now()
    with transaction.atomic():
        locked = Alert.objects.select_for_update().get(pk=alert.pk)
        if locked.state == State.RESOLVED:
            raise AlertStateError("This alert is already resolved.")
        locked.state, locked.acknowledged_at, locked.acknowledged_by = State.ACKNOWLEDGED, now, user
        locked.acknowledge_note = note
        locked.save(update_fields=["state", "acknowledged_at", "acknowledged_by", "acknowledge_note"])
        _event(locked, AlertEvent.Kind.ACKNOWLEDGED, locked.severity, now, actor=user, note=note)
    _copy(locked, alert)
    return alert


def resolve(alert: Alert, user, note: str = "") -> Alert:
    """Resolve by hand. If the condition still holds, the next check opens a new alert."""
    with transaction.atomic():
        locked = Alert.objects.select_for_update().get(pk=alert.pk)
        if locked.state == State.RESOLVED:
            raise AlertStateError("This alert is already resolved.")
        _resolve(locked, user, note, timezone.now())
    _copy(locked, alert)
    return alert


def _resolve(alert: Alert, actor, note: str, now: datetime) -> None:
    alert.state, alert.resolved_at, alert.resolved_by, alert.resolve_note = State.RESOLVED, now, actor, note
    alert.details = {k: v for k, v in alert.details.items() if k != EASING_SINCE}
    alert.save(update_fields=["state", "resolved_at", "resolved_by", "resolve_note", "details"])
    notify.queue(_event(alert, AlertEvent.Kind.RESOLVED, alert.severity, now, actor=actor, note=note))


def _unresolved(key: str) -> Alert | None:
    return Alert.objects.select_for_update().filter(dedupe_key=key).exclude(state=State.RESOLVED).first()


def _event(alert: Alert, kind: str, severity: str, at: datetime, *, actor=None, note: str = "", details=None):
    clean = {k: v for k, v in (details or {}).items() if k != EASING_SINCE}
    return AlertEvent.objects.create(
        alert=alert, kind=kind, severity=severity, at=at, actor=actor, note=note, details=clean
    )


def _copy(source: Alert, target: Alert) -> None:
    if source is not target:
        for name in ("state", "acknowledged_at", "acknowledged_by_id", "acknowledge_note", "resolved_at",
                     "resolved_by_id", "resolve_note", "details"):  # fmt: skip
            setattr(target, name, getattr(source, name))


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


# -- errors as they are recorded ----------------------------------------------------------


def wants(error) -> bool:
    """Whether errors_recorded may act on this error (cheap: no query)."""
    return str(error.category) in ALERTING_CATEGORIES


@dataclass(frozen=True)
class _ErrorFields:
    code: str
    category: str
    http_status: int | None
    retryable: bool
    message: str
    details: dict


def _fields(error) -> _ErrorFields:
    """A NormalizedError or an ErrorEvent, as the fields used here."""
    return _ErrorFields(
        code=getattr(error, "provider_code", "") or getattr(error, "error_code", ""),
        category=str(error.category),
        http_status=error.http_status,
        retryable=bool(error.retryable),
        message=error.message or "",
        details=dict(error.details or {}),
    )


def _condition_for(provider: Provider, error) -> tuple[str, str, str, dict] | None:
    """(kind, severity, title, details) of the alert an error opens at once, or None."""
    f = _fields(error)
    base = {"error_code": f.code, "http_status": f.http_status, "message": f.message[:300], "trigger": "error"}
    refusal = {
        "at": (getattr(error, "occurred_at", None) or timezone.now()).isoformat(),
        "code": f.code,
        "balance": f.details.get("balance", f.details.get("current_balance")),
        "limit": f.details.get("limit"),
    }
    if f.category == Category.AUTH:
        return (
            Kind.CREDENTIAL_FAILED,
            Severity.CRITICAL,
            f"{provider.name}: the vendor refused the API key ({f.code})",
            {**base, "credential_url": credential_url(provider)},
        )
    if f.category == Category.BALANCE:
        return (
            Kind.LOW_BALANCE,
            Severity.CRITICAL,
            f"{provider.name}: sending refused for lack of funds ({f.code})",
            {**base, "vendor_details": _small(f.details), "refusal": refusal},
        )
    # Plan exhaustion is a 402 (Telnxo quota_exceeded, texting.blue plan_limit_exceeded); hourly and
    # daily windows (429) reset by themselves and a resource cap (409) is not about messages.
    if f.category == Category.QUOTA and f.http_status == 402 and provider.is_plan_based:
        return (
            Kind.QUOTA_NEAR,
            Severity.CRITICAL,
            f"{provider.name}: plan limit reached ({f.code})",
            {**base, "vendor_details": _small(f.details), "refusal": refusal},
        )
    return None


def _small(details: dict) -> dict:
    return {str(k): v for k, v in list(details.items())[:20] if isinstance(v, (str, int, float, bool)) or v is None}


def errors_recorded(provider: Provider, errors: Sequence) -> list[Alert]:
    """Open alerts at once for money or plan exhaustion and refused keys among just-recorded errors.

    Takes NormalizedErrors (or ErrorEvents). Called after the error rows are
    written: by services.recording on commit, by the balance poller, and by the
    ingest API.
    """
    conditions: dict[str, tuple[str, str, dict]] = {}
    for error in errors:
        if not wants(error):
            continue
        found = _condition_for(provider, error)
        if found is not None:
            conditions.setdefault(found[0], found[1:])
    opened = [raise_condition(provider, kind, *rest) for kind, rest in conditions.items()]
    if Kind.CREDENTIAL_FAILED in conditions:
        set_status(provider, ProviderStatus.CREDENTIAL_FAILED, conditions[Kind.CREDENTIAL_FAILED][1])
    elif conditions:
        set_status(provider, ProviderStatus.CRITICAL, next(iter(conditions.values()))[1])
    return opened


def set_status(provider: Provider, status: str, detail: str, now: datetime | None = None) -> None:
    """Keep Provider.status; status_changed_at moves only when the status does."""
    now = now or timezone.now()
    detail = clean.text(detail, 300)  # may quote the vendor's answer
    changed = (
        Provider.objects.filter(pk=provider.pk)
        .exclude(status=status)
        .update(status=status, status_detail=detail, status_changed_at=now)
    )
    if not changed:
        Provider.objects.filter(pk=provider.pk).exclude(status_detail=detail).update(status_detail=detail)
    provider.status, provider.status_detail = status, detail
    if changed:
        provider.status_changed_at = now


# -- thresholds after a poll ----------------------------------------------------------------


@dataclass
class Evaluation:
    """What one poll's evaluation decided: the provider's status and the alerts it touched."""

    status: str
    detail: str
    raised: list[Alert] = field(default_factory=list)
    cleared: list[Alert] = field(default_factory=list)


@dataclass(frozen=True)
class Reason:
    """One fact behind a severity, in words, from this reading.

    ``held``: the value is back past its threshold and only hysteresis keeps the severity
    ("Balance 230.00 EUR, back above the warning 225.00; clears at 247.50 (hysteresis 10 %)").
    """

    severity: str
    text: str
    held: bool = False


@dataclass
class _Level:
    """What one reading says about one alert kind: its reasons, and the facts that would resolve it."""

    found: list[Reason] = field(default_factory=list)
    # Measures that cross nothing, as facts ("Balance 250.00 EUR, above 247.50"): the note when it resolves.
    cleared: list[str] = field(default_factory=list)
    refusal: dict | None = None  # kept on the alert while it is in force

    def add(self, severity: str, text: str, *, held: bool = False) -> None:
        self.found.append(Reason(severity, text, held))

    @property
    def severity(self) -> str | None:
        return _ordered(self)[0].severity if self.found else None

    @property
    def reasons(self) -> list[str]:
        """The reasons, the one that set the severity first."""
        return [reason.text for reason in _ordered(self)]

    @property
    def held(self) -> bool:
        """Only hysteresis keeps this level: a reason to keep an open alert, never to open one."""
        return bool(self.found) and all(reason.held for reason in self.found)


def _ordered(*levels: _Level) -> list[Reason]:
    """Highest severity first; at one severity a crossed threshold before one held by hysteresis, else as found."""
    found = [reason for level in levels for reason in level.found]
    return sorted(found, key=lambda reason: (-RANK[reason.severity], reason.held))


def evaluate_balance_thresholds(provider: Provider, snapshot: BalanceSnapshot, runway=None) -> Evaluation:
    """Raise or clear low_balance, balance_blocked, quota_near, unreachable and credential_failed.

    Hysteresis: an open alert clears (or eases from critical) only once the value is past
    its threshold by SENDWATCH_ALERT_HYSTERESIS_PERCENT. A degraded reading (``unavailable``)
    never raises or clears anything about the balance.
    """
    now = snapshot.fetched_at
    kinds = [Kind.LOW_BALANCE, Kind.BALANCE_BLOCKED, Kind.QUOTA_NEAR, Kind.UNREACHABLE, Kind.CREDENTIAL_FAILED]
    current = {
        a.kind: a
        for a in Alert.objects.filter(dedupe_key__in=[dedupe_key(provider, k) for k in kinds]).exclude(
            state=State.RESOLVED
        )
    }
    if not snapshot.ok:
        return _failed_poll(provider, snapshot, current, now)
    evaluation = Evaluation(ProviderStatus.OK, "")
    if snapshot.details.get("credential") == "grace":
        evaluation.raised.append(
            raise_condition(
                provider,
                Kind.CREDENTIAL_FAILED,
                Severity.CRITICAL,
                f"{provider.name}: the active API key is refused; running on the retired key",
                {"credential_url": credential_url(provider), "trigger": "poll", "grace": True},
                now=now,
            )
        )
    else:
        _clear(evaluation, provider, Kind.CREDENTIAL_FAILED, current, "a balance poll succeeded with the key", now)
    _clear(evaluation, provider, Kind.UNREACHABLE, current, "the vendor answered a balance poll", now)
    if snapshot.unavailable:
        reason = snapshot.details.get("reason") or snapshot.details.get("state") or "no real balance in the answer"
        evaluation.status, evaluation.detail = ProviderStatus.DEGRADED, f"Vendor gave no real balance ({reason})"
        return evaluation

    if snapshot.blocked:
        evaluation.raised.append(
            raise_condition(
                provider,
                Kind.BALANCE_BLOCKED,
                Severity.CRITICAL,
                f"{provider.name}: sending blocked, no credit ({_amount(snapshot)})",
                {"amount": snapshot.amount, "currency": snapshot.currency, "trigger": "poll"},
                now=now,
            )
        )
    else:
        _clear(evaluation, provider, Kind.BALANCE_BLOCKED, current, "the vendor no longer blocks sending", now)

    quota = snapshot.limit is not None
    money = _money_level(provider, snapshot, runway if not quota else None, current.get(Kind.LOW_BALANCE))
    _apply(evaluation, provider, Kind.LOW_BALANCE, money, current, now, snapshot)
    plan = _Level()
    if quota:
        plan = _quota_level(provider, snapshot, runway, current.get(Kind.QUOTA_NEAR))
        _apply(evaluation, provider, Kind.QUOTA_NEAR, plan, current, now, snapshot)

    worst = max(RANK[money.severity], RANK[plan.severity])
    summary = _summary(snapshot, runway)
    # The reasons in the alerts' own words, the one that set the worst severity first.
    reasons = " · ".join(reason.text for reason in _ordered(money, plan))
    if snapshot.blocked:
        evaluation.status, evaluation.detail = ProviderStatus.BLOCKED, f"Sending blocked: {summary}"
    elif worst == RANK[Severity.CRITICAL]:
        evaluation.status, evaluation.detail = ProviderStatus.CRITICAL, reasons
    elif worst == RANK[Severity.WARNING]:
        evaluation.status, evaluation.detail = ProviderStatus.LOW, reasons
    else:
        evaluation.detail = summary
    if snapshot.details.get("credential") == "grace":
        evaluation.status = ProviderStatus.CREDENTIAL_FAILED
        evaluation.detail = "The active key is refused; polling with the retired key. " + evaluation.detail
    evaluation.detail = evaluation.detail[:300]
    return evaluation


def _failed_poll(provider: Provider, snapshot: BalanceSnapshot, current: dict, now: datetime) -> Evaluation:
    category = snapshot.details.get("category", "")
    code, message = snapshot.error_code, snapshot.details.get("message", "")
    evaluation = Evaluation(ProviderStatus.DEGRADED, f"Balance could not be read: {code} {message}".strip()[:300])
    if category == Category.AUTH:
        evaluation.status = ProviderStatus.CREDENTIAL_FAILED
        local = code in ("no_credential", "vault_error")
        title = f"{provider.name}: " + ("no usable API key" if local else f"the vendor refused the API key ({code})")
        evaluation.detail = (message if local else f"The vendor refused the key: {code} {message}").strip()[:300]
        evaluation.raised.append(
            raise_condition(
                provider,
                Kind.CREDENTIAL_FAILED,
                Severity.CRITICAL,
                title,
                {"error_code": code, "message": message, "credential_url": credential_url(provider), "trigger": "poll"},
                now=now,
            )
        )
    elif category in UNREACHABLE_CATEGORIES:
        evaluation.status = ProviderStatus.UNREACHABLE
        evaluation.detail = f"Balance poll failed: {code} {message}".strip()[:300]
        failures = _consecutive_unreachable(provider, 2 * unreachable_after())
        if failures >= unreachable_after():
            severity = Severity.CRITICAL if failures >= 2 * unreachable_after() else Severity.WARNING
            marks = f"critical at {2 * unreachable_after()}"
            if severity == Severity.WARNING:
                marks = f"warning at {unreachable_after()}, {marks}"
            evaluation.raised.append(
                raise_condition(
                    provider,
                    Kind.UNREACHABLE,
                    severity,
                    f"{provider.name}: Unreachable: {failures} balance polls in a row failed ({code}), {marks}",
                    {"error_code": code, "message": message, "failed_polls": failures, "trigger": "poll"},
                    now=now,
                )
            )
    elif category in (Category.BALANCE, Category.QUOTA):
        error = ErrorEvent(error_code=code, category=category, http_status=snapshot.details.get("http_status"),
                           message=message, retryable=False, details={})  # fmt: skip
        found = _condition_for(provider, error)
        if found is not None:
            evaluation.status, evaluation.detail = ProviderStatus.CRITICAL, found[2][:300]
            evaluation.raised.append(raise_condition(provider, found[0], found[1], found[2], found[3], now=now))
    return evaluation


def _consecutive_unreachable(provider: Provider, limit: int) -> int:
    recent = BalanceSnapshot.objects.filter(provider=provider).order_by("-fetched_at", "-id")
    count = 0
    for ok, details in recent.values_list("ok", "details")[:limit]:
        if ok or (details or {}).get("category") not in UNREACHABLE_CATEGORIES:
            break
        count += 1
    return count


def _money_level(provider: Provider, snapshot: BalanceSnapshot, runway, alert: Alert | None) -> _Level:
    level = _Level()
    current = alert.severity if alert else None
    _balance_reason(level, provider, snapshot, current)
    _runway_reason(level, "Balance", provider, runway, current)
    _refusal_into(level, provider, snapshot, alert)
    return level


def _quota_level(provider: Provider, snapshot: BalanceSnapshot, runway, alert: Alert | None) -> _Level:
    level = _Level()
    current = alert.severity if alert else None
    _percent_reason(level, provider, snapshot, current)
    _runway_reason(level, "Plan quota", provider, runway, current)
    _refusal_into(level, provider, snapshot, alert)
    return level


# Each check below says, from this reading, which threshold is crossed ("below the warning 50.00"), which one
# only hysteresis still holds ("back above the warning 50.00; clears at 55.00 (hysteresis 10 %)"), or, when
# none, the fact that resolves the alert ("Balance 60.00 EUR, above 55.00"). An open alert's thresholds are
# moved by the hysteresis factor: a warning clears (a critical eases) only once the value is that far past it.


def _balance_reason(level: _Level, provider: Provider, snapshot: BalanceSnapshot, current: str | None) -> None:
    amount = snapshot.amount
    critical, warning = provider.balance_critical, provider.balance_warning
    if amount is None or (critical is None and warning is None):
        return
    factor = hysteresis_factor()
    lead = f"Balance {_amount(snapshot)}"
    if critical is not None and amount < critical:
        level.add(Severity.CRITICAL, f"{lead}, below the critical {_num(critical)}")
    elif critical is not None and current == Severity.CRITICAL and amount < critical * factor:
        back = _back("above", amount, critical)
        level.add(
            Severity.CRITICAL,
            f"{lead}, {back} the critical {_num(critical)}; eases at {_num(critical * factor)} ({hysteresis_text()})",
            held=True,
        )
    elif warning is not None and amount < warning:
        level.add(Severity.WARNING, f"{lead}, below the warning {_num(warning)}")
    elif warning is not None and current and amount < warning * factor:
        back = _back("above", amount, warning)
        level.add(
            Severity.WARNING,
            f"{lead}, {back} the warning {_num(warning)}; clears at {_num(warning * factor)} ({hysteresis_text()})",
            held=True,
        )
    else:
        bound = _clear_bound(critical, warning, current, factor, lower_is_worse=True)
        level.cleared.append(f"{lead}, {'above' if amount > bound else 'at'} {_num(bound)}")


def _percent_reason(level: _Level, provider: Provider, snapshot: BalanceSnapshot, current: str | None) -> None:
    critical, warning = provider.quota_critical_percent, provider.quota_warning_percent
    if snapshot.used is None or not snapshot.limit or (critical is None and warning is None):
        return
    percent = 100.0 * snapshot.used / snapshot.limit
    factor = float(hysteresis_factor())
    marks = [m for t in (critical, warning) if t is not None for m in (float(t), t / factor)]
    shown = same_side(percent, marks)
    lead = f"Plan quota: {shown} % used ({snapshot.used:,} of {snapshot.limit:,} messages)"
    if critical is not None and percent >= critical:
        level.add(Severity.CRITICAL, f"{lead}, critical at {critical} %")
    elif critical is not None and current == Severity.CRITICAL and percent >= critical / factor:
        eases = f"eases under {short_number(critical / factor)} % ({hysteresis_text()})"
        level.add(Severity.CRITICAL, f"{lead}, back under the critical {critical} %; {eases}", held=True)
    elif warning is not None and percent >= warning:
        level.add(Severity.WARNING, f"{lead}, warning at {warning} %")
    elif warning is not None and current and percent >= warning / factor:
        clears = f"clears under {short_number(warning / factor)} % ({hysteresis_text()})"
        level.add(Severity.WARNING, f"{lead}, back under the warning {warning} %; {clears}", held=True)
    else:
        bound = _clear_bound(critical, warning, current, factor, lower_is_worse=False)
        level.cleared.append(f"{lead}, under {short_number(bound)} %")


def _runway_reason(level: _Level, what: str, provider: Provider, runway, current: str | None) -> None:
    critical, warning = provider.runway_critical_hours, provider.runway_warning_hours
    if runway is None or (critical is None and warning is None):
        return
    if not runway.draining:
        # Not draining, or the quota lasts until the plan resets (runway thresholds ignore it); unknown says nothing.
        if runway.capped_at_reset or runway.burn_per_hour == 0:
            level.cleared.append(f"{what}: {runway.label}")
        return
    hours = runway.hours_left
    factor = float(hysteresis_factor())
    marks = [m for t in (critical, warning) if t is not None for m in (float(t), t * factor)]
    lead = f"{what}: {_runs_out(hours, marks)}"
    if critical is not None and hours < critical:
        level.add(Severity.CRITICAL, f"{lead} (critical under {critical} h)")
    elif critical is not None and current == Severity.CRITICAL and hours < critical * factor:
        eases = f"eases at {short_number(critical * factor)} h ({hysteresis_text()})"
        level.add(
            Severity.CRITICAL,
            f"{lead}, {_back('above', hours, critical)} the critical {critical} h; {eases}",
            held=True,
        )
    elif warning is not None and hours < warning:
        level.add(Severity.WARNING, f"{lead} (warning under {warning} h)")
    elif warning is not None and current and hours < warning * factor:
        clears = f"clears at {short_number(warning * factor)} h ({hysteresis_text()})"
        level.add(
            Severity.WARNING, f"{lead}, {_back('above', hours, warning)} the warning {warning} h; {clears}", held=True
        )
    else:
        bound = _clear_bound(critical, warning, current, factor, lower_is_worse=True)
        level.cleared.append(f"{lead}, {'above' if hours > bound else 'at'} {short_number(bound)} h")


def _refusal_into(level: _Level, provider: Provider, snapshot: BalanceSnapshot, alert: Alert | None) -> None:
    level.refusal, ended = _refused(provider, snapshot, alert)
    if level.refusal:
        level.add(Severity.CRITICAL, _refusal_reason(level.refusal))
    elif ended:
        level.cleared.append(ended)


def _clear_bound(critical, warning, current: str | None, factor, *, lower_is_worse: bool):
    """The threshold this reading was last compared with: past it, nothing is crossed (hysteresis included)."""
    if warning is not None:
        threshold, moved = warning, current is not None
    else:
        threshold, moved = critical, current == Severity.CRITICAL
    if not moved:
        return threshold
    return threshold * factor if lower_is_worse else threshold / factor


def hysteresis_text() -> str:
    return f"hysteresis {short_number(settings.SENDWATCH_ALERT_HYSTERESIS_PERCENT)} %"


def _back(side: str, value, threshold) -> str:
    return f"back {side}" if value != threshold else "back at"


def short_number(value) -> str:
    """A threshold or a bound as people write it: 24, 26.4, 72.7 (one decimal at most)."""
    text = f"{float(value):.1f}"
    return text[:-2] if text.endswith(".0") else text


def same_side(value: float, marks: Sequence[float], digits: int = 0) -> str:
    """``value`` with as few decimals (from ``digits``) as keep it on the same side of every mark, or on it.

    So 79.6 % is never written "80 % used, back under the warning 80 %".
    """
    for places in range(digits, 5):
        text = f"{value:.{places}f}"
        if all(_sign(float(text) - mark) == _sign(value - mark) for mark in marks):
            return text
    return repr(value)


def _sign(number: float) -> int:
    return (number > 0) - (number < 0)


def _runs_out(hours: float, marks: list[float]) -> str:
    """'runs out in ~15 hours' (runway.human_hours), with more digits when rounding would cross a threshold."""
    if hours <= 0:
        return "used up"
    text = human_hours(hours)
    if hours < 1:
        shown = max(1, round(hours * 60)) / 60
    elif hours < 48:
        shown = float(text.split()[0].lstrip("~"))
    else:
        shown = float(text.split()[0].lstrip("~")) * 24
    if any(_sign(shown - mark) != _sign(hours - mark) for mark in marks):
        text = f"~{same_side(hours, marks)} hours"
    return f"runs out in {text}"


def _refused(provider: Provider, snapshot: BalanceSnapshot, alert: Alert | None) -> tuple[dict | None, str]:
    """The open alert's refusal (sends refused for lack of funds or plan) while nothing has fixed it.

    errors_recorded notes the refusal on the alert (``details["refusal"]``), so no error
    table is scanned here. Fixed means: a send was accepted after the refusal, or (money)
    the balance rose above what it was when sends were refused, or (quota) the limit rose
    or a new plan period began. Returns (the refusal in force, or None; what fixed it, in words, or "").
    """
    if alert is None:
        return None, ""
    refusal = alert.details.get("refusal")
    refused_at = _parse_time(refusal.get("at")) if isinstance(refusal, dict) else None
    if refused_at is None:
        return None, ""
    code = refusal.get("code", "?")
    if Send.objects.filter(
        provider=provider,
        created_at__gte=refused_at - timedelta(minutes=10),
        completed_at__gt=refused_at,
        status__in=CONSUMING_STATUSES,
    ).exists():
        return None, f"the vendor accepted a send after refusing sends ({code})"
    before = (
        BalanceSnapshot.objects.filter(provider=provider, ok=True, unavailable=False, fetched_at__lte=refused_at)
        .order_by("-fetched_at")
        .values("amount", "limit")
        .first()
    )
    if alert.kind == Kind.LOW_BALANCE:
        if snapshot.amount is not None:
            # The vendor's own balance at the refusal, else the last reading before it.
            reference = _decimal(refusal.get("balance"))
            if reference is None and before and before["amount"] is not None:
                reference = before["amount"]
            if reference is None:
                reference = max(Decimal(0), provider.balance_warning or Decimal(0))
            if snapshot.amount > reference:
                return None, f"Balance {_amount(snapshot)}, above the {_num(reference)} of the refusal ({code})"
    else:
        if refused_at < month_start(snapshot.fetched_at):
            return None, f"a new plan month began since sends were refused ({code})"
        limit = before["limit"] if before and before["limit"] is not None else _int(refusal.get("limit"))
        if limit is not None and snapshot.limit is not None and snapshot.limit > limit:
            return None, f"the plan limit rose to {snapshot.limit:,} messages from {limit:,}"
    return refusal, ""


def _refusal_reason(refusal: dict) -> str:
    when = timezone.localtime(_parse_time(refusal["at"])).strftime("%d %b %H:%M")
    return f"The vendor refused sends ({refusal.get('code', '?')}) at {when} and nothing has changed since"


def _apply(
    evaluation: Evaluation,
    provider: Provider,
    kind: str,
    level: _Level,
    current: dict,
    now: datetime,
    snapshot: BalanceSnapshot,
) -> None:
    if level.severity is not None:
        details: dict[str, Any] = {
            "reasons": level.reasons,
            "amount": snapshot.amount,
            "currency": snapshot.currency,
            "used": snapshot.used,
            "limit": snapshot.limit,
            "trigger": "poll",
            "snapshot_id": snapshot.pk,
        }
        if level.refusal:
            details["refusal"] = level.refusal
        # The title is the reason that set the severity, from this reading.
        title = f"{provider.name}: {level.reasons[0]}"
        # Held only by hysteresis: keep the open alert's words true, never open one.
        change = refresh_condition if level.held else raise_condition
        alert = change(provider, kind, level.severity, title, details, now=now)
        if alert is not None:
            evaluation.raised.append(alert)
    else:
        # What resolved it, from this reading: "Balance 250.00 EUR, above 247.50".
        note = "; ".join(level.cleared) or "no threshold is crossed any more"
        _clear(evaluation, provider, kind, current, note, now)


def _clear(evaluation: Evaluation, provider: Provider, kind: str, current: dict, note: str, now: datetime) -> None:
    if kind in current:
        cleared = clear_condition(provider, kind, note=note, now=now)
        if cleared is not None:
            evaluation.cleared.append(cleared)


def _summary(snapshot: BalanceSnapshot, runway) -> str:
    if snapshot.limit is not None:
        used = "?" if snapshot.used is None else f"{snapshot.used:,}"
        text = f"{used} of {snapshot.limit:,} messages used this period"
    else:
        text = f"balance {_amount(snapshot)}"
    if runway is not None and (runway.hours_left is not None or runway.burn_per_hour == 0):
        text += f", {runway.label}"
    return text


def _amount(snapshot: BalanceSnapshot) -> str:
    return f"{_num(snapshot.amount)} {snapshot.currency}".strip() if snapshot.amount is not None else "unknown"


def _num(value: Decimal | None) -> str:
    if value is None:
        return "?"
    value = Decimal(value)
    return f"{value:.2f}" if value == value.quantize(Decimal("0.01")) else f"{value.normalize():f}"


def _decimal(value) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except (InvalidOperation, ValueError):
        return None


def _int(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
