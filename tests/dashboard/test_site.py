from __future__ import annotations

import pytest
from django.urls import reverse

from messaging.models import (
    Alert,
    AlertEvent,
    AuditEntry,
    BalanceSnapshot,
    Credential,
    ErrorEvent,
    Notification,
    Provider,
    Send,
    SendAttempt,
    WebhookEndpoint,
)

pytestmark = pytest.mark.django_db


def test_health_answers_with_the_database_vendor(client, settings):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": settings.DATABASE_VENDOR}


@pytest.mark.parametrize(
    "model",
    [
        Provider,
        Credential,
        Send,
        SendAttempt,
        ErrorEvent,
        BalanceSnapshot,
        Alert,
        AuditEntry,
        AlertEvent,
        WebhookEndpoint,
        Notification,
    ],
)
def test_every_table_has_a_working_admin_list(client, admin_user, model):
    client.force_login(admin_user)
    url = reverse(f"admin:messaging_{model._meta.model_name}_changelist")
    assert client.get(url).status_code == 200


def test_the_credential_admin_never_offers_the_ciphertext(client, admin_user):
    provider = Provider.objects.create(name="A", slug="a", kind="23telecom")
    credential = Credential.objects.create(
        provider=provider, ciphertext="gAAAA-secret-token", key_id="k1", fingerprint="f", hint="abcd"
    )
    client.force_login(admin_user)
    page = client.get(reverse("admin:messaging_credential_change", args=[credential.pk]))
    assert page.status_code == 200
    assert b"gAAAA-secret-token" not in page.content
    assert client.get(reverse("admin:messaging_credential_add")).status_code == 403


def test_pages_carry_the_content_security_policy_without_unsafe_inline(client, admin_user):
    client.force_login(admin_user)
    policy = client.get("/")["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
