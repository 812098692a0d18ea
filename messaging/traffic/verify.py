"""Verifying an API key: a live balance call with the key, kept on the key's row and audited.

A successful verification binds the key to the origin (scheme://host:port) of the
provider's API URL at that moment (``Credential.verified_origin``); the key is never
handed to an adapter for another origin (messaging/vault/adapters.py). Verification
is the one caller that builds an adapter for a key not yet bound to the current origin.

It lives in traffic, not the vault, because a refusal is a vendor outcome: it is recorded
by the one writer (as a "credential check" error that opens no alert: the key is not in use).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from messaging.models import Credential
from messaging.traffic import clean
from messaging.traffic.writer import record_error
from messaging.vault import audit
from messaging.vault.actor import SYSTEM, Actor
from messaging.vault.adapters import adapter_for, scrub_result
from messaging.vault.crypto import VaultError
from messaging.vault.keys import CredentialError
from providers.base import scrub

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    code: str
    message: str
    http_status: int | None = None


@sensitive_variables()
def verify(credential: Credential, *, actor: Actor = SYSTEM) -> VerifyResult:
    """Check the key with a live balance call through the adapter and keep the result on the row."""
    if credential.state == Credential.State.REVOKED:
        raise CredentialError("A revoked key cannot be verified.")
    provider = credential.provider
    # The origin the key goes to now; on success the key is bound to it (messaging/vault/adapters.py).
    origin = provider.api_origin
    previous_origin = credential.verified_origin
    try:
        adapter = adapter_for(provider, credential, for_verification=True)
    except VaultError as exc:
        result = VerifyResult(False, "vault_error", str(exc))
    else:
        secrets = (adapter.credential.key, adapter.credential.secret)
        try:
            balance = scrub_result(adapter.fetch_balance(), adapter)
        except Exception:
            log.exception("balance call of %s failed while verifying key …%s", provider.slug, credential.hint)
            result = VerifyResult(False, "sendwatch_error", "Sendwatch failed while calling the vendor; see the log.")
        else:
            if balance.error is None:
                result = VerifyResult(True, "ok", _describe_balance(balance), balance.http_status)
            else:
                error = balance.error
                # Kept for support as a "credential check" error; it opens no alert (the key is not in use).
                record_error(provider, error, source="verify")
                message = clean.text(scrub(error.message or error.description or "", secrets), 300)
                code = clean.text(scrub(error.provider_code, secrets), 100)
                result = VerifyResult(False, code, message, error.http_status)
        del adapter, secrets
    now = timezone.now()
    summary = ("Key accepted: " + result.message) if result.ok else f"{result.code}: {result.message}"
    fields = {"verified_at": now, "verify_ok": result.ok, "verify_message": clean.text(summary, 300)}
    if result.ok:
        # A refusal leaves the key bound where it was: it proves nothing about the new origin.
        fields["verified_origin"] = origin
    Credential.objects.filter(pk=credential.pk).update(**fields)
    for name, value in fields.items():
        setattr(credential, name, value)
    audit.record(
        actor,
        "credential.verify",
        credential,
        provider=provider.slug,
        hint=credential.hint,
        fingerprint=credential.fingerprint,
        ok=result.ok,
        code=result.code,
        http_status=result.http_status,
        origin=origin,
        previous_origin=previous_origin or None,
    )
    return result


def _describe_balance(balance) -> str:
    if balance.unavailable:
        return "the vendor answered, its balance is temporarily unavailable"
    if balance.amount is not None:
        return f"balance {balance.amount} {balance.currency}".strip()
    if balance.limit is not None:
        if balance.used is None:  # texting.blue reports the plan, not its usage
            return f"a plan of {balance.limit} {balance.unit}".strip() + " (usage not reported by the vendor)"
        return f"{balance.used} of {balance.limit} {balance.unit}".strip() + " used"
    return "the vendor answered"
