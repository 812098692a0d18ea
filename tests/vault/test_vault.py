from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from messaging.vault.crypto import VaultError, fingerprint, parse_key_ring, seal, unseal
from providers import ApiCredential


def ring(*ids: str):
    return parse_key_ring([f"{key_id}:{Fernet.generate_key().decode()}" for key_id in ids])


def test_seal_round_trips_and_names_the_newest_key():
    keys = ring("k2", "k1")
    sealed = seal(ApiCredential("sk_live_0123456789abcdef", secret="s3cr3t-value"), keys)
    assert sealed.key_id == "k2"
    assert "0123456789abcdef" not in sealed.ciphertext
    assert sealed.hint == "cdef"
    assert unseal(sealed.key_id, sealed.ciphertext, keys) == ApiCredential("sk_live_0123456789abcdef", "s3cr3t-value")


def test_an_older_key_still_decrypts_its_rows_after_a_new_key_is_added():
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed = seal(ApiCredential("tb_live_abcdefghijklmnop"), parse_key_ring([f"k1:{old_key}"]))
    rotated = parse_key_ring([f"k2:{new_key}", f"k1:{old_key}"])
    assert unseal("k1", sealed.ciphertext, rotated).key == "tb_live_abcdefghijklmnop"
    assert seal(ApiCredential("tb_live_abcdefghijklmnop"), rotated).key_id == "k2"


def test_decryption_fails_closed():
    keys = ring("k1")
    sealed = seal(ApiCredential("sk_prod_0123456789"), keys)
    with pytest.raises(VaultError) as wrong_key:
        unseal("k1", sealed.ciphertext, ring("k1"))
    assert "0123456789" not in str(wrong_key.value)
    with pytest.raises(VaultError):
        unseal("k9", sealed.ciphertext, keys)
    with pytest.raises(VaultError):
        unseal("k1", sealed.ciphertext[:-4] + "AAAA", keys)


@pytest.mark.parametrize("items", [[], ["no-colon"], ["k1:not-a-key"], ["k1:" + "A" * 44, "k1:" + "B" * 44]])
def test_a_bad_key_ring_is_refused_with_a_clear_error(items):
    with pytest.raises(VaultError):
        parse_key_ring(items)


def test_fingerprint_is_stable_and_does_not_contain_the_key(settings):
    assert fingerprint("sk_live_abcdef123456") == fingerprint("sk_live_abcdef123456")
    assert fingerprint("sk_live_abcdef123456") != fingerprint("sk_live_abcdef123457")
    assert "abcdef" not in fingerprint("sk_live_abcdef123456")
