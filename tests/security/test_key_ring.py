"""The master key ring checks (messaging/vault/checks.py) and the refusal to seal under a ring that lost keys."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from messaging.alerts.notify import create_webhook
from messaging.models import Credential, Provider, WebhookEndpoint
from messaging.vault import keys as credentials
from messaging.vault.crypto import (
    StoredSecretsUnreadable,
    VaultError,
    parse_key_ring,
    seal,
    unreadable_ciphertexts,
    unreadable_key_ids,
)
from providers import ApiCredential

ROOT = Path(__file__).resolve().parents[2]
K1, K2, K3 = (Fernet.generate_key().decode() for _ in range(3))


def sendwatch_errors(**kwargs) -> dict[str, str]:
    """id -> message of every sendwatch.* check message."""
    return {m.id: m.msg for m in run_checks(**kwargs) if (m.id or "").startswith("sendwatch.")}


# -- a malformed ring -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ring", "error_id"),
    [
        (["garbage"], "sendwatch.E001"),
        ([f":{K1}"], "sendwatch.E001"),
        (["k1:"], "sendwatch.E001"),
        ([f"{'k' * 41}:{K1}"], "sendwatch.E001"),
        ([f"k 1:{K1}"], "sendwatch.E001"),
        (["k1:notbase64"], "sendwatch.E002"),
        ([f"k2:{K2}", "k1:c2hvcnQ="], "sendwatch.E002"),
        ([f"k1:{K1}", f"k1:{K2}"], "sendwatch.E003"),
    ],
)
def test_each_malformed_ring_is_an_error_with_its_own_id(settings, ring, error_id):
    settings.SENDWATCH_CREDENTIAL_KEYS = ring
    errors = sendwatch_errors()
    assert error_id in errors, errors
    # The message names positions and ids, never the key material.
    for key in (K1, K2, "notbase64", "c2hvcnQ="):
        assert key not in errors[error_id]
    with pytest.raises(VaultError):
        parse_key_ring(ring)  # and the vault refuses to use it


def test_a_well_formed_ring_passes(settings):
    settings.SENDWATCH_CREDENTIAL_KEYS = [f"k2:{K2}", f"k1:{K1}"]
    settings.SENDWATCH_CREDENTIAL_KEYS_FROM_FILE = False  # as set from the environment
    assert sendwatch_errors() == {}
    assert sendwatch_errors(include_deployment_checks=True) == {}


# -- DEBUG off without a ring ------------------------------------------------------------------------


def test_debug_off_with_the_local_key_file_is_a_deployment_error_unless_intended(settings):
    settings.DEBUG = False
    settings.SENDWATCH_CREDENTIAL_KEYS_FROM_FILE = True
    settings.SENDWATCH_LOCAL_KEYS = False
    assert "sendwatch.E004" in sendwatch_errors(include_deployment_checks=True)
    # Only a deployment check: makemigrations, migrate and the test run (bin/test, bin/bench) are not stopped.
    assert "sendwatch.E004" not in sendwatch_errors()

    settings.SENDWATCH_LOCAL_KEYS = True
    assert "sendwatch.E004" not in sendwatch_errors(include_deployment_checks=True)

    settings.SENDWATCH_LOCAL_KEYS = False
    settings.DEBUG = True  # bin/run
    assert "sendwatch.E004" not in sendwatch_errors(include_deployment_checks=True)

    settings.DEBUG = False
    settings.SENDWATCH_CREDENTIAL_KEYS_FROM_FILE = False  # a ring from the environment
    assert "sendwatch.E004" not in sendwatch_errors(include_deployment_checks=True)


def manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """``manage.py ARGS`` in a fresh interpreter with a clean environment, as an operator would run it."""
    # DJANGO_ALLOW_ASYNC_UNSAFE: the browser tests set it in this process; no operator would.
    drop = {
        "DATABASE_URL",
        "CELERY_BROKER_URL",
        "DEBUG",
        "SENDWATCH_CREDENTIAL_KEYS",
        "SENDWATCH_LOCAL_KEYS",
        "DJANGO_ALLOW_ASYNC_UNSAFE",
    }
    clean = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("SECRET")}
    clean.update({"DJANGO_SETTINGS_MODULE": "config.settings", "SENDWATCH_VAR_DIR": str(tmp_path / "var")}, **env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


def test_a_malformed_ring_does_not_crash_settings_and_check_deploy_reports_it(tmp_path):
    result = manage(tmp_path, "check", "--deploy", DEBUG="0", SENDWATCH_CREDENTIAL_KEYS="garbage")
    assert result.returncode != 0
    assert "sendwatch.E001" in result.stderr and "Traceback" not in result.stderr
    result = manage(tmp_path, "check", DEBUG="0", SENDWATCH_CREDENTIAL_KEYS=f"k1:notbase64,k0:{K1}")
    assert result.returncode != 0 and "sendwatch.E002" in result.stderr
    assert K1 not in result.stderr


def test_check_deploy_without_a_ring_fails_unless_a_local_key_file_is_intended(tmp_path):
    result = manage(tmp_path, "check", "--deploy", DEBUG="0")
    assert result.returncode != 0 and "sendwatch.E004" in result.stderr
    result = manage(tmp_path, "check", "--deploy", DEBUG="0", SENDWATCH_LOCAL_KEYS="1")
    assert "sendwatch.E" not in result.stderr, result.stderr


def test_bin_tests_deploy_check_and_bin_runs_debug_start_stay_clean(tmp_path):
    # bin/test's production check: a valid ring, every warning fails.
    result = manage(
        tmp_path,
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SENDWATCH_REQUIRE_SECRETS="1",
        ALLOWED_HOSTS="sendwatch.example.com",
        SECURE_SSL_REDIRECT="1",
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="smtp.example.com",
        SECRET_KEY="s" * 64 + "Xy9-q",
        SENDWATCH_CREDENTIAL_KEYS=f"ci1:{K1}",
    )
    assert result.returncode == 0, result.stderr
    # bin/run: DEBUG on, the local key file made on first use; migrate (which runs the database checks) is clean.
    result = manage(tmp_path, "migrate", "--noinput", "-v", "0", DEBUG="1")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "var" / "credential-keys").exists()
    result = manage(tmp_path, "check", "--database", "default", DEBUG="1")
    assert result.returncode == 0, result.stderr


# -- stored ciphertexts the ring cannot open -----------------------------------------------------------


@pytest.fixture
def sealed_under_k1(db, settings):
    """A credential and a webhook secret sealed with master key k1."""
    settings.SENDWATCH_CREDENTIAL_KEYS = [f"k1:{K1}"]
    provider = Provider.objects.create(name="Ring", slug="ring", kind="telnxo")
    sealed = seal(ApiCredential("sk_live_sealed_under_k1_0001"))
    credential = Credential.objects.create(
        provider=provider,
        ciphertext=sealed.ciphertext,
        key_id=sealed.key_id,
        fingerprint=sealed.fingerprint,
        hint=sealed.hint,
        state="active",
    )
    hook, _ = create_webhook("https://hooks.example.com/ring", provider)
    assert (credential.key_id, hook.secret_key_id) == ("k1", "k1")
    return provider, credential, hook


def test_the_database_check_names_key_ids_the_ring_cannot_open(settings, sealed_under_k1):
    _, credential, hook = sealed_under_k1
    assert sendwatch_errors(databases=["default"]) == {}
    assert unreadable_key_ids() == set()

    settings.SENDWATCH_CREDENTIAL_KEYS = [f"k2:{K2}"]  # k1 dropped before re-encrypting
    errors = sendwatch_errors(databases=["default"])
    assert "sendwatch.E005" in errors and "'k1'" in errors["sendwatch.E005"]
    assert "1 credential(s)" in errors["sendwatch.E005"] and "1 webhook secret(s)" in errors["sendwatch.E005"]
    assert K1 not in errors["sendwatch.E005"] and K2 not in errors["sendwatch.E005"]
    assert unreadable_key_ids() == {"k1"}
    assert unreadable_ciphertexts() == {"k1": {"credential(s)": [credential.pk], "webhook secret(s)": [hook.pk]}}
    # Only a database check: a plain `check` (runserver) does not query the database.
    assert "sendwatch.E005" not in sendwatch_errors()
    # `check --database default` and `migrate` refuse, naming the key id.
    with pytest.raises(SystemCheckError, match=r"sendwatch\.E005.*'k1'"):
        call_command("check", databases=["default"])
    with pytest.raises(SystemCheckError, match=r"sendwatch\.E005"):
        call_command("migrate", skip_checks=False, verbosity=0, interactive=False)

    settings.SENDWATCH_CREDENTIAL_KEYS = [f"k2:{K2}", f"k1:{K1}"]  # the rotation's first step: fine
    assert sendwatch_errors(databases=["default"]) == {}


def test_a_different_key_under_the_same_id_is_caught(settings, sealed_under_k1):
    # What a regenerated local key file does: same id, new key.
    settings.SENDWATCH_CREDENTIAL_KEYS = [f"k1:{K3}"]
    errors = sendwatch_errors(databases=["default"])
    assert "'k1'" in errors["sendwatch.E005"]
    assert unreadable_key_ids() == {"k1"}


def test_a_malformed_ring_is_reported_once_not_by_the_database_check(settings, sealed_under_k1):
    settings.SENDWATCH_CREDENTIAL_KEYS = ["garbage"]
    errors = sendwatch_errors(databases=["default"])
    assert "sendwatch.E001" in errors and "sendwatch.E005" not in errors


def test_no_new_key_or_webhook_is_sealed_under_a_ring_that_cannot_open_the_stored_ones(settings, sealed_under_k1):
    provider, _, _ = sealed_under_k1
    settings.SENDWATCH_CREDENTIAL_KEYS = [f"k2:{K2}"]
    before = (Credential.objects.count(), WebhookEndpoint.objects.count())

    with pytest.raises(VaultError, match=r"Refusing to encrypt a new secret.*'k1'") as refused:
        credentials.add_pending(provider, "sk_live_new_key_after_loss_0002")
    assert isinstance(refused.value, StoredSecretsUnreadable) and set(refused.value.found) == {"k1"}
    assert K1 not in str(refused.value) and K2 not in str(refused.value)
    assert "sk_live_new_key_after_loss_0002" not in str(refused.value)
    with pytest.raises(StoredSecretsUnreadable):
        seal(ApiCredential("sk_live_direct_seal_0003"))
    with pytest.raises(StoredSecretsUnreadable):
        create_webhook("https://hooks.example.com/new", provider)
    assert (Credential.objects.count(), WebhookEndpoint.objects.count()) == before

    # An explicit ring (the re-encryption and the tests) is the caller's business: no database scan.
    assert seal(ApiCredential("sk_live_explicit_ring_0004"), parse_key_ring([f"k9:{K3}"])).key_id == "k9"

    # With the old key back (second, the new one first), adding works and seals under the newest key.
    settings.SENDWATCH_CREDENTIAL_KEYS = [f"k2:{K2}", f"k1:{K1}"]
    pending = credentials.add_pending(provider, "sk_live_new_key_after_loss_0002")
    assert pending.key_id == "k2"
