"""The key ring's checks and messages, each pinned (bin/mutation found them unpinned).

What an operator reads when the ring is wrong must name the item, its position and the
rule; every problem is reported, not only the first; and the stored-secret check runs
against the ring it was given.
"""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from messaging.models import Provider
from messaging.vault.crypto import (
    MAX_KEY_ID_LENGTH,
    RingProblem,
    StoredSecretsUnreadable,
    VaultError,
    assert_ring_opens_stored,
    describe_unreadable,
    parse_key_ring,
    ring_problems,
    seal,
    unreadable_key_ids,
)
from providers import ApiCredential
from tests.conftest import store_key


def key() -> str:
    return Fernet.generate_key().decode()


def test_an_empty_ring_says_so():
    assert ring_problems([]) == [RingProblem("malformed", "SENDWATCH_CREDENTIAL_KEYS is empty")]


def test_every_bad_item_is_reported_with_its_position():
    problems = ring_problems(["no-colon-here", "bad id:" + key(), "k3:not-a-fernet-key", "k4:" + key()])
    assert problems == [
        RingProblem("malformed", "SENDWATCH_CREDENTIAL_KEYS item 1 is not 'key_id:fernet_key'"),
        RingProblem(
            "malformed",
            f"SENDWATCH_CREDENTIAL_KEYS item 2: a key id has 1 to {MAX_KEY_ID_LENGTH} characters and no spaces",
        ),
        RingProblem("not_fernet", "SENDWATCH_CREDENTIAL_KEYS item 'k3' is not a valid Fernet key"),
    ]


def test_a_key_id_may_have_exactly_the_longest_length():
    assert ring_problems(["k" * MAX_KEY_ID_LENGTH + ":" + key()]) == []
    assert [p.kind for p in ring_problems(["k" * (MAX_KEY_ID_LENGTH + 1) + ":" + key()])] == ["malformed"]


def test_the_id_is_what_comes_before_the_first_colon():
    assert ring_problems(["k1:abc:def"]) == [
        RingProblem("not_fernet", "SENDWATCH_CREDENTIAL_KEYS item 'k1' is not a valid Fernet key")
    ]


def test_a_bad_ring_raises_its_first_problem():
    with pytest.raises(VaultError) as raised:
        parse_key_ring(["k1", "k2:" + key()])
    assert str(raised.value) == "SENDWATCH_CREDENTIAL_KEYS item 1 is not 'key_id:fernet_key'"


def test_the_description_lists_ids_and_counts_only():
    found = {"k1": {"credential(s)": [4, 5], "webhook secret(s)": [9]}, "k0": {"credential(s)": [1]}}
    assert describe_unreadable(found) == "'k0' (1 credential(s)), 'k1' (2 credential(s), 1 webhook secret(s))"


@pytest.mark.django_db
def test_the_stored_secret_check_uses_the_ring_it_is_given(settings):
    provider = Provider.objects.create(name="p", slug="p", kind="23telecom")
    store_key(provider, "sk_live_check_0123456789")  # sealed with the configured ring
    configured = parse_key_ring(settings.SENDWATCH_CREDENTIAL_KEYS)
    assert_ring_opens_stored(configured)
    assert unreadable_key_ids(configured) == set()
    other = parse_key_ring(["other:" + key()])
    assert unreadable_key_ids(other) == {configured.newest_id}
    with pytest.raises(StoredSecretsUnreadable) as raised:
        assert_ring_opens_stored(other)
    assert str(raised.value) == (
        "Refusing to encrypt a new secret: SENDWATCH_CREDENTIAL_KEYS cannot open stored secrets sealed with "
        f"master key '{configured.newest_id}' (1 credential(s)). Put the missing master key back in the ring "
        '(the newest stays first) and restart; see docs/security.md, "Master key ring checks".'
    )
    assert raised.value.found == {configured.newest_id: {"credential(s)": [provider.credentials.get().pk]}}
    assert seal(ApiCredential("x"), other).key_id == "other"
