"""Fixtures for the ingest API tests: a token, one provider per vendor, a poster, and a clean rate-limit cache."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.urls import reverse

from messaging.models import ErrorEvent, Provider, Send
from messaging.vault import tokens

SLUGS = {"23telecom": "t23", "textingblue": "tblue", "8x8": "e8", "telnxo": "tnx", "telephonyio": "tio"}


@pytest.fixture(autouse=True)
def _own_rate_limits(settings):
    """Rate-limit counters of this test only: a key prefix of its own in the configured (shared) cache."""
    settings.CACHES = {
        alias: {**config, "KEY_PREFIX": f"test-{uuid.uuid4().hex}"} for alias, config in settings.CACHES.items()
    }
    # The property tests send 150 requests a test as fast as they can: the per-token limit is
    # counted here but not reached (its own tests, with small limits, are in tests/security/test_tokens.py).
    settings.SENDWATCH_API_RATE = settings.SENDWATCH_API_BURST = 1_000_000


@pytest.fixture
def token(db) -> str:
    _, plaintext = tokens.create_token("ingest tests", providers=tokens.ALL_PROVIDERS)
    return plaintext


@pytest.fixture
def vendors(db) -> dict[str, Provider]:
    return {kind: Provider.objects.create(name=f"{kind} account", slug=slug, kind=kind) for kind, slug in SLUGS.items()}


@pytest.fixture
def events_url() -> str:
    return reverse("messaging:ingest_events")


@pytest.fixture
def post(client, token, events_url):
    """POST a payload (any JSON value, or raw bytes/str with raw=) to the ingest endpoint."""

    def send(payload: Any = None, *, raw: bytes | str | None = None, auth: str | None = None, **extra):
        data = raw if raw is not None else json.dumps(payload)
        extra.setdefault("content_type", "application/json")
        extra.setdefault("CONTENT_TYPE", extra["content_type"])  # the test client drops it for an empty body
        headers = {"HTTP_AUTHORIZATION": auth if auth is not None else f"Bearer {token}"}
        return client.post(events_url, data=data, **headers, **extra)

    return send


def counts() -> tuple[int, int]:
    return Send.objects.count(), ErrorEvent.objects.count()
