"""The API-key lifecycle, for admins: add -> verify -> activate -> (grace) -> revoke.

::

    add ──> PENDING ──verify (live balance call)──> PENDING (verify_ok)
                │                                        │ activate(grace)
                │ revoke                                 v
                v                  ACTIVE ──(next activation)──> RETIRED ──grace ends (beat)──> REVOKED
             REVOKED                 │  ^                          │
                                     │  └──────── rollback ────────┘ (the rolled-back key is REVOKED)
                                     └── emergency revoke ──> REVOKED (no active key until the next activation)

The key is sealed (vault.seal) before anything else touches it; after this
module returns, only the hint (last 4 characters) and the fingerprint exist
outside the ciphertext. Functions that hold plaintext are marked with
``sensitive_variables`` so error reports show no local values. Every step
writes an AuditEntry through services.audit with the hint and fingerprint only.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from messaging.models import Credential, Provider
from messaging.vault import audit, signals
from messaging.vault.actor import SYSTEM, Actor
from messaging.vault.adapters import bound_to_current_origin
from messaging.vault.crypto import seal
from providers import ApiCredential

log = logging.getLogger(__name__)

MIN_KEY_LENGTH = 8
MAX_KEY_LENGTH = 512
# Grace periods an admin may choose when activating a new key.
GRACE_CHOICES: tuple[tuple[int, str], ...] = (
    (3600, "1 hour"),
    (24 * 3600, "24 hours"),
    (72 * 3600, "72 hours"),
    (7 * 24 * 3600, "7 days"),
)
DEFAULT_GRACE_SECONDS = 24 * 3600
MAX_GRACE = timedelta(days=7)


class CredentialError(Exception):
    """A key action that cannot be done; the message is meant for the admin and never holds a key."""


class RotationInProgress(CredentialError):
    """The provider already has a pending key: one rotation at a time."""


# -- add -----------------------------------------------------------------------------


@sensitive_variables()
def add_pending(
    provider: Provider, key: str, secret: str | None = None, label: str = "", *, actor: Actor = SYSTEM
) -> Credential:
    """Seal ``key`` (and ``secret``) and store it as the provider's pending key."""
    key = (key or "").strip()
    secret = (secret or "").strip() or None
    if not MIN_KEY_LENGTH <= len(key) <= MAX_KEY_LENGTH:
        raise CredentialError(f"An API key has {MIN_KEY_LENGTH} to {MAX_KEY_LENGTH} characters.")
    if any(character.isspace() for character in key):
        raise CredentialError("The API key contains spaces or line breaks: paste the key alone.")
    if secret is not None and len(secret) > MAX_KEY_LENGTH:
        raise CredentialError(f"The secret has at most {MAX_KEY_LENGTH} characters.")
    pending = provider.credentials.filter(state=Credential.State.PENDING).first()
    if pending is not None:
        raise _rotation_in_progress(pending)
    sealed = seal(ApiCredential(key, secret))
    known = provider.credentials.filter(fingerprint=sealed.fingerprint).first()
    if known is not None:
        raise CredentialError(
            f"This key is already stored for {provider.name} (…{known.hint}, {known.get_state_display().lower()})."
            + (" A revoked key cannot come back: create a new key at the vendor." if known.state == "revoked" else "")
        )
    try:
        with transaction.atomic():
            credential = Credential.objects.create(
                provider=provider,
                label=(label or "").strip()[:100],
                ciphertext=sealed.ciphertext,
                key_id=sealed.key_id,
                fingerprint=sealed.fingerprint,
                hint=sealed.hint,
                state=Credential.State.PENDING,
                created_by=actor.user,
            )
    except IntegrityError:
        # A concurrent add won the race for the one pending slot.
        raise _rotation_in_progress(provider.credentials.filter(state=Credential.State.PENDING).first()) from None
    audit.record(
        actor,
        "credential.add",
        credential,
        provider=provider.slug,
        hint=credential.hint,
        fingerprint=credential.fingerprint,
        label=credential.label,
        with_secret=secret is not None,
    )
    log.info("credential …%s added as pending for %s", credential.hint, provider.slug)
    return credential


def _rotation_in_progress(pending: Credential | None) -> RotationInProgress:
    which = f" (…{pending.hint}, added {timezone.localtime(pending.created_at):%Y-%m-%d %H:%M})" if pending else ""
    return RotationInProgress(
        "A rotation is already in progress for this provider: it has a pending key"
        f"{which}. Activate or revoke that key before adding another."
    )


# -- activate, roll back, revoke -----------------------------------------------------


def _locked(provider_id: int) -> dict[int, Credential]:
    """Every live key of the provider, locked for the rest of the transaction."""
    rows = Credential.objects.select_for_update().filter(provider_id=provider_id).exclude(state="revoked")
    return {row.pk: row for row in rows.order_by("pk")}


@transaction.atomic
def activate(
    credential: Credential,
    grace: timedelta = timedelta(seconds=DEFAULT_GRACE_SECONDS),
    *,
    actor: Actor = SYSTEM,
) -> Credential:
    """Make a verified pending key active; the active key becomes RETIRED for ``grace``.

    A key retired by an earlier rotation whose grace has not ended is revoked now:
    there is at most one fallback key, the one just replaced.
    """
    if not timedelta(0) <= grace <= MAX_GRACE:
        raise CredentialError("The grace period is between 0 and 7 days.")
    rows = _locked(credential.provider_id)
    current = rows.get(credential.pk)
    if current is None or current.state != Credential.State.PENDING:
        raise CredentialError("Only a pending key can be activated.")
    if current.verify_ok is not True:
        raise CredentialError("Verify the key first: only a key the vendor accepted can be activated.")
    if not bound_to_current_origin(current.provider, current):
        raise CredentialError(
            f"Key …{current.hint} was not verified for {current.provider.api_origin}, where "
            f"{current.provider.name}'s API is now: verify it again first."
        )
    now = timezone.now()
    previous = next((row for row in rows.values() if row.state == Credential.State.ACTIVE), None)
    for row in rows.values():
        if row.state == Credential.State.RETIRED:
            _revoke_row(row, now)
            audit.record(
                actor,
                "credential.auto_revoke",
                row,
                provider=row.provider.slug,
                hint=row.hint,
                fingerprint=row.fingerprint,
                reason="superseded by a newer rotation",
            )
    if previous is not None:
        previous.state, previous.retired_at, previous.grace_until = Credential.State.RETIRED, now, now + grace
        previous.save(update_fields=["state", "retired_at", "grace_until"])
    current.state, current.activated_at = Credential.State.ACTIVE, now
    current.retired_at = current.grace_until = None
    current.save(update_fields=["state", "activated_at", "retired_at", "grace_until"])
    audit.record(
        actor,
        "credential.activate",
        current,
        provider=current.provider.slug,
        hint=current.hint,
        fingerprint=current.fingerprint,
        grace_seconds=int(grace.total_seconds()),
        previous_hint=previous.hint if previous else None,
        previous_fingerprint=previous.fingerprint if previous else None,
        previous_grace_until=previous.grace_until.isoformat() if previous and previous.grace_until else None,
    )
    transaction.on_commit(
        lambda: signals.key_activated.send(sender=Credential, provider=current.provider, hint=current.hint),
        robust=True,  # the rotation is done; the daily age check clears a stale alert at the latest
    )
    return current


@transaction.atomic
def rollback(provider: Provider, *, actor: Actor = SYSTEM) -> Credential:
    """Restore the key retired by the last rotation (within its grace); the current active key is revoked.

    A key one rolls back from is not trusted any more, so it is revoked rather than
    retired: going forward again means adding it anew (or a fresh key).
    """
    rows = _locked(provider.pk)
    now = timezone.now()
    in_grace = [
        row
        for row in rows.values()
        if row.state == Credential.State.RETIRED and row.grace_until is not None and row.grace_until > now
    ]
    if not in_grace:
        raise CredentialError("There is no previous key within its grace period to roll back to.")
    restored = max(in_grace, key=lambda row: (row.retired_at or now, row.pk))
    if not bound_to_current_origin(provider, restored):
        # Restoring it would leave the provider with a key that may not be sent anywhere.
        raise CredentialError(
            f"The previous key …{restored.hint} was verified for another host than {provider.api_origin}; "
            "it can't be rolled back to."
        )
    current = next((row for row in rows.values() if row.state == Credential.State.ACTIVE), None)
    if current is not None:
        _revoke_row(current, now)
    restored.state, restored.retired_at, restored.grace_until = Credential.State.ACTIVE, None, None
    restored.save(update_fields=["state", "retired_at", "grace_until"])
    audit.record(
        actor,
        "credential.rollback",
        restored,
        provider=provider.slug,
        hint=restored.hint,
        fingerprint=restored.fingerprint,
        revoked_hint=current.hint if current else None,
        revoked_fingerprint=current.fingerprint if current else None,
    )
    return restored


def confirmation_word(credential: Credential) -> str:
    """What the admin types to confirm a revocation: the hint, or REVOKE for a key too short to have one."""
    return credential.hint or "REVOKE"


def confirmation_matches(credential: Credential, confirmation: str) -> bool:
    return (confirmation or "").strip() == confirmation_word(credential)


@transaction.atomic
def revoke(credential: Credential, *, confirmation: str, actor: Actor = SYSTEM) -> Credential:
    """Revoke a key now. Revoking the active key is an emergency: the provider has no key until the next one."""
    rows = _locked(credential.provider_id)
    row = rows.get(credential.pk)
    if row is None:
        raise CredentialError("This key is already revoked.")
    if not confirmation_matches(row, confirmation):
        if row.hint:
            raise CredentialError(f"Type the key's last four characters (…{row.hint}) to confirm.")
        raise CredentialError("Type REVOKE to confirm.")
    previous_state = row.state
    _revoke_row(row, timezone.now())
    audit.record(
        actor,
        "credential.emergency_revoke" if previous_state == Credential.State.ACTIVE else "credential.revoke",
        row,
        provider=row.provider.slug,
        hint=row.hint,
        fingerprint=row.fingerprint,
        previous_state=previous_state,
    )
    if previous_state == Credential.State.ACTIVE:
        log.warning("active key …%s of %s revoked in an emergency", row.hint, row.provider.slug)
    return row


def _revoke_row(row: Credential, now) -> None:
    row.state, row.revoked_at = Credential.State.REVOKED, now
    row.save(update_fields=["state", "revoked_at"])


def revoke_expired(now=None, *, actor: Actor = SYSTEM) -> int:
    """Revoke retired keys whose grace period has ended (the beat task). Returns how many."""
    now = now or timezone.now()
    with transaction.atomic():
        rows = list(
            Credential.objects.select_for_update(skip_locked=True)
            .select_related("provider")
            .filter(state=Credential.State.RETIRED, grace_until__lte=now)
            .order_by("pk")
        )
        for row in rows:
            _revoke_row(row, now)
            audit.record(
                actor,
                "credential.auto_revoke",
                row,
                provider=row.provider.slug,
                hint=row.hint,
                fingerprint=row.fingerprint,
                reason="grace period ended",
                grace_until=row.grace_until.isoformat() if row.grace_until else None,  # never None: filtered above
            )
    if rows:
        log.info("revoked %d retired key(s) whose grace period ended", len(rows))
    return len(rows)


# -- key age ------------------------------------------------------------------------


def max_age() -> timedelta:
    return timedelta(days=int(settings.SENDWATCH_CREDENTIAL_MAX_AGE_DAYS))


def age_days(credential: Credential, now=None) -> int:
    return ((now or timezone.now()) - credential.created_at).days


def too_old(credential: Credential, now=None) -> bool:
    """Keys are aged from when they were added to Sendwatch (the vendor's own date is unknown)."""
    return credential.state in ("active", "pending") and (now or timezone.now()) - credential.created_at > max_age()
