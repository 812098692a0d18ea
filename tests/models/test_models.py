"""Database constraints that keep the data honest, checked on the real database."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from messaging.models import Alert, Credential, Provider, Send
from providers import ADAPTERS

pytestmark = pytest.mark.django_db


def make_provider(slug: str = "acme-23", kind: str = "23telecom") -> Provider:
    return Provider.objects.create(name=slug, slug=slug, kind=kind)


def make_credential(provider: Provider, state: str) -> Credential:
    return Credential.objects.create(
        provider=provider, ciphertext="x", key_id="k1", fingerprint="f", hint="abcd", state=state
    )


def test_provider_kind_choices_come_from_the_adapter_registry():
    choices = dict(Provider._meta.get_field("kind").choices)
    assert set(choices) == set(ADAPTERS)


def test_several_providers_of_one_kind_are_allowed():
    make_provider("23-eu")
    make_provider("23-uk")
    assert Provider.objects.filter(kind="23telecom").count() == 2


def test_at_most_one_active_credential_per_provider():
    provider = make_provider()
    make_credential(provider, Credential.State.ACTIVE)
    make_credential(provider, Credential.State.RETIRED)
    make_credential(provider, Credential.State.PENDING)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_credential(provider, Credential.State.ACTIVE)
    # Another provider may have its own active key.
    make_credential(make_provider("other"), Credential.State.ACTIVE)


def test_idempotency_key_is_unique_per_provider_only():
    first, second = make_provider("a"), make_provider("b")
    Send.objects.create(provider=first, recipient="+447700900001", idempotency_key="k-1")
    Send.objects.create(provider=second, recipient="+447700900001", idempotency_key="k-1")
    # Sends without a key never collide.
    Send.objects.create(provider=first, recipient="+447700900001")
    Send.objects.create(provider=first, recipient="+447700900001")
    with pytest.raises(IntegrityError), transaction.atomic():
        Send.objects.create(provider=first, recipient="+447700900002", idempotency_key="k-1")


def test_one_unresolved_alert_per_condition():
    provider = make_provider()
    now = timezone.now()

    def open_alert(state: str = Alert.State.OPEN) -> Alert:
        return Alert.objects.create(
            provider=provider,
            kind=Alert.Kind.LOW_BALANCE,
            dedupe_key="low_balance:acme-23",
            title="Low",
            opened_at=now,
            last_seen_at=now,
            state=state,
        )

    open_alert(Alert.State.RESOLVED)
    open_alert(Alert.State.RESOLVED)  # history may hold many resolved alerts
    alert = open_alert()
    with pytest.raises(IntegrityError), transaction.atomic():
        open_alert(Alert.State.ACKNOWLEDGED)
    alert.state = Alert.State.RESOLVED
    alert.save()
    open_alert()  # once resolved, the condition may open again
