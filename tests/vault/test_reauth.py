"""Sudo mode: every key action needs the password re-entered within SENDWATCH_REAUTH_SECONDS."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from messaging.models import AuditEntry, Credential
from messaging.traffic.verify import verify as verify_key
from messaging.vault.permissions import REAUTH_SESSION_KEY
from tests.vault.conftest import PASSWORD, Urls, reauthenticate, states

pytestmark = pytest.mark.django_db


def reauth_url(next_url: str) -> str:
    from django.utils.http import urlencode

    return reverse("messaging:reauth") + "?" + urlencode({"next": next_url})


@pytest.fixture
def rotation(simulator, make_provider):
    """A provider mid-rotation: an active key, a verified pending key, and a retired key in grace."""
    from datetime import timedelta

    from django.utils import timezone

    from messaging.vault import keys as credentials

    provider = make_provider("telnxo", simulator.root, key="the_retired_key_0001")
    first = credentials.add_pending(provider, "the_active_key_0002")
    verify_key(first)
    credentials.activate(first, timedelta(hours=1))
    pending = credentials.add_pending(provider, "the_pending_key_0003")
    verify_key(pending)
    Credential.objects.filter(pk=pending.pk).update(verify_ok=True, verified_at=timezone.now())
    AuditEntry.objects.all().delete()
    return provider


def test_every_key_action_without_a_fresh_password_goes_to_the_prompt_and_changes_nothing(
    rotation, admin_client_no_sudo
):
    client = admin_client_no_sudo
    urls = Urls(rotation)
    pending = Credential.objects.get(provider=rotation, state="pending")
    active = Credential.objects.get(provider=rotation, state="active")
    before = states(rotation), Credential.objects.get(pk=pending.pk).verified_at
    referer = {"HTTP_REFERER": "http://testserver" + urls.list}
    attempts = [
        (urls.add, {"key": "yet_another_key_0004"}),
        (urls.verify(pending), {}),
        (urls.activate(pending), {"grace": "3600"}),
        (urls.rollback, {}),
        (urls.revoke(active), {"confirmation": active.hint}),
    ]
    for url, data in attempts:
        response = client.post(url, data, **referer)
        assert response.status_code == 302, url
        assert response["Location"] == reauth_url("http://testserver" + urls.list), url
    assert (states(rotation), Credential.objects.get(pk=pending.pk).verified_at) == before
    assert not AuditEntry.objects.filter(action__startswith="credential.").exists()
    # Pages that lead to a key action ask first too.
    for url in (urls.add, urls.revoke(active)):
        response = client.get(url)
        assert (response.status_code, response["Location"]) == (302, reauth_url(url))
    # The list itself is readable without re-entering the password.
    assert client.get(urls.list).status_code == 200


def test_an_htmx_action_without_a_fresh_password_redirects_the_browser(rotation, admin_client_no_sudo):
    urls = Urls(rotation)
    pending = Credential.objects.get(provider=rotation, state="pending")
    response = admin_client_no_sudo.post(
        urls.verify(pending), HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL="http://testserver" + urls.list
    )
    assert response.status_code == 200 and response["HX-Redirect"] == reauth_url(urls.list)
    assert not AuditEntry.objects.filter(action="credential.verify").exists()


def test_the_password_prompt_opens_sudo_mode_for_a_few_minutes(rotation, admin_client_no_sudo, settings):
    client = admin_client_no_sudo
    urls = Urls(rotation)
    prompt = client.get(reauth_url(urls.add))
    assert prompt.status_code == 200 and b'type="password"' in prompt.content

    wrong = client.post(reverse("messaging:reauth"), {"password": "not-my-password", "next": urls.add})
    assert wrong.status_code == 400 and b"not your password" in wrong.content
    assert REAUTH_SESSION_KEY not in client.session
    assert AuditEntry.objects.filter(action="auth.reauthenticate_failed").count() == 1

    right = client.post(reverse("messaging:reauth"), {"password": PASSWORD, "next": urls.add})
    assert (right.status_code, right["Location"]) == (302, urls.add)
    entry = AuditEntry.objects.get(action="auth.reauthenticate")
    assert entry.details == {"valid_seconds": settings.SENDWATCH_REAUTH_SECONDS, "via": "web"}
    assert PASSWORD not in str(entry.details)

    assert client.get(urls.add).status_code == 200
    assert client.post(urls.rollback).status_code == 302
    assert states(rotation)["0001"] == "active"

    # Five minutes later the prompt comes back.
    reauthenticate(client, at=time.time() - settings.SENDWATCH_REAUTH_SECONDS - 1)
    response = client.get(urls.add)
    assert (response.status_code, response["Location"]) == (302, reauth_url(urls.add))


def test_sudo_mode_does_not_survive_a_new_login(rotation, client, users):
    client.force_login(users["Admin"])
    reauthenticate(client)
    client.post(reverse("logout"))
    client.force_login(users["Admin"])
    assert REAUTH_SESSION_KEY not in client.session
    assert client.get(Urls(rotation).add).status_code == 302


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"])
def test_the_prompt_never_redirects_off_site(admin_client_no_sudo, target):
    response = admin_client_no_sudo.post(reverse("messaging:reauth"), {"password": PASSWORD, "next": target})
    assert response.status_code == 302 and response["Location"] == reverse("messaging:credential_index")


def test_the_prompt_is_for_logged_in_users_only(client):
    response = client.get(reverse("messaging:reauth"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
