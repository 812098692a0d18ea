"""Settings come from the environment; checked in a fresh interpreter per case."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import json, django
from django.conf import settings
django.setup()
db = settings.DATABASES["default"]
print(json.dumps({"engine": db["ENGINE"], "name": str(db["NAME"]), "host": db.get("HOST"),
  "conn_max_age": db["CONN_MAX_AGE"], "health": db["CONN_HEALTH_CHECKS"], "broker": settings.CELERY_BROKER_URL,
  "serializer": settings.CELERY_TASK_SERIALIZER, "accept": settings.CELERY_ACCEPT_CONTENT,
  "keys": len(settings.SENDWATCH_CREDENTIAL_KEYS), "debug": settings.DEBUG,
  "visibility": settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout"),
  "options": db.get("OPTIONS", {}).get("options")}))
"""


def probe(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "DEBUG"}}
    clean.update({"DJANGO_SETTINGS_MODULE": "config.settings", "SENDWATCH_VAR_DIR": str(tmp_path / "var")}, **env)
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60
    )


def test_the_embedded_default_is_sqlite_and_a_filesystem_broker_under_var(tmp_path):
    result = probe(tmp_path)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["engine"] == "django.db.backends.sqlite3"
    assert values["name"] == str(tmp_path / "var" / "sendwatch.sqlite3")
    assert values["broker"] == "filesystem://"
    assert (values["serializer"], values["accept"]) == ("json", ["json"])
    # A local key ring is generated once, outside git, with owner-only permissions.
    key_file = tmp_path / "var" / "credential-keys"
    assert values["keys"] == 1 and key_file.exists()
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"


def test_postgres_and_redis_urls(tmp_path):
    result = probe(
        tmp_path, DATABASE_URL="postgres://app:pw@db.internal:5433/sendwatch", CELERY_BROKER_URL="redis://r:6379/2"
    )
    values = json.loads(result.stdout)
    assert values["engine"] == "django.db.backends.postgresql"
    assert (values["host"], values["name"]) == ("db.internal", "sendwatch")
    assert values["conn_max_age"] == 600 and values["health"] is True
    assert values["options"] == "-c jit=off"
    assert values["broker"] == "redis://r:6379/2"
    assert values["visibility"] == 3600


def test_production_refuses_to_start_without_its_secrets(tmp_path):
    result = probe(tmp_path, DEBUG="0", SENDWATCH_REQUIRE_SECRETS="1")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
    result = probe(tmp_path, DEBUG="0", SENDWATCH_REQUIRE_SECRETS="1", SECRET_KEY="x" * 60)
    assert "SENDWATCH_CREDENTIAL_KEYS must be set" in result.stderr
    key = Fernet.generate_key().decode()
    result = probe(
        tmp_path, DEBUG="0", SENDWATCH_REQUIRE_SECRETS="1", SECRET_KEY="x" * 60, SENDWATCH_CREDENTIAL_KEYS=f"k1:{key}"
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_a_malformed_boolean_is_a_clear_error(tmp_path, value):
    result = probe(tmp_path, DEBUG=value)
    assert result.returncode != 0
    assert "DEBUG must be one of" in result.stderr
