"""Fixtures for the vault tests: one user per role, an admin client in "sudo mode", sends run inline."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from messaging.models import Credential, Send
from messaging.vault.permissions import REAUTH_SESSION_KEY
from messaging.vault.roles import ACCOUNT_MANAGER, ADMIN, SUPPORT, ensure_roles

PASSWORD = "a-long-test-password"
KINDS = ["23telecom", "telephonyio", "8x8", "telnxo", "textingblue"]
ROLE_NAMES = [ADMIN, SUPPORT, ACCOUNT_MANAGER, "no group", "anonymous"]


@pytest.fixture
def roles(db):
    # Transactional tests flush the tables the data migration filled: make sure the groups exist.
    ensure_roles()
    return {group.name: group for group in Group.objects.filter(name__in=[ADMIN, SUPPORT, ACCOUNT_MANAGER])}


@pytest.fixture
def users(roles, django_user_model, settings):
    # A fast hasher: these tests are about who may do what, not about hashing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    made = {}
    for name, username in [(ADMIN, "keyadmin"), (SUPPORT, "support1"), (ACCOUNT_MANAGER, "manager1")]:
        user = django_user_model.objects.create_user(username, f"{username}@example.com", PASSWORD)
        user.groups.add(roles[name])
        made[name] = user
    made["no group"] = django_user_model.objects.create_user("nobody", "nobody@example.com", PASSWORD)
    made["anonymous"] = None
    return made


def reauthenticate(client, at: float | None = None) -> None:
    session = client.session
    session[REAUTH_SESSION_KEY] = time.time() if at is None else at
    session.save()


@pytest.fixture
def admin_client_no_sudo(client, users):
    client.force_login(users[ADMIN])
    return client


@pytest.fixture
def key_admin(admin_client_no_sudo):
    """A logged-in Admin (group member, not a superuser) who re-entered the password just now."""
    reauthenticate(admin_client_no_sudo)
    return admin_client_no_sudo


@pytest.fixture
def send_now(eager_celery, django_capture_on_commit_callbacks):
    """Queue a send and run what the commit triggers, as a worker would."""
    from messaging.traffic.sending import queue_sends

    def run(provider, recipient="+447700900001", body="Your code is 123456"):
        with django_capture_on_commit_callbacks(execute=True):
            [send] = queue_sends(provider, [recipient], body)
        return Send.objects.get(pk=send.pk)

    return run


class Urls:
    """The credential URLs of one provider."""

    def __init__(self, provider):
        self.slug = provider.slug

    @property
    def list(self):
        return reverse("messaging:credentials", args=[self.slug])

    @property
    def add(self):
        return reverse("messaging:credential_add", args=[self.slug])

    @property
    def rollback(self):
        return reverse("messaging:credential_rollback", args=[self.slug])

    def verify(self, credential: Credential):
        return reverse("messaging:credential_verify", args=[self.slug, credential.pk])

    def activate(self, credential: Credential):
        return reverse("messaging:credential_activate", args=[self.slug, credential.pk])

    def revoke(self, credential: Credential):
        return reverse("messaging:credential_revoke", args=[self.slug, credential.pk])


def states(provider) -> dict[str, str]:
    """hint -> state of every key of the provider."""
    return dict(Credential.objects.filter(provider=provider).values_list("hint", "state"))
