"""Encryption of vendor credentials at rest.

The key ring comes from settings.SENDWATCH_CREDENTIAL_KEYS: ``key_id:fernet_key``
items, newest first. New ciphertexts are made with the newest key; the key id
is stored beside each ciphertext so an operator can tell which rows still need
a key before dropping it. Decryption fails closed: it raises VaultError and
never hands back ciphertext or an empty value.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from providers import ApiCredential


class VaultError(Exception):
    """A credential could not be encrypted or decrypted. The message never holds key material."""


@dataclass(frozen=True)
class KeyRing:
    ids: tuple[str, ...]
    fernets: tuple[Fernet, ...]

    @property
    def newest_id(self) -> str:
        return self.ids[0]

    def fernet(self, key_id: str) -> Fernet:
        try:
            return self.fernets[self.ids.index(key_id)]
        except ValueError:
            raise VaultError(f"master key {key_id!r} is not in SENDWATCH_CREDENTIAL_KEYS") from None


def parse_key_ring(items: list[str]) -> KeyRing:
    ids, fernets = [], []
    for position, item in enumerate(items):
        key_id, sep, key = item.partition(":")
        if not sep or not key_id or not key:
            raise VaultError(f"SENDWATCH_CREDENTIAL_KEYS item {position} is not 'key_id:fernet_key'")
        if key_id in ids:
            raise VaultError(f"SENDWATCH_CREDENTIAL_KEYS names key id {key_id!r} twice")
        try:
            fernets.append(Fernet(key.encode()))
        except (ValueError, TypeError):
            raise VaultError(f"SENDWATCH_CREDENTIAL_KEYS item {key_id!r} is not a valid Fernet key") from None
        ids.append(key_id)
    if not ids:
        raise VaultError("SENDWATCH_CREDENTIAL_KEYS is empty")
    return KeyRing(tuple(ids), tuple(fernets))


def key_ring() -> KeyRing:
    return parse_key_ring(list(settings.SENDWATCH_CREDENTIAL_KEYS))


@dataclass(frozen=True)
class SealedSecret:
    key_id: str
    ciphertext: str
    fingerprint: str
    hint: str


def fingerprint(key: str) -> str:
    """A stable, non-reversible id for a key, keyed so it cannot confirm a guessed key offline."""
    digest = hmac.new(settings.SECRET_KEY.encode(), key.encode(), hashlib.sha256).hexdigest()
    return digest[:16]


@sensitive_variables()
def seal(credential: ApiCredential, ring: KeyRing | None = None) -> SealedSecret:
    ring = ring or key_ring()
    payload = json.dumps({"key": credential.key, "secret": credential.secret}).encode()
    token = ring.fernet(ring.newest_id).encrypt(payload).decode()
    return SealedSecret(
        key_id=ring.newest_id,
        ciphertext=token,
        fingerprint=fingerprint(credential.key),
        hint=credential.key[-4:] if len(credential.key) >= 8 else "",
    )


@sensitive_variables()
def unseal(key_id: str, ciphertext: str, ring: KeyRing | None = None) -> ApiCredential:
    ring = ring or key_ring()
    try:
        payload = json.loads(ring.fernet(key_id).decrypt(ciphertext.encode()))
        return ApiCredential(key=payload["key"], secret=payload.get("secret"))
    except (InvalidToken, ValueError, KeyError, TypeError):
        raise VaultError(f"credential ciphertext does not decrypt with master key {key_id!r}") from None


@sensitive_variables()
def reseal(key_id: str, ciphertext: str, ring: KeyRing | None = None) -> tuple[str, str]:
    """Re-encrypt one token under the ring's newest key: ``(newest_id, new_ciphertext)``.

    Works on the token's bytes, whatever they hold (a credential or a webhook
    secret), so the plaintext never leaves this function. Fails closed.
    """
    ring = ring or key_ring()
    if key_id == ring.newest_id:
        return key_id, ciphertext
    try:
        plaintext = ring.fernet(key_id).decrypt(ciphertext.encode())
    except (InvalidToken, ValueError, TypeError):
        raise VaultError(f"ciphertext does not decrypt with master key {key_id!r}") from None
    return ring.newest_id, ring.fernet(ring.newest_id).encrypt(plaintext).decode()
