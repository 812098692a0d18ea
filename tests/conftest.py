"""Shared fixtures. The suite runs on the real database named by DATABASE_URL."""

from __future__ import annotations

import os
import socket

import pytest
from django.conf import settings

# The simulator, webhook receivers and listeners of the suite run on loopback, which the outbound
# guard (providers/outbound.py) refuses unless the host is allow-listed.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
# Worker subprocesses (tests/integration) read it from the environment; in-process, see the fixture below.
os.environ.setdefault("SENDWATCH_ALLOW_PRIVATE_HOSTS", ",".join(LOOPBACK_HOSTS))
_real_getaddrinfo = socket.getaddrinfo


def pytest_report_header(config):
    if not config.pluginmanager.hasplugin("django"):
        return []
    db = settings.DATABASES["default"]
    where = f"{db['HOST'] or 'local'}:{db['PORT'] or '-'}" if db["HOST"] else db["NAME"]
    broker = settings.CELERY_BROKER_URL.split("@")[-1]
    return [f"sendwatch: database {settings.DATABASE_VENDOR} ({where}); broker {broker}"]


def pytest_configure(config):
    # In CI the suite must run on PostgreSQL and Redis; SQLite there is a failure, not a skip.
    if (
        config.pluginmanager.hasplugin("django")
        and os.environ.get("CI") == "true"
        and (settings.DATABASE_VENDOR != "postgresql" or settings.BROKER_VENDOR != "redis")
    ):
        raise pytest.UsageError(
            f"CI must run on PostgreSQL and Redis, got {settings.DATABASE_VENDOR} and {settings.BROKER_VENDOR}"
        )
    if config.pluginmanager.hasplugin("django"):
        # whitenoise warns at start-up when the collectstatic folder is missing; tests serve from the finders.
        os.makedirs(settings.STATIC_ROOT, exist_ok=True)


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", "a-long-test-password")


@pytest.fixture(autouse=True)
def _static_files_without_collectstatic(request):
    # Production serves a collected, hashed manifest; tests read static files from the source folders.
    if not request.config.pluginmanager.hasplugin("django"):
        return  # the plain-Python provider tests also run with -p no:django
    settings = request.getfixturevalue("settings")
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.WHITENOISE_AUTOREFRESH = True
    settings.WHITENOISE_USE_FINDERS = True


@pytest.fixture(autouse=True)
def _loopback_allow_listed(request):
    """Vendor calls and webhooks may reach the suite's own listeners on 127.0.0.1 (and localhost)."""
    if not request.config.pluginmanager.hasplugin("django"):
        return
    settings = request.getfixturevalue("settings")
    settings.SENDWATCH_ALLOW_PRIVATE_HOSTS = list(LOOPBACK_HOSTS)


@pytest.fixture(autouse=True)
def _no_real_dns(monkeypatch):
    """Only IP literals and localhost resolve: no test may query a real DNS server.

    Creating a webhook resolves its host (messaging.alerts.notify.create_webhook); a name
    that does not resolve is accepted there, so tests may still use https://hooks.example.com/.
    Tests that need a name to resolve patch socket.getaddrinfo over this one.
    """

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        name = host.decode() if isinstance(host, bytes) else host
        if name is None or str(name).lower().rstrip(".") == "localhost":  # /etc/hosts, or a passive bind
            return _real_getaddrinfo(host, port, family, type, proto, flags)
        try:  # IP literals: parsed locally, never a DNS query
            return _real_getaddrinfo(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)
        except socket.gaierror:
            raise socket.gaierror(socket.EAI_NONAME, f"{name}: no DNS in tests") from None

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture(scope="session")
def simulator_root():
    """The vendor simulator on an ephemeral port, over real HTTP."""
    from providers.simulator import start_in_thread

    server, root = start_in_thread()
    yield root
    server.shutdown()


@pytest.fixture
def simulator(simulator_root):
    """A clean simulator for each test, with a small client for its control API."""
    import requests

    class Control:
        root = simulator_root

        def configure(self, kind: str, account: str, **config):
            response = requests.patch(f"{simulator_root}/_sim/{kind}/{account}", json=config, timeout=5)
            response.raise_for_status()
            return response.json()

        def fail_next(self, kind: str, account: str, code: str, count: int = 1):
            requests.post(
                f"{simulator_root}/_sim/{kind}/{account}/fail_next", json={"code": code, "count": count}, timeout=5
            ).raise_for_status()

        def messages(self, kind: str, account: str) -> list[dict]:
            return requests.get(f"{simulator_root}/_sim/{kind}/{account}/messages", timeout=5).json()["messages"]

    requests.post(f"{simulator_root}/_sim/reset", timeout=5).raise_for_status()
    return Control()


@pytest.fixture
def eager_celery():
    """Run tasks inline, as a worker would, for unit tests of the task paths."""
    from config.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.fixture
def make_provider(db):
    """A provider of ``kind`` pointed at the simulator, with an active sealed key."""
    from messaging.demo.generator import simulator_base_url
    from messaging.models import Provider

    def make(kind: str, root: str, slug: str | None = None, key: str = "sk_test_0123456789abcdef", **fields):
        slug = slug or f"{kind}-acct"
        options = {"account_id": "6b1f2c3d-0000-4000-8000-00000000a8a8", "subaccount_id": "acme_hq"}
        provider = Provider.objects.create(
            name=slug,
            slug=slug,
            kind=kind,
            base_url=simulator_base_url(root, kind, slug),
            options=options if kind == "8x8" else {},
            default_sender="+14155550199" if kind == "textingblue" else "Acme",
            **fields,
        )
        store_key(provider, key)
        return provider

    return make


def store_key(provider, key: str, state: str = "active", **fields):
    """Seal ``key`` and store it as ``provider``'s credential in ``state`` (tests only: no rotation flow)."""
    from messaging.models import Credential
    from messaging.vault.crypto import seal
    from providers import ApiCredential

    sealed = seal(ApiCredential(key))
    if "verified_origin" not in fields and (state != "pending" or fields.get("verify_ok")):
        # Keys in use (or verified) were verified against the provider's API host: bound to it, as verify() does.
        fields["verified_origin"] = provider.api_origin
    return Credential.objects.create(
        provider=provider,
        ciphertext=sealed.ciphertext,
        key_id=sealed.key_id,
        fingerprint=sealed.fingerprint,
        hint=sealed.hint,
        state=state,
        **fields,
    )


@pytest.fixture
def traffic(db):
    """Two providers with a known mix: the numbers the tests check are counted by hand."""
    from datetime import timedelta

    from django.utils import timezone

    from messaging.models import ErrorEvent, Provider, Send, SendStatus
    from messaging.traffic import rollups

    now = timezone.now()
    eu = Provider.objects.create(name="23 EU", slug="t23", kind="23telecom")
    apac = Provider.objects.create(name="8x8 APAC", slug="e8", kind="8x8")

    def sends(provider, count, *, hours_ago=1.0, channel="sms"):
        at = now - timedelta(hours=hours_ago)
        rows = Send.objects.bulk_create(
            Send(
                provider=provider,
                recipient=f"+4477009{n:05d}",
                channel=channel,
                status=SendStatus.ACCEPTED,
                created_at=at,
                vendor_message_id=f"vm-{provider.slug}-{hours_ago}-{n}",
            )
            for n in range(count)
        )
        rollups.record(sends=rows)  # as every writer does
        return rows

    def errors(provider, code, category, count, *, hours_ago=1.0, channel="sms", source="send", rows=None):
        at = now - timedelta(hours=hours_ago)
        events = ErrorEvent.objects.bulk_create(
            ErrorEvent(
                provider=provider,
                error_code=code,
                category=category,
                occurred_at=at,
                channel=channel,
                source=source,
                http_status=400,
                raw_body='{"raw": true}',
                message="vendor says no",
                send=rows[n] if rows else None,
            )
            for n in range(count)
        )
        rollups.record(errors=events)

    eu_sends = sends(eu, 100)
    sends(apac, 50)
    sends(eu, 20, channel="whatsapp")
    errors(eu, "INVALID_TO", "validation", 6, rows=eu_sends)
    errors(eu, "RATE_LIMIT_EXCEEDED", "rate_limit", 4)
    errors(apac, "1002", "validation", 5)
    errors(eu, "INVALID_TO", "validation", 2, channel="whatsapp")
    # Previous 24 h window: fewer INVALID_TO; outside every window; and a balance-poll error that never counts.
    sends(eu, 80, hours_ago=30)
    errors(eu, "INVALID_TO", "validation", 4, hours_ago=30)
    errors(eu, "INVALID_TO", "validation", 9, hours_ago=24 * 40)
    errors(eu, "INTERNAL_ERROR", "server", 3, source="balance")
    return {"eu": eu, "apac": apac, "now": now}


@pytest.fixture
def many_codes(traffic):
    """60 more codes at a third provider, so the breakdown has more rows than it shows by default."""
    from messaging.models import ErrorEvent, Provider
    from messaging.traffic import rollups

    more = Provider.objects.create(name="More", slug="more", kind="telnxo")
    for n in range(60):
        events = ErrorEvent.objects.bulk_create(
            ErrorEvent(provider=more, error_code=f"code_{n:02d}", category="server", occurred_at=traffic["now"])
            for _ in range(n + 10)
        )
        rollups.record(errors=events)
    return more
