"""Alerts listening to traffic: money, plan and key errors open their alerts as soon as they are committed.

Connected in MessagingConfig.ready(). Balance polls are left out (the poller evaluates its
own failures), and so are checks of a key not yet in use.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from messaging.alerts import key_age, lifecycle
from messaging.models import ErrorEvent, Provider
from messaging.traffic.signals import errors_recorded
from messaging.vault.signals import key_activated
from providers import NormalizedError

IGNORED_SOURCES = frozenset({ErrorEvent.Source.BALANCE, ErrorEvent.Source.VERIFY})


@receiver(errors_recorded, dispatch_uid="alerts.open_immediate_alerts")
def open_immediate_alerts(
    sender: type, *, provider: Provider, errors: list[NormalizedError], source: str | None, **kwargs: Any
) -> None:
    if source in IGNORED_SOURCES:
        return
    wanted = [error for error in errors if lifecycle.wants(error)]
    if wanted:
        lifecycle.errors_recorded(provider, wanted)


@receiver(key_activated, dispatch_uid="alerts.clear_key_age_alert")
def clear_key_age_alert(sender: type, *, provider: Provider, hint: str, **kwargs: Any) -> None:
    key_age.clear_after_activation(provider, hint)
