"""Login throttling per IP address across usernames (password spraying), beside the username + IP lockout."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.urls import reverse

PASSWORD = "a-long-test-password"
SPRAYER = "203.0.113.7"


@pytest.fixture
def people(db, django_user_model, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return {
        name: django_user_model.objects.create_user(name, f"{name}@example.com", PASSWORD)
        for name in ("alice", "bob", "carol")
    }


def login(client, username, password, ip):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_the_limits(settings):
    assert settings.SENDWATCH_LOGIN_FAILURE_LIMIT == 5
    assert settings.SENDWATCH_LOGIN_IP_FAILURE_LIMIT == 20
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]


def test_forty_usernames_from_one_address_are_locked_out_at_the_per_ip_limit(client, people, settings):
    limit = settings.SENDWATCH_LOGIN_IP_FAILURE_LIMIT
    statuses = [login(client, f"guess{n:02d}", "Winter2026!", SPRAYER).status_code for n in range(40)]
    assert statuses[: limit - 1] == [200] * (limit - 1)  # the form again, "please enter a correct username…"
    assert statuses[limit - 1 :] == [429] * (40 - limit + 1)
    # A username never tried from there, with the right password, is refused too.
    refused = login(client, "alice", PASSWORD, SPRAYER)
    assert refused.status_code == 429 and b"Too many failed attempts" in refused.content
    assert "_auth_user_id" not in client.session
    # Only that address: alice logs in from elsewhere.
    assert login(client, "alice", PASSWORD, "203.0.113.8").status_code == 302


def test_below_the_per_ip_limit_other_users_of_the_address_are_not_affected(client, people, settings):
    # Some typos of several people behind one office address: nobody else is locked out.
    for n in range(settings.SENDWATCH_LOGIN_IP_FAILURE_LIMIT - 2):
        login(client, f"typo{n}", "wrong-password", SPRAYER)
    assert login(client, "carol", PASSWORD, SPRAYER).status_code == 302


def test_one_user_hammering_counts_at_most_their_own_limit_towards_the_address(client, people, settings):
    for _ in range(40):
        login(client, "bob", "wrong-password", SPRAYER)
    assert login(client, "bob", PASSWORD, SPRAYER).status_code == 429  # bob + that address: locked
    # Bob's 40 failures count as 5 towards the address, so his colleagues still get in.
    assert login(client, "alice", PASSWORD, SPRAYER).status_code == 302


def test_a_valid_login_from_the_address_does_not_reset_the_spraying_count(client, people, settings):
    limit = settings.SENDWATCH_LOGIN_IP_FAILURE_LIMIT
    for n in range(limit - 3):
        assert login(client, f"guess{n:02d}", "Winter2026!", SPRAYER).status_code == 200
    # The attacker's own (valid) account logs in and out again.
    assert login(client, "carol", PASSWORD, SPRAYER).status_code == 302
    client.logout()
    statuses = [login(client, f"more{n}", "Winter2026!", SPRAYER).status_code for n in range(3)]
    assert statuses == [200, 200, 429]
    assert login(client, "carol", PASSWORD, SPRAYER).status_code == 429


def test_the_username_and_address_lockout_still_comes_first(client, people):
    for _ in range(4):
        assert login(client, "alice", "wrong-password", SPRAYER).status_code == 200
    assert login(client, "alice", "wrong-password", SPRAYER).status_code == 429
    assert login(client, "alice", PASSWORD, SPRAYER).status_code == 429
    assert login(client, "bob", PASSWORD, SPRAYER).status_code == 302


def test_the_re_authentication_prompt_counts_towards_the_address(client, people, settings):
    for n in range(settings.SENDWATCH_LOGIN_IP_FAILURE_LIMIT - 1):
        login(client, f"guess{n:02d}", "Winter2026!", SPRAYER)
    client.force_login(people["alice"])
    url = reverse("messaging:reauth")
    assert client.post(url, {"password": "guess"}, REMOTE_ADDR=SPRAYER).status_code == 429
    assert client.post(url, {"password": PASSWORD}, REMOTE_ADDR=SPRAYER).status_code == 429
    assert not client.session.get("sendwatch_reauth_at")


def test_a_superuser_can_unlock_the_address(client, people):
    for n in range(40):
        login(client, f"guess{n:02d}", "Winter2026!", SPRAYER)
    assert login(client, "alice", PASSWORD, SPRAYER).status_code == 429
    call_command("axes_reset_ip", SPRAYER)
    assert not AccessAttempt.objects.filter(ip_address=SPRAYER).exists()
    assert login(client, "alice", PASSWORD, SPRAYER).status_code == 302


def test_zero_turns_the_per_ip_limit_off(client, people, settings):
    settings.SENDWATCH_LOGIN_IP_FAILURE_LIMIT = 0
    for n in range(40):
        assert login(client, f"guess{n:02d}", "Winter2026!", SPRAYER).status_code == 200
    assert login(client, "alice", PASSWORD, SPRAYER).status_code == 302
