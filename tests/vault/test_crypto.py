"""Encryption at rest: master key rotation with reencrypt_credentials, and a database dump without keys."""

from __future__ import annotations

import shutil
import subprocess
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection

from messaging.models import Credential, Provider, WebhookEndpoint
from messaging.traffic.verify import verify as verify_key
from messaging.vault import keys as credentials
from messaging.vault.crypto import VaultError, parse_key_ring, reseal, seal, unseal
from providers import ApiCredential

K1, K2 = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def ring_setting(*items: tuple[str, str]) -> list[str]:
    return [f"{key_id}:{key}" for key_id, key in items]


def make_rows(count: int, provider: Provider) -> list[str]:
    """``count`` sealed credential rows (one active, the rest revoked) under the current ring; their keys."""
    keys = [f"bulk_key_{n:05d}_abcdefgh" for n in range(count)]
    rows = []
    for n, key in enumerate(keys):
        sealed = seal(ApiCredential(key, secret=f"secret-{n}"))
        rows.append(
            Credential(
                provider=provider,
                ciphertext=sealed.ciphertext,
                key_id=sealed.key_id,
                fingerprint=sealed.fingerprint,
                hint=sealed.hint,
                state="active" if n == 0 else "revoked",
            )
        )
    Credential.objects.bulk_create(rows)
    return keys


def webhook(provider: Provider, secret: str) -> WebhookEndpoint:
    sealed = seal(ApiCredential(secret))
    return WebhookEndpoint.objects.create(
        provider=provider,
        url="https://hooks.example.com/sendwatch",
        secret_ciphertext=sealed.ciphertext,
        secret_key_id=sealed.key_id,
        secret_hint=sealed.hint,
    )


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("reencrypt_credentials", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_reseal_moves_a_token_to_the_newest_key_and_fails_closed():
    old_ring = parse_key_ring(ring_setting(("k1", K1)))
    new_ring = parse_key_ring(ring_setting(("k2", K2), ("k1", K1)))
    sealed = seal(ApiCredential("sk_live_reseal_me_0001"), old_ring)
    key_id, token = reseal(sealed.key_id, sealed.ciphertext, new_ring)
    assert key_id == "k2" and token != sealed.ciphertext
    assert unseal("k2", token, parse_key_ring(ring_setting(("k2", K2)))).key == "sk_live_reseal_me_0001"
    assert reseal("k2", token, new_ring) == ("k2", token)  # already on the newest key
    with pytest.raises(VaultError) as error:
        reseal("k1", sealed.ciphertext[:-6] + "AAAAAA", new_ring)
    assert "reseal_me" not in str(error.value)
    with pytest.raises(VaultError):
        reseal("k0", sealed.ciphertext, new_ring)


@pytest.mark.django_db
def test_master_key_rotation_is_batched_resumable_and_ends_on_the_new_key_only(settings, monkeypatch):
    settings.SENDWATCH_CREDENTIAL_KEYS = ring_setting(("k1", K1))
    provider = Provider.objects.create(name="Bulk", slug="bulk", kind="telnxo")
    keys = make_rows(7, provider)
    hook = webhook(provider, "whsec_rotate_me_0123")

    settings.SENDWATCH_CREDENTIAL_KEYS = ring_setting(("k2", K2), ("k1", K1))
    # Refuses to drop k1 while rows use it, naming the counts.
    with pytest.raises(CommandError, match=r"still encrypts 7 credentials, 1 webhook secrets"):
        run("--check-drop", "k1")

    # A run that dies after its first batch keeps that batch; a rerun continues with the rest.
    from messaging.management.commands import reencrypt_credentials as command

    real_batch, calls = command.Command._batch, []

    def dying_batch(self, column, ring, batch_size):
        if len(calls) == 1:
            raise RuntimeError("worker killed")
        calls.append(column.label)
        return real_batch(self, column, ring, batch_size)

    monkeypatch.setattr(command.Command, "_batch", dying_batch)
    with pytest.raises(RuntimeError):
        run("--batch-size", "3")
    assert Credential.objects.filter(key_id="k2").count() == 3
    monkeypatch.setattr(command.Command, "_batch", real_batch)

    out, err = run("--batch-size", "3")
    assert "Re-encrypted 5 row(s) under master key k2" in out  # 4 credentials left + 1 webhook secret
    assert "credentials: k2: 7" in out and "webhook secrets: k2: 1" in out
    assert "re-encrypting under k2" in err and "5/5" in err  # tqdm's bar, on stderr
    out, _ = run()
    assert "Re-encrypted 0 row(s)" in out  # nothing left: rows on the newest key are skipped

    out, _ = run("--check-drop", "k1")
    assert "can be removed" in out
    with pytest.raises(CommandError, match="newest master key"):
        run("--check-drop", "k2")

    # Drop k1: everything still decrypts with k2 alone, and nothing decrypts with k1 alone.
    settings.SENDWATCH_CREDENTIAL_KEYS = ring_setting(("k2", K2))
    only_k1 = parse_key_ring(ring_setting(("k1", K1)))
    stored = {
        unseal(c.key_id, c.ciphertext).key: unseal(c.key_id, c.ciphertext).secret
        for c in Credential.objects.order_by("pk")
    }
    assert stored == {key: f"secret-{n}" for n, key in enumerate(keys)}
    hook.refresh_from_db()
    assert hook.secret_key_id == "k2" and unseal("k2", hook.secret_ciphertext).key == "whsec_rotate_me_0123"
    for credential in Credential.objects.all():
        with pytest.raises(VaultError):
            unseal("k1", credential.ciphertext, only_k1)


@pytest.mark.django_db
def test_a_row_whose_key_is_missing_stops_the_command_with_a_clear_message(settings):
    settings.SENDWATCH_CREDENTIAL_KEYS = ring_setting(("k1", K1))
    provider = Provider.objects.create(name="Lost", slug="lost", kind="8x8")
    make_rows(2, provider)
    settings.SENDWATCH_CREDENTIAL_KEYS = ring_setting(("k2", K2))  # k1 dropped too early
    with pytest.raises(CommandError, match=r"credentials row \d+: .*'k1'.*run the command again"):
        run()
    assert not Credential.objects.filter(key_id="k2").exists()


def dump_database() -> tuple[str, str]:
    """Everything in the test database as text: (how, text) with pg_dump, else every column of every row via SQL."""
    if connection.vendor == "postgresql" and shutil.which("pg_dump"):
        db = connection.settings_dict
        command = [
            "pg_dump",
            "--data-only",
            "--no-owner",
            "-h",
            db["HOST"] or "localhost",
            "-p",
            str(db["PORT"] or 5432),
        ]
        command += ["-U", db["USER"], db["NAME"]]
        env = {"PGPASSWORD": db["PASSWORD"] or "", "PATH": "/usr/bin:/bin"}
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)
        assert result.returncode == 0, result.stderr  # a pg_dump that is there must work
        return "pg_dump", result.stdout
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            columns = connection.introspection.get_table_description(cursor, table)
            names = ", ".join(connection.ops.quote_name(c.name) for c in columns)
            cursor.execute(f"SELECT {names} FROM {connection.ops.quote_name(table)}")
            chunks.extend(repr(row) for row in cursor.fetchall())
    return "sql", "\n".join(chunks)


@pytest.mark.django_db(transaction=True)
def test_a_database_dump_holds_no_plaintext_key_or_secret(simulator, make_provider, settings):
    provider = make_provider("telnxo", simulator.root, key="sk_live_active_Zq8Wx4")
    pending = credentials.add_pending(provider, "sk_live_pending_Mn5Tr7", secret="vendor-secret-Hy6Uj2", label="Q3")
    verify_key(pending)
    credentials.activate(pending)
    hook = webhook(provider, "whsec_dump_check_Kp3Lm9")

    how, dump = dump_database()
    assert how == ("pg_dump" if connection.vendor == "postgresql" and shutil.which("pg_dump") else "sql")
    # The dump is real: it holds the rows, encrypted.
    assert pending.ciphertext in dump and hook.secret_ciphertext in dump and "telnxo-acct" in dump
    for plaintext in (
        "sk_live_active_Zq8Wx4",
        "sk_live_pending_Mn5Tr7",
        "vendor-secret-Hy6Uj2",
        "whsec_dump_check_Kp3Lm9",
    ):
        assert plaintext not in dump
    # Nor the master keys.
    for item in settings.SENDWATCH_CREDENTIAL_KEYS:
        assert item.partition(":")[2] not in dump
