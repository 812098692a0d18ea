"""The Django admin cannot go around the app: superusers only, and read-only for Sendwatch's own tables."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from django.utils import timezone

from messaging.alerts.notify import create_webhook
from messaging.models import ApiToken, AuditEntry, Credential, Provider, WebhookEndpoint
from messaging.vault.roles import ADMIN, ensure_roles
from messaging.vault.tokens import ALL_PROVIDERS, create_token
from tests.conftest import store_key

PASSWORD = "a-long-test-password"


@pytest.fixture
def staff_admin(db, django_user_model, settings):
    """An Admin-group member with is_staff ticked: every messaging and auth permission, not a superuser."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    ensure_roles()
    user = django_user_model.objects.create_user("staffadmin", "staff@example.com", PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=ADMIN))
    return user


@pytest.fixture
def superuser_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def provider(db):
    return Provider.objects.create(name="Acme 8x8", slug="acme", kind="8x8", options={"account_id": "a"})


def is_admin_login(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))


# -- Admin-group staff: no admin at all -----------------------------------------------------------------


def test_an_admin_group_staff_user_gets_no_django_admin_page(client, staff_admin, provider):
    assert staff_admin.has_perm("auth.change_user") and staff_admin.is_staff  # what made it dangerous
    client.force_login(staff_admin)
    for url in (
        reverse("admin:index"),
        reverse("admin:auth_user_changelist"),
        reverse("admin:auth_user_change", args=[staff_admin.pk]),
        reverse("admin:auth_group_changelist"),
        reverse("admin:messaging_credential_changelist"),
        reverse("admin:messaging_provider_change", args=[provider.pk]),
        reverse("admin:axes_accessattempt_changelist"),
    ):
        assert is_admin_login(client.get(url)), url
    page = client.get(reverse("admin:login"))
    assert page.status_code == 200 and b"not authorized to access this page" in page.content


def test_an_admin_group_staff_user_cannot_make_anyone_a_superuser_or_change_permissions(
    client, staff_admin, admin_user, django_user_model
):
    client.force_login(staff_admin)
    other = django_user_model.objects.create_user("other", "other@example.com", PASSWORD)
    every_permission = list(Permission.objects.values_list("pk", flat=True))
    for target in (staff_admin, other):
        response = client.post(
            reverse("admin:auth_user_change", args=[target.pk]),
            {
                "username": target.username,
                "is_active": "on",
                "is_staff": "on",
                "is_superuser": "on",
                "groups": [g.pk for g in Group.objects.all()],
                "user_permissions": every_permission,
                "date_joined_0": "2026-01-01",
                "date_joined_1": "00:00:00",
            },
        )
        assert is_admin_login(response)
        target.refresh_from_db()
        assert not target.is_superuser and not target.user_permissions.exists()
    assert not other.is_staff and not other.groups.exists()

    group = Group.objects.get(name=ADMIN)
    before = set(group.permissions.values_list("pk", flat=True))
    response = client.post(
        reverse("admin:auth_group_change", args=[group.pk]), {"name": ADMIN, "permissions": every_permission}
    )
    assert is_admin_login(response)
    assert set(group.permissions.values_list("pk", flat=True)) == before

    response = client.post(
        reverse("admin:auth_user_add"),
        {"username": "sneaky", "password1": "Another-long-pass-1", "password2": "Another-long-pass-1"},
    )
    assert is_admin_login(response) and not django_user_model.objects.filter(username="sneaky").exists()
    # The superuser is untouched too.
    admin_user.refresh_from_db()
    assert admin_user.is_superuser


def test_an_inactive_superuser_gets_no_admin(client, admin_user):
    admin_user.is_active = False
    admin_user.save()
    client.force_login(admin_user)
    assert is_admin_login(client.get(reverse("admin:index")))


# -- superusers: read-only for Sendwatch's own tables --------------------------------------------------------


@pytest.mark.parametrize(
    "model_name",
    [
        "provider",
        "credential",
        "send",
        "sendattempt",
        "errorevent",
        "balancesnapshot",
        "alert",
        "alertevent",
        "auditentry",
        "apitoken",
        "webhookendpoint",
        "notification",
    ],
)
def test_nothing_of_sendwatch_can_be_added_in_the_admin_and_every_list_opens(superuser_client, model_name):
    assert superuser_client.get(reverse(f"admin:messaging_{model_name}_changelist")).status_code == 200
    assert superuser_client.get(reverse(f"admin:messaging_{model_name}_add")).status_code == 403


def test_a_superuser_cannot_delete_or_change_a_credential_in_the_admin(superuser_client, provider):
    credential = store_key(provider, "sk_live_admin_cannot_touch_0001")
    change = reverse("admin:messaging_credential_change", args=[credential.pk])
    page = superuser_client.get(change)
    assert page.status_code == 200 and b'name="_save"' not in page.content  # a view, not a form
    assert superuser_client.post(change, {"label": "renamed", "state": "revoked"}).status_code == 403
    delete = reverse("admin:messaging_credential_delete", args=[credential.pk])
    assert superuser_client.get(delete).status_code == 403
    assert superuser_client.post(delete, {"post": "yes"}).status_code == 403
    superuser_client.post(
        reverse("admin:messaging_credential_changelist"),
        {"action": "delete_selected", "_selected_action": [credential.pk], "post": "yes"},
    )
    fresh = Credential.objects.get(pk=credential.pk)
    assert (fresh.label, fresh.state, fresh.ciphertext) == ("", "active", credential.ciphertext)


def test_a_superuser_cannot_delete_a_token_and_a_rename_is_audited(superuser_client, admin_user):
    row, _ = create_token("billing-service", providers=ALL_PROVIDERS)
    delete = reverse("admin:messaging_apitoken_delete", args=[row.pk])
    assert superuser_client.get(delete).status_code == 403
    assert superuser_client.post(delete, {"post": "yes"}).status_code == 403
    superuser_client.post(
        reverse("admin:messaging_apitoken_changelist"),
        {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"},
    )
    assert ApiToken.objects.filter(pk=row.pk, revoked_at__isnull=True).exists()

    response = superuser_client.post(reverse("admin:messaging_apitoken_change", args=[row.pk]), {"name": "billing-v2"})
    assert response.status_code == 302
    assert ApiToken.objects.get(pk=row.pk).name == "billing-v2"
    entry = AuditEntry.objects.get(action="api_token.rename")
    assert entry.actor == admin_user and entry.details["old_name"] == "billing-service"
    assert entry.details["name"] == "billing-v2" and entry.details["prefix"] == row.prefix


def test_a_superuser_cannot_change_a_webhook_url_and_switching_it_off_is_audited(
    superuser_client, admin_user, provider
):
    hook, _ = create_webhook("https://hooks.example.com/sendwatch", provider)
    other = Provider.objects.create(name="Other", slug="other", kind="telnxo")
    change = reverse("admin:messaging_webhookendpoint_change", args=[hook.pk])
    response = superuser_client.post(change, {"url": "https://attacker.example.net/collect", "provider": other.pk})
    assert response.status_code == 302
    hook.refresh_from_db()
    assert hook.url == "https://hooks.example.com/sendwatch" and hook.provider == provider
    assert hook.enabled is False  # the unticked box: the one thing that changes here
    entry = AuditEntry.objects.get(action="webhook.disable")
    assert entry.actor == admin_user and entry.target_id == str(hook.pk)

    superuser_client.post(change, {"enabled": "on"})
    assert WebhookEndpoint.objects.get(pk=hook.pk).enabled
    assert AuditEntry.objects.filter(action="webhook.enable").count() == 1

    delete = reverse("admin:messaging_webhookendpoint_delete", args=[hook.pk])
    assert superuser_client.post(delete, {"post": "yes"}).status_code == 403
    assert WebhookEndpoint.objects.filter(pk=hook.pk).exists()


def test_the_audit_log_cannot_be_edited_or_deleted(superuser_client, admin_user):
    row, _ = create_token("audited", providers=ALL_PROVIDERS)
    superuser_client.post(
        reverse("admin:messaging_apitoken_changelist"), {"action": "revoke_tokens", "_selected_action": [row.pk]}
    )
    entry = AuditEntry.objects.get(action="api_token.revoke")
    assert entry.actor == admin_user
    change = reverse("admin:messaging_auditentry_change", args=[entry.pk])
    assert superuser_client.post(change, {"action": "nothing"}).status_code == 403
    assert superuser_client.post(reverse("admin:messaging_auditentry_delete", args=[entry.pk])).status_code == 403
    assert AuditEntry.objects.get(pk=entry.pk).action == "api_token.revoke"


def test_the_provider_admin_is_read_only_so_it_cannot_take_a_secret_option(superuser_client, provider):
    change = reverse("admin:messaging_provider_change", args=[provider.pk])
    assert superuser_client.get(change).status_code == 200
    response = superuser_client.post(
        change,
        {"name": provider.name, "slug": provider.slug, "kind": "8x8", "options": '{"api_key": "sk_live_plain"}'},
    )
    assert response.status_code == 403
    provider.refresh_from_db()
    assert provider.options == {"account_id": "a"}
    assert superuser_client.post(reverse("admin:messaging_provider_delete", args=[provider.pk])).status_code == 403
    assert Provider.objects.filter(pk=provider.pk).exists()


def test_superusers_see_and_clear_axes_access_attempts(superuser_client):
    attempt = AccessAttempt.objects.create(
        username="locked", ip_address="198.51.100.9", user_agent="", failures_since_start=5, attempt_time=timezone.now()
    )
    listing = superuser_client.get(reverse("admin:axes_accessattempt_changelist"))
    assert listing.status_code == 200 and b"198.51.100.9" in listing.content
    response = superuser_client.post(reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": "yes"})
    assert response.status_code == 302 and not AccessAttempt.objects.exists()
