"""Key age policy (credential_age alerts) and vendor-reported key expiry (credential_failed at once)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from messaging import tasks
from messaging.alerts import key_age
from messaging.models import Alert, Credential, Provider, ProviderStatus, SendStatus
from messaging.traffic.verify import verify as verify_key
from messaging.vault import keys as credentials
from tests.vault.conftest import Urls

pytestmark = pytest.mark.django_db


def age(provider: Provider, days: int) -> Credential:
    credential = Credential.objects.get(provider=provider, state="active")
    Credential.objects.filter(pk=credential.pk).update(created_at=timezone.now() - timedelta(days=days))
    return Credential.objects.get(pk=credential.pk)


def test_keys_older_than_the_policy_raise_one_warning_until_rotated(
    simulator, make_provider, django_capture_on_commit_callbacks
):
    old = make_provider("telephonyio", simulator.root, slug="old-keys", key="an_old_active_key_0A0A")
    fresh = make_provider("23telecom", simulator.root, slug="fresh-keys")
    age(old, 91)
    age(fresh, 89)

    tasks.check_credential_age.apply().get()
    tasks.check_credential_age.apply().get()  # daily runs refresh the same alert
    [alert] = Alert.objects.filter(kind=Alert.Kind.CREDENTIAL_AGE)
    assert (alert.provider, alert.severity, alert.state) == (old, "warning", "open")
    assert "…0A0A" in alert.title and "91 days" in alert.title
    assert alert.details["max_age_days"] == 90 and alert.details["hint"] == "0A0A"
    assert "an_old_active_key_0A0A" not in str(alert.details) + alert.title

    # Rotating the key resolves it at once.
    pending = credentials.add_pending(old, "a_brand_new_key_0B0B")
    verify_key(pending)
    with django_capture_on_commit_callbacks(execute=True):
        credentials.activate(pending)
    alert.refresh_from_db()
    assert alert.state == "resolved"
    tasks.check_credential_age.apply().get()
    assert not Alert.objects.filter(kind=Alert.Kind.CREDENTIAL_AGE).exclude(state="resolved").exists()


def test_the_daily_check_clears_the_alert_once_the_key_is_within_the_policy(simulator, make_provider, settings):
    provider = make_provider("8x8", simulator.root)
    age(provider, 40)
    settings.SENDWATCH_CREDENTIAL_MAX_AGE_DAYS = 30  # SENDWATCH_CREDENTIAL_MAX_AGE_DAYS in the environment
    assert key_age.check_ages()["raised"] == [provider.slug]
    settings.SENDWATCH_CREDENTIAL_MAX_AGE_DAYS = 60
    assert key_age.check_ages()["cleared"] == [provider.slug]
    assert Alert.objects.get(kind=Alert.Kind.CREDENTIAL_AGE).state == "resolved"


def test_old_keys_are_flagged_on_the_credential_pages(simulator, make_provider, key_admin):
    provider = make_provider("textingblue", simulator.root)
    age(provider, 120)
    page = key_admin.get(Urls(provider).list).content.decode()
    assert "120 days ago" in page and "older than 90 days: rotate it" in page
    index = key_admin.get("/credentials/").content.decode()
    assert "rotate it" in index


def test_the_default_policy_is_ninety_days(settings):
    assert settings.SENDWATCH_CREDENTIAL_MAX_AGE_DAYS == 90


@pytest.mark.parametrize(("kind", "code"), [("23telecom", "API_KEY_EXPIRED"), ("telnxo", "api_key_expired")])
def test_a_key_the_vendor_reports_expired_fails_the_credential_at_once(kind, code, simulator, make_provider, send_now):
    provider = make_provider(kind, simulator.root, key="a_key_that_expired_0C0C")
    simulator.configure(kind, provider.slug, expired_keys=["a_key_that_expired_0C0C"])
    send = send_now(provider)
    assert send.status == SendStatus.FAILED and send.error_code == code
    [alert] = Alert.objects.filter(kind=Alert.Kind.CREDENTIAL_FAILED)
    assert (alert.provider, alert.severity, alert.state) == (provider, "critical", "open")
    assert code in alert.title
    provider.refresh_from_db()
    assert provider.status == ProviderStatus.CREDENTIAL_FAILED


def test_a_failed_verification_of_a_new_key_opens_no_alert(simulator, make_provider, key_admin):
    provider = make_provider("telnxo", simulator.root, key="the_working_key_0D0D")
    simulator.configure("telnxo", provider.slug, valid_keys=["the_working_key_0D0D"])
    urls = Urls(provider)
    key_admin.post(urls.add, {"key": "a_mistyped_new_key_0E0E"})
    pending = Credential.objects.get(provider=provider, state="pending")
    key_admin.post(urls.verify(pending))
    assert Credential.objects.get(pk=pending.pk).verify_ok is False
    assert not Alert.objects.exists()
    assert provider.error_events.get().source == "verify"
