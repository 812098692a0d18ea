"""Encryption of vendor credentials at rest.

The key ring comes from settings.SENDWATCH_CREDENTIAL_KEYS: ``key_id:fernet_key``
items, newest first. New ciphertexts are made with the newest key; the key id
is stored beside each ciphertext so an operator can tell which rows still need
a key before dropping it. Decryption fails closed: it raises VaultError and
never hands back ciphertext or an empty value.

Two guards keep a wrong ring from doing damage (docs/security.md, "Master key ring checks"):
``ring_problems`` is what the system checks in messaging/vault/checks.py report for a
malformed ring, and ``unreadable_ciphertexts`` finds stored rows the ring cannot open.
``seal`` with the configured ring refuses to make a new ciphertext while any stored
one is unreadable, so a replaced or forgotten master key is noticed before new secrets
are sealed under a ring that cannot open the old ones.
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


class StoredSecretsUnreadable(VaultError):
    """The key ring cannot open some stored ciphertexts, so no new one is sealed. ``found``: {key_id: {label: [pk]}}."""

    def __init__(self, message: str, found: dict[str, dict[str, list[int]]]) -> None:
        super().__init__(message)
        self.found = found


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


# Key ids are stored beside each ciphertext (Credential.key_id, WebhookEndpoint.secret_key_id: 40 characters).
MAX_KEY_ID_LENGTH = 40


@dataclass(frozen=True)
class RingProblem:
    """One thing wrong with SENDWATCH_CREDENTIAL_KEYS. ``message`` names positions and ids, never key material."""

    kind: str  # "malformed", "not_fernet" or "duplicate"
    message: str


def ring_problems(items: list[str]) -> list[RingProblem]:
    """Everything wrong with a key ring setting (``id:fernet_key`` items, newest first); [] when it is usable."""
    problems: list[RingProblem] = []
    seen: set[str] = set()
    for position, item in enumerate(items, start=1):
        key_id, sep, key = item.partition(":")
        key_id, key = key_id.strip(), key.strip()
        if not sep or not key_id or not key:
            problems.append(
                RingProblem("malformed", f"SENDWATCH_CREDENTIAL_KEYS item {position} is not 'key_id:fernet_key'")
            )
            continue
        if len(key_id) > MAX_KEY_ID_LENGTH or any(character.isspace() for character in key_id):
            problems.append(
                RingProblem(
                    "malformed",
                    f"SENDWATCH_CREDENTIAL_KEYS item {position}: a key id has 1 to {MAX_KEY_ID_LENGTH} characters "
                    "and no spaces",
                )
            )
            continue
        if key_id in seen:
            problems.append(RingProblem("duplicate", f"SENDWATCH_CREDENTIAL_KEYS names key id {key_id!r} twice"))
        seen.add(key_id)
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            problems.append(
                RingProblem("not_fernet", f"SENDWATCH_CREDENTIAL_KEYS item {key_id!r} is not a valid Fernet key")
            )
    if not items:
        problems.append(RingProblem("malformed", "SENDWATCH_CREDENTIAL_KEYS is empty"))
    return problems


def parse_key_ring(items: list[str]) -> KeyRing:
    problems = ring_problems(items)
    if problems:
        raise VaultError(problems[0].message)
    ids, fernets = [], []
    for item in items:
        key_id, _, key = item.partition(":")
        ids.append(key_id.strip())
        fernets.append(Fernet(key.strip().encode()))
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
    """Encrypt ``credential`` under the ring's newest key.

    With the configured ring (no ``ring`` given) it first makes sure that ring opens
    every stored ciphertext (``assert_ring_opens_stored``): a new secret is never
    sealed under a ring that has lost the keys of the old ones.
    """
    if ring is None:
        ring = key_ring()
        assert_ring_opens_stored(ring)
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


# -- stored ciphertexts the ring cannot open --------------------------------------------

# (label, model name, ciphertext column, key id column) of every column sealed with the ring.
STORED_CIPHERTEXTS: tuple[tuple[str, str, str, str], ...] = (
    ("credential(s)", "Credential", "ciphertext", "key_id"),
    ("webhook secret(s)", "WebhookEndpoint", "secret_ciphertext", "secret_key_id"),
)


@sensitive_variables()
def unreadable_ciphertexts(ring: KeyRing | None = None, using: str = "default") -> dict[str, dict[str, list[int]]]:
    """Stored ciphertexts ``ring`` cannot open: ``{key_id: {label: [row ids]}}``; {} when it opens them all.

    A row is unreadable when its key id is not in the ring, or when the key under that
    id does not verify the token's signature (a key replaced under the same id, e.g. a
    regenerated local key file). Only the signature is checked: nothing is decrypted.
    """
    from django.apps import apps

    ring = ring or key_ring()
    found: dict[str, dict[str, list[int]]] = {}
    for label, model_name, ciphertext_column, key_id_column in STORED_CIPHERTEXTS:
        model = apps.get_model("messaging", model_name)
        rows = model.objects.using(using).order_by("pk").values_list("pk", key_id_column, ciphertext_column)
        for pk, key_id, token in rows.iterator():
            if not _opens(ring, key_id, token):
                found.setdefault(key_id, {}).setdefault(label, []).append(pk)
    return found


def _opens(ring: KeyRing, key_id: str, token: str) -> bool:
    if key_id not in ring.ids:
        return False
    try:
        ring.fernet(key_id).extract_timestamp(token.encode())
    except (InvalidToken, ValueError, TypeError):
        return False
    return True


def unreadable_key_ids(ring: KeyRing | None = None, using: str = "default") -> set[str]:
    """The master key ids of stored ciphertexts that ``ring`` (default: the configured one) cannot open."""
    return set(unreadable_ciphertexts(ring, using))


def describe_unreadable(found: dict[str, dict[str, list[int]]]) -> str:
    """``'k1' (2 credential(s), 1 webhook secret(s)), 'k0' (1 credential(s))``: ids and counts, never key material."""
    return ", ".join(
        f"{key_id!r} ({', '.join(f'{len(pks)} {label}' for label, pks in by_label.items())})"
        for key_id, by_label in sorted(found.items())
    )


def assert_ring_opens_stored(ring: KeyRing | None = None, using: str = "default") -> None:
    """Raise StoredSecretsUnreadable (a VaultError) naming the key ids of stored ciphertexts the ring cannot open."""
    found = unreadable_ciphertexts(ring, using)
    if found:
        raise StoredSecretsUnreadable(
            "Refusing to encrypt a new secret: SENDWATCH_CREDENTIAL_KEYS cannot open stored secrets sealed with "
            f"master key {describe_unreadable(found)}. Put the missing master key back in the ring (the newest "
            'stays first) and restart; see docs/security.md, "Master key ring checks".',
            found,
        )
