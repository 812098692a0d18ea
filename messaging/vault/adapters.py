"""Build a vendor adapter for a provider, with its credential decrypted only in memory.

Grace-period fallback: after a rotation the previous key is RETIRED with a
``grace_until``. If the vendor refuses the active key (an ``auth`` error), the
call is made once more with that retired key while its grace lasts; after the
grace it is never used, whether or not the beat task has revoked it yet.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from messaging.models import Credential, Provider, Send
from messaging.vault.crypto import VaultError, unseal
from providers import BaseAdapter, Category, NormalizedError, OutgoingMessage, SendOutcome, get_adapter_class
from providers.base import scrub

log = logging.getLogger(__name__)

# last_used_at is written at most this often per key: otherwise every send by every
# worker updates the same credential row.
TOUCH_INTERVAL = timedelta(seconds=60)


class NoCredential(Exception):
    """The provider has no usable credential."""


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
    return credential


def adapter_for(provider: Provider, credential: Credential | None = None) -> BaseAdapter:
    credential = credential or active_credential(provider)
    adapter_class = get_adapter_class(provider.kind)
    connect, read = settings.SENDWATCH_VENDOR_TIMEOUT
    return adapter_class(
        provider.base_url or adapter_class.default_base_url,
        unseal(credential.key_id, credential.ciphertext),
        options=provider.options,
        timeout=(float(connect), float(read)),
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


def with_grace_fallback[Result](
    provider: Provider,
    credential: Credential,
    call: Callable[[BaseAdapter], Result],
    *,
    adapter: BaseAdapter | None = None,
    on_refused: Callable[[NormalizedError], None] | None = None,
) -> tuple[Result, Credential]:
    """``call(adapter)`` with the active key; once more with the in-grace retired key if the vendor refuses it.

    ``call`` returns a result with an ``error`` (SendOutcome, BalanceResult). An auth
    refusal cannot have been acted on by the vendor, so the second call is safe.
    Returns the result that counts and the credential that produced it.
    """
    adapter = adapter or adapter_for(provider, credential)
    result = scrub_result(call(adapter), adapter)
    if not key_refused(result.error):
        return result, credential
    fallback = grace_credential(provider)
    if fallback is None or fallback.pk == credential.pk:
        return result, credential
    try:
        fallback_adapter = adapter_for(provider, fallback)
    except VaultError:
        log.warning("retired key …%s of %s cannot be decrypted; no fallback", fallback.hint, provider.slug)
        return result, credential
    log.warning(
        "%s refused the active key …%s (%s); retrying once with the retired key …%s (grace until %s)",
        provider.slug,
        credential.hint,
        result.error.provider_code,
        fallback.hint,
        fallback.grace_until.isoformat(),
    )
    if on_refused is not None:
        on_refused(result.error)
    return scrub_result(call(fallback_adapter), fallback_adapter), fallback


def scrub_result[Result](result: Result, adapter: BaseAdapter) -> Result:
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


def send_with_grace_fallback(
    provider: Provider, credential: Credential, adapter: BaseAdapter, message: OutgoingMessage, send: Send
) -> tuple[SendOutcome, Credential]:
    """The send path's hook: the refused attempt is kept as an ErrorEvent of ``send``."""
    from messaging.traffic.writer import record_error

    return with_grace_fallback(
        provider,
        credential,
        lambda a: a.send(message),
        adapter=adapter,
        on_refused=lambda error: record_error(provider, error, source="send", send=send),
    )
