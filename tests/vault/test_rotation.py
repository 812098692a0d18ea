"""The rotation workflow through the pages, for every vendor, against the simulator over real HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from messaging import tasks
from messaging.models import AuditEntry, Credential, ErrorEvent, SendStatus
from messaging.vault import keys as credentials
from messaging.vault.keys import CredentialError, RotationInProgress
from tests.vault.conftest import KINDS, Urls, states

pytestmark = pytest.mark.django_db

# What each vendor answers to a key it does not know (the simulator's invalid-key answer).
INVALID_KEY_CODES = {
    "23telecom": "INVALID_API_KEY",
    "telephonyio": "unauthorized",
    "8x8": "1200",
    "telnxo": "invalid_api_key",
    "textingblue": "unauthorized",
}


def keys_for(kind: str) -> tuple[str, str]:
    return f"old_{kind}_live_key_A1b2", f"new_{kind}_live_key_C3d4"


@pytest.mark.parametrize("kind", KINDS)
def test_add_verify_activate_rollback_and_revoke(kind, simulator, make_provider, key_admin, send_now):
    old, new = keys_for(kind)
    provider = make_provider(kind, simulator.root, key=old)
    urls = Urls(provider)
    simulator.configure(kind, provider.slug, valid_keys=[old, new])

    # Add: stored as pending, sealed; the page shows only the hint.
    response = key_admin.post(urls.add, {"key": new, "secret": "", "label": "rotation Q3"})
    assert response.status_code == 302 and response["Location"] == urls.list
    pending = Credential.objects.get(provider=provider, state="pending")
    assert (pending.hint, pending.label) == (new[-4:], "rotation Q3")
    assert new not in pending.ciphertext

    # Verify with htmx: the row is swapped in place with the vendor's answer.
    response = key_admin.post(urls.verify(pending), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert b"<html" not in response.content and f'id="credential-{pending.pk}"'.encode() in response.content
    assert b"Key accepted" in response.content
    pending.refresh_from_db()
    assert pending.verify_ok is True and pending.verified_at is not None

    # Activate with a 1 h grace: new active, old retired with its grace period.
    before = timezone.now()
    response = key_admin.post(urls.activate(pending), {"grace": "3600"})
    assert response.status_code == 302
    assert states(provider) == {new[-4:]: "active", old[-4:]: "retired"}
    retired = Credential.objects.get(provider=provider, state="retired")
    assert before + timedelta(minutes=59) < retired.grace_until <= timezone.now() + timedelta(hours=1)

    # Sending now uses the new key: the vendor accepts only it.
    simulator.configure(kind, provider.slug, valid_keys=[new])
    assert send_now(provider).status == SendStatus.ACCEPTED
    assert Credential.objects.get(provider=provider, state="active").last_used_at is not None

    # Roll back asks first, naming the key that comes back and the one revoked; nothing changes yet.
    confirm = key_admin.get(urls.rollback)
    assert confirm.status_code == 200
    page = confirm.content.decode()
    assert f"…{old[-4:]}" in page and f"…{new[-4:]}" in page and "revoked at once" in page
    assert states(provider) == {new[-4:]: "active", old[-4:]: "retired"}
    # Confirmed: the old key is active again, the new one revoked.
    response = key_admin.post(urls.rollback)
    assert response.status_code == 302
    assert states(provider) == {old[-4:]: "active", new[-4:]: "revoked"}
    simulator.configure(kind, provider.slug, valid_keys=[old])
    assert send_now(provider).status == SendStatus.ACCEPTED

    # Revoke needs the confirmation; then the provider has no key and sends fail without a call.
    active = Credential.objects.get(provider=provider, state="active")
    assert key_admin.get(urls.revoke(active)).status_code == 200
    response = key_admin.post(urls.revoke(active), {"confirmation": "nope"})
    assert response.status_code == 400
    assert Credential.objects.get(pk=active.pk).state == "active"
    response = key_admin.post(urls.revoke(active), {"confirmation": active.hint})
    assert response.status_code == 302
    assert states(provider) == {old[-4:]: "revoked", new[-4:]: "revoked"}
    failed = send_now(provider)
    assert failed.status == SendStatus.FAILED and "no active API key" in failed.status_reason

    actions = list(AuditEntry.objects.order_by("at", "pk").values_list("action", flat=True))
    assert [a for a in actions if a.startswith("credential.")] == [
        "credential.add",
        "credential.verify",
        "credential.activate",
        "credential.rollback",
        "credential.emergency_revoke",
    ]


@pytest.mark.parametrize("kind", KINDS)
def test_a_key_the_vendor_refuses_fails_verification_and_cannot_be_activated(kind, simulator, make_provider, key_admin):
    old, new = keys_for(kind)
    provider = make_provider(kind, simulator.root, key=old)
    simulator.configure(kind, provider.slug, valid_keys=[old])
    urls = Urls(provider)
    key_admin.post(urls.add, {"key": new})
    pending = Credential.objects.get(provider=provider, state="pending")

    # Without JavaScript: a POST, then the list page with the result.
    response = key_admin.post(urls.verify(pending), follow=True)
    assert response.status_code == 200
    assert INVALID_KEY_CODES[kind] in response.content.decode()
    pending.refresh_from_db()
    assert pending.verify_ok is False and pending.verify_message.startswith(INVALID_KEY_CODES[kind])
    audit = AuditEntry.objects.get(action="credential.verify")
    assert audit.details["ok"] is False and audit.details["code"] == INVALID_KEY_CODES[kind]

    response = key_admin.post(urls.activate(pending), {"grace": "3600"}, follow=True)
    assert "Verify the key first" in response.content.decode()
    assert states(provider) == {old[-4:]: "active", new[-4:]: "pending"}


@pytest.mark.parametrize("kind", KINDS)
def test_during_grace_a_refused_active_key_falls_back_to_the_retired_key_and_not_after(
    kind, simulator, make_provider, key_admin, send_now
):
    old, new = keys_for(kind)
    provider = make_provider(kind, simulator.root, key=old)
    urls = Urls(provider)
    simulator.configure(kind, provider.slug, valid_keys=[old, new])
    key_admin.post(urls.add, {"key": new})
    pending = Credential.objects.get(provider=provider, state="pending")
    key_admin.post(urls.verify(pending))
    key_admin.post(urls.activate(pending), {"grace": str(24 * 3600)})
    retired = Credential.objects.get(provider=provider, state="retired")

    # The vendor now refuses the new key (say it was created without send rights): the old key carries on.
    simulator.configure(kind, provider.slug, valid_keys=[old])
    send = send_now(provider)
    assert send.status == SendStatus.ACCEPTED, send.status_reason
    retired.refresh_from_db()
    assert retired.last_used_at is not None
    # The refusal of the active key stays visible to support.
    refused = ErrorEvent.objects.get(send=send)
    assert (refused.error_code, refused.category) == (INVALID_KEY_CODES[kind], "auth")
    assert len(simulator.messages(kind, provider.slug)) == 1

    # After the grace period the retired key is never used, even before the beat task revokes it.
    Credential.objects.filter(pk=retired.pk).update(grace_until=timezone.now() - timedelta(seconds=1))
    send = send_now(provider)
    assert send.status == SendStatus.FAILED
    assert send.error_code == INVALID_KEY_CODES[kind]
    assert len(simulator.messages(kind, provider.slug)) == 1


def test_the_fallback_is_not_used_for_errors_other_than_a_refused_key(simulator, make_provider, key_admin, send_now):
    old, new = keys_for("textingblue")
    provider = make_provider("textingblue", simulator.root, key=old)
    urls = Urls(provider)
    key_admin.post(urls.add, {"key": new})
    pending = Credential.objects.get(provider=provider, state="pending")
    key_admin.post(urls.verify(pending))
    key_admin.post(urls.activate(pending), {"grace": "3600"})
    simulator.fail_next("textingblue", provider.slug, "plan_limit_exceeded")
    send = send_now(provider)
    assert send.status == SendStatus.FAILED and send.error_code == "plan_limit_exceeded"
    assert Credential.objects.get(provider=provider, state="retired").last_used_at is None


def test_the_beat_task_revokes_retired_keys_once_their_grace_ends(simulator, make_provider, key_admin):
    old, new = keys_for("23telecom")
    provider = make_provider("23telecom", simulator.root, key=old)
    urls = Urls(provider)
    key_admin.post(urls.add, {"key": new})
    pending = Credential.objects.get(provider=provider, state="pending")
    key_admin.post(urls.verify(pending))
    key_admin.post(urls.activate(pending), {"grace": "3600"})
    retired = Credential.objects.get(provider=provider, state="retired")

    assert tasks.revoke_expired_credentials.apply().get() == 0
    assert Credential.objects.get(pk=retired.pk).state == "retired"

    Credential.objects.filter(pk=retired.pk).update(grace_until=timezone.now() - timedelta(minutes=1))
    assert tasks.revoke_expired_credentials.apply().get() == 1
    retired.refresh_from_db()
    assert retired.state == "revoked" and retired.revoked_at is not None
    entry = AuditEntry.objects.get(action="credential.auto_revoke")
    assert entry.actor is None and entry.actor_name == "system" and entry.ip is None
    assert entry.details["reason"] == "grace period ended" and entry.details["hint"] == old[-4:]
    # Nothing left to do on the next run, and the rollback window is gone.
    assert tasks.revoke_expired_credentials.apply().get() == 0
    response = key_admin.post(urls.rollback, follow=True)
    assert "no previous key within its grace period" in response.content.decode()


def test_the_beat_schedule_runs_the_revocation_and_the_age_check(settings):
    schedule = {entry["task"]: entry for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["messaging.tasks.revoke_expired_credentials"]["schedule"] <= 15 * 60
    assert schedule["messaging.tasks.check_credential_age"]["schedule"] == 24 * 3600


def test_one_rotation_at_a_time(simulator, make_provider, key_admin):
    provider = make_provider("telnxo", simulator.root)
    urls = Urls(provider)
    assert key_admin.post(urls.add, {"key": "first_pending_key_1111"}).status_code == 302
    response = key_admin.post(urls.add, {"key": "second_pending_key_2222"})
    assert response.status_code == 400
    assert "A rotation is already in progress" in response.content.decode()
    assert "…1111" in response.content.decode()
    assert Credential.objects.filter(provider=provider, state="pending").count() == 1
    # The list page says so and offers no add button; the database constraint is the backstop.
    page = key_admin.get(urls.list).content.decode()
    assert "A rotation is in progress" in page and urls.add not in page
    pending = Credential.objects.get(provider=provider, state="pending")
    with pytest.raises(IntegrityError), transaction.atomic():
        Credential.objects.create(
            provider=provider, ciphertext="x", key_id="k", fingerprint="f", hint="h", state="pending"
        )
    # Discarding the pending key ends the rotation.
    key_admin.post(urls.revoke(pending), {"confirmation": pending.hint})
    assert key_admin.post(urls.add, {"key": "second_pending_key_2222"}).status_code == 302


def test_a_key_already_stored_or_revoked_cannot_be_added_again(simulator, make_provider, key_admin):
    provider = make_provider("8x8", simulator.root, key="the_current_key_9999")
    urls = Urls(provider)
    response = key_admin.post(urls.add, {"key": "the_current_key_9999"})
    assert response.status_code == 400 and "already stored" in response.content.decode()

    discarded = credentials.add_pending(provider, "a_discarded_key_0001")
    credentials.revoke(discarded, confirmation="0001")
    with pytest.raises(CredentialError, match="A revoked key cannot come back"):
        credentials.add_pending(provider, "a_discarded_key_0001")


def test_the_service_refuses_a_second_pending_key(simulator, make_provider):
    provider = make_provider("8x8", simulator.root)
    credentials.add_pending(provider, "pending_one_key_0001")
    with pytest.raises(RotationInProgress, match="…0001"):
        credentials.add_pending(provider, "pending_two_key_0002")


@pytest.mark.parametrize("bad", ["short", "has spaces in it 1234", "x" * 600])
def test_malformed_keys_are_refused_and_not_echoed(simulator, make_provider, key_admin, bad):
    provider = make_provider("telnxo", simulator.root)
    response = key_admin.post(Urls(provider).add, {"key": bad})
    assert response.status_code == 400
    assert bad not in response.content.decode()
    assert not Credential.objects.filter(provider=provider, state="pending").exists()


def test_activating_again_revokes_a_key_retired_by_an_earlier_rotation(simulator, make_provider, key_admin):
    provider = make_provider("telephonyio", simulator.root, key="generation_one_key_0001")
    urls = Urls(provider)
    for key in ("generation_two_key_0002", "generation_three_key_0003"):
        key_admin.post(urls.add, {"key": key})
        pending = Credential.objects.get(provider=provider, state="pending")
        key_admin.post(urls.verify(pending))
        key_admin.post(urls.activate(pending), {"grace": "86400"})
    assert states(provider) == {"0001": "revoked", "0002": "retired", "0003": "active"}
    superseded = AuditEntry.objects.get(action="credential.auto_revoke")
    assert superseded.details["reason"] == "superseded by a newer rotation" and superseded.actor is not None


def test_an_unknown_grace_choice_is_refused(simulator, make_provider, key_admin):
    provider = make_provider("telephonyio", simulator.root)
    urls = Urls(provider)
    key_admin.post(urls.add, {"key": "a_new_verified_key_4242"})
    pending = Credential.objects.get(provider=provider, state="pending")
    key_admin.post(urls.verify(pending))
    response = key_admin.post(urls.activate(pending), {"grace": str(30 * 86400)}, follow=True)
    assert "Choose one of the offered grace periods" in response.content.decode()
    assert Credential.objects.get(pk=pending.pk).state == "pending"


def test_emergency_revoke_of_the_active_key_needs_the_typed_hint(simulator, make_provider, key_admin):
    provider = make_provider("23telecom", simulator.root, key="compromised_key_7e57")
    urls = Urls(provider)
    active = Credential.objects.get(provider=provider, state="active")
    page = key_admin.get(urls.revoke(active)).content.decode()
    assert "Emergency revoke" in page and "…7e57" in page
    for wrong in ("", "7E57", "e57", "compromised_key_7e57"):
        response = key_admin.post(urls.revoke(active), {"confirmation": wrong})
        assert response.status_code == 400
        assert Credential.objects.get(pk=active.pk).state == "active"
    assert not AuditEntry.objects.filter(action__contains="revoke").exists()
    key_admin.post(urls.revoke(active), {"confirmation": "7e57"})
    assert Credential.objects.get(pk=active.pk).state == "revoked"
    entry = AuditEntry.objects.get(action="credential.emergency_revoke")
    assert entry.details["previous_state"] == "active"


def test_every_step_is_audited_with_actor_ip_hint_and_fingerprint_only(simulator, make_provider, key_admin, users):
    old, new = keys_for("telnxo")
    provider = make_provider("telnxo", simulator.root, key=old)
    urls = Urls(provider)
    ip = {"REMOTE_ADDR": "203.0.113.7"}
    key_admin.post(urls.add, {"key": new, "secret": "the-vendor-secret-value"}, **ip)
    pending = Credential.objects.get(provider=provider, state="pending")
    key_admin.post(urls.verify(pending), **ip)
    key_admin.post(urls.activate(pending), {"grace": "3600"}, **ip)
    key_admin.post(urls.rollback, **ip)
    active = Credential.objects.get(provider=provider, state="active")
    key_admin.post(urls.revoke(active), {"confirmation": active.hint}, **ip)

    entries = list(AuditEntry.objects.filter(action__startswith="credential."))
    assert {e.action for e in entries} == {
        "credential.add",
        "credential.verify",
        "credential.activate",
        "credential.rollback",
        "credential.emergency_revoke",
    }
    for entry in entries:
        assert entry.actor == users["Admin"] and entry.actor_name == "keyadmin"
        assert entry.ip == "203.0.113.7"
        assert entry.target_type == "messaging.credential" and entry.target_id
        assert entry.details["hint"] and len(entry.details["fingerprint"]) == 16
        text = f"{entry.details} {entry.target_repr} {entry.actor_name}"
        for secret in (old, new, "the-vendor-secret-value"):
            assert secret not in text
        assert "ciphertext" not in entry.details and "key" not in entry.details


def test_a_key_without_a_hint_is_revoked_by_typing_revoke(simulator, make_provider):
    provider = make_provider("telnxo", simulator.root)
    short = Credential.objects.create(
        provider=provider, ciphertext="x", key_id="k", fingerprint="f", hint="", state="retired"
    )
    with pytest.raises(CredentialError, match="Type REVOKE"):
        credentials.revoke(short, confirmation="")
    credentials.revoke(short, confirmation="REVOKE")
    assert Credential.objects.get(pk=short.pk).state == "revoked"
