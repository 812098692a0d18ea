"""Build a vendor adapter for a provider, with its credential decrypted only in memory.

Grace-period fallback: after a rotation the previous key is RETIRED with a
``grace_until``. If the vendor refuses the active key (an ``auth`` error), the
call is made once more with that retired key while its grace lasts; after the
grace it is never used, whether or not the beat task has revoked it yet.

Keys bound to their host: a key is handed to an adapter only for the origin
(``scheme://host:port``) it was verified against, ``Credential.verified_origin``.
After the provider's API URL moves to another origin, the active key, the retired
fallback and every other key raise KeyNotVerifiedForHost (a NoCredential and a
VaultError) until an admin verifies them there (docs/security.md, "Keys bound to
their host").
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from django.conf import settings
from django.utils import timezone

from messaging.models import Credential, Provider
from messaging.vault.crypto import VaultError, unseal
from providers import BaseAdapter, Category, NormalizedError
from providers.base import scrub

log = logging.getLogger(__name__)

# last_used_at is written at most this often per key: otherwise every send by every
# worker updates the same credential row.
TOUCH_INTERVAL = timedelta(seconds=60)


class NoCredential(Exception):
    """The provider has no usable credential."""


class KeyNotVerifiedForHost(NoCredential, VaultError):
    """The key was verified for another origin than the provider's API URL now names: it is not sent there.

    Both a NoCredential and a VaultError, so every caller that handles "no usable
    key" (polling, sending, the grace fallback) handles this too. Verifying the key
    again against the new origin (the API keys page) binds it there.
    """

    def __init__(self, provider: Provider, credential: Credential) -> None:
        self.current_origin = provider.api_origin
        self.verified_origin = credential.verified_origin
        where = f"was verified for {credential.verified_origin}" if credential.verified_origin else "was never verified"
        super().__init__(
            f"{provider.name}'s API key …{credential.hint} {where}, not for {self.current_origin} (the provider's "
            f"API URL now); it is not sent there until an admin verifies it again on the API keys page."
        )


def bound_to_current_origin(provider: Provider, credential: Credential) -> bool:
    """Whether ``credential`` was verified against the origin ``provider``'s API URL names now."""
    return bool(credential.verified_origin) and credential.verified_origin == provider.api_origin


def check_origin(provider: Provider, credential: Credential) -> None:
    """Raise KeyNotVerifiedForHost unless the key may be sent to the provider's current origin."""
    if not bound_to_current_origin(provider, credential):
        raise KeyNotVerifiedForHost(provider, credential)


def active_credential(provider: Provider) -> Credential:
    # Plain SQL: this runs for every delivery, and compiling the ORM query cost more than running it.
    # At most one row: a unique constraint allows one active key per provider.
    rows = Credential.objects.raw(
        f"SELECT * FROM {Credential._meta.db_table} WHERE provider_id = %s AND state = %s",  # noqa: S608
        [provider.pk, Credential.State.ACTIVE],
    )
    credential = next(iter(rows), None)
    if credential is None:
        raise NoCredential(f"{provider.name} has no active API key")
    check_origin(provider, credential)  # KeyNotVerifiedForHost: the API URL changed since it was verified
    return credential


def adapter_for(
    provider: Provider, credential: Credential | None = None, *, for_verification: bool = False
) -> BaseAdapter:
    """An adapter calling the provider's API URL with ``credential`` (default: the active key).

    A key is only handed over for the origin it was verified against
    (``Credential.verified_origin``); otherwise KeyNotVerifiedForHost. Verification
    itself (``for_verification=True``, messaging/traffic/verify.py, an admin's
    re-authenticated action) is what binds a key to the current origin, so it skips
    the check; it must name the key.
    """
    if for_verification:
        if credential is None:
            raise ValueError("verification names the key it verifies")
    else:
        credential = credential or active_credential(provider)
        check_origin(provider, credential)
    adapter_class = provider.adapter_class
    connect, read = settings.SENDWATCH_VENDOR_TIMEOUT
    return adapter_class(
        provider.base_url or adapter_class.default_base_url,
        unseal(credential.key_id, credential.ciphertext),
        options=provider.options,
        timeout=(float(connect), float(read)),
        # Read at call time: the adapter's session refuses every other non-public address.
        allow_private_hosts=tuple(settings.SENDWATCH_ALLOW_PRIVATE_HOSTS),
    )


def mark_used(credential_id: int) -> None:
    Credential.objects.filter(pk=credential_id).update(last_used_at=timezone.now())


def touch(credential: Credential, now: datetime | None = None) -> None:
    """mark_used at most once per TOUCH_INTERVAL, judged by the row as loaded."""
    now = now or timezone.now()
    if credential.last_used_at is None or now - credential.last_used_at >= TOUCH_INTERVAL:
        Credential.objects.filter(pk=credential.pk).update(last_used_at=now)
        credential.last_used_at = now


def grace_credential(provider: Provider, now=None) -> Credential | None:
    """The key retired by the last rotation, while its grace period lasts."""
    return (
        provider.credentials.filter(state=Credential.State.RETIRED, grace_until__gt=now or timezone.now())
        .order_by("-retired_at", "-pk")
        .first()
    )


def key_refused(error: NormalizedError | None) -> bool:
    return error is not None and error.category == Category.AUTH


class VendorResult(Protocol):
    """What a vendor call returns (SendOutcome, BalanceResult): something with an ``error``."""

    error: NormalizedError | None


def with_grace_fallback[Result: VendorResult](
    provider: Provider,
    credential: Credential,
    call: Callable[[BaseAdapter], Result],
    *,
    adapter: BaseAdapter | None = None,
    on_refused: Callable[[NormalizedError], object] | None = None,
) -> tuple[Result, Credential]:
    """``call(adapter)`` with the active key; once more with the in-grace retired key if the vendor refuses it.

    ``call`` returns a result with an ``error`` (SendOutcome, BalanceResult). An auth
    refusal cannot have been acted on by the vendor, so the second call is safe.
    Returns the result that counts and the credential that produced it.
    """
    adapter = adapter or adapter_for(provider, credential)
    result = scrub_result(call(adapter), adapter)
    error = result.error
    if error is None or not key_refused(error):
        return result, credential
    fallback = grace_credential(provider)
    # grace_credential only finds keys with a grace_until.
    if fallback is None or fallback.pk == credential.pk or fallback.grace_until is None:
        return result, credential
    try:
        fallback_adapter = adapter_for(provider, fallback)
    except KeyNotVerifiedForHost as exc:
        log.warning("no fallback for %s: %s", provider.slug, exc)
        return result, credential
    except VaultError:
        log.warning("retired key …%s of %s cannot be decrypted; no fallback", fallback.hint, provider.slug)
        return result, credential
    log.warning(
        "%s refused the active key …%s (%s); retrying once with the retired key …%s (grace until %s)",
        provider.slug,
        credential.hint,
        error.provider_code,
        fallback.hint,
        fallback.grace_until.isoformat(),
    )
    if on_refused is not None:
        on_refused(error)
    return scrub_result(call(fallback_adapter), fallback_adapter), fallback


def scrub_result[Result: VendorResult](result: Result, adapter: BaseAdapter) -> Result:
    """Defence in depth: the adapters scrub bodies and messages; this also covers ids and details."""
    secrets = (adapter.credential.key, adapter.credential.secret)
    errors = [result.error] + [r.error for r in getattr(result, "results", ())]
    for error in errors:
        if error is None:
            continue
        for name in ("provider_code", "message", "param", "request_id", "raw_body"):
            value = getattr(error, name)
            if isinstance(value, str):
                setattr(error, name, scrub(value, secrets))
        error.details = {k: scrub(v, secrets) if isinstance(v, str) else v for k, v in error.details.items()}
    for name in ("raw_body", "request_id"):
        value = getattr(result, name, None)
        if isinstance(value, str):
            setattr(result, name, scrub(value, secrets))
    return result
