"""Build a vendor adapter for a provider, with its credential decrypted only in memory."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from messaging.models import Credential, Provider
from messaging.vault import unseal
from providers import BaseAdapter, get_adapter_class


class NoCredential(Exception):
    """The provider has no usable credential."""


def active_credential(provider: Provider) -> Credential:
    credential = provider.credentials.filter(state=Credential.State.ACTIVE).first()
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
