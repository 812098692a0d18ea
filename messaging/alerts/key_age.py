"""The key-age policy's alert: a warning for every provider whose active key is older than allowed.

The policy itself (max_age, too_old) is the vault's; this module turns it into alerts, daily
(beat) and when a new key is activated (messaging.vault.signals.key_activated).
"""

from __future__ import annotations

from django.utils import timezone

from messaging.alerts import lifecycle as alerts
from messaging.models import Alert, Credential, Provider
from messaging.vault.keys import age_days, max_age, too_old


def check_ages(now=None) -> dict[str, list[str]]:
    """Raise a credential_age warning for every provider whose active key is too old; clear the others."""
    now = now or timezone.now()
    report: dict[str, list[str]] = {"raised": [], "cleared": []}
    active = {
        c.provider_id: c for c in Credential.objects.filter(state=Credential.State.ACTIVE).select_related("provider")
    }
    for provider in Provider.objects.order_by("pk"):
        credential = active.get(provider.pk)
        if credential is not None and too_old(credential, now):
            days = age_days(credential, now)
            alerts.raise_condition(
                provider,
                Alert.Kind.CREDENTIAL_AGE,
                Alert.Severity.WARNING,
                f"{provider.name}: API key …{credential.hint} is {days} days old; rotate it",
                {
                    "hint": credential.hint,
                    "fingerprint": credential.fingerprint,
                    "age_days": days,
                    "max_age_days": max_age().days,
                    "added_at": credential.created_at.isoformat(),
                },
            )
            report["raised"].append(provider.slug)
        elif alerts.clear_condition(provider, Alert.Kind.CREDENTIAL_AGE, note="the active key is within the policy"):
            report["cleared"].append(provider.slug)
    return report


def clear_after_activation(provider: Provider, hint: str) -> None:
    alerts.clear_condition(provider, Alert.Kind.CREDENTIAL_AGE, note=f"new key …{hint} activated")
