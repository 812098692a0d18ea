"""A stored API key only ever goes to the origin (scheme://host:port) it was verified for.

The attack this guards against: an admin points a provider's API base URL at a
server they control; anyone who may poll presses *Poll now*; that server receives
the key. Here that server is a local listener (http.server on 127.0.0.1) that
records every request it gets and relays it to the vendor simulator, so the
vendor answers exactly as it would. It must receive no key after the base-URL
change (poll, send and grace-fallback paths) until the key is verified there.
"""

from __future__ import annotations

import http.client
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from messaging import tasks  # noqa: F401 (registers the tasks, so eager Celery runs them here)
from messaging.alerts.balances import poll_provider
from messaging.models import AuditEntry, BalanceSnapshot, Credential, Provider, ProviderStatus, SendStatus
from messaging.traffic.verify import verify
from messaging.vault.adapters import KeyNotVerifiedForHost, NoCredential, active_credential, adapter_for
from messaging.vault.crypto import VaultError
from providers.outbound import origin
from tests.conftest import store_key
from tests.vault.conftest import (  # noqa: F401 (fixtures)
    ACCOUNT_MANAGER,
    Urls,
    admin_client_no_sudo,
    key_admin,
    reauthenticate,
    roles,
    send_now,
    users,
)

pytestmark = pytest.mark.django_db

KIND = "telnxo"
KEY = "sk_live_bound_to_its_host_K3y1"
OLD_KEY = "sk_live_previous_key_in_grace_0ld2"
NEW_KEY = "sk_live_rotated_key_bound_here_N3w3"


class Recorder(BaseHTTPRequestHandler):
    """Record the whole request (line, headers, body), then relay it to the simulator and its answer back."""

    def _relay(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.seen.append(f"{self.command} {self.path}\n{self.headers}".encode() + body)  # type: ignore[attr-defined]
        upstream = http.client.HTTPConnection(*self.server.upstream, timeout=5)  # type: ignore[attr-defined]
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        upstream.request(self.command, self.path, body=body or None, headers=headers)
        answer = upstream.getresponse()
        data = answer.read()
        upstream.close()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _relay

    def log_message(self, *args) -> None:
        pass


class Listener:
    def __init__(self, simulator_root: str) -> None:
        root = urlsplit(simulator_root)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
        self.server.seen = []  # type: ignore[attr-defined]
        self.server.upstream = (root.hostname, root.port)  # type: ignore[attr-defined]
        self.root = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def seen(self) -> list[bytes]:
        return self.server.seen  # type: ignore[attr-defined]

    def got(self, key: str) -> bool:
        return any(key.encode() in request for request in self.seen)

    def url_for(self, provider: Provider) -> str:
        """The provider's simulator URL with this listener's origin: the same vendor, relayed."""
        parts = urlsplit(provider.base_url)
        return self.root + parts.path

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener(simulator):
    made = Listener(simulator.root)
    yield made
    made.close()


@pytest.fixture(autouse=True)
def _local_hosts_allowed(settings):
    # The listener and the simulator are on 127.0.0.1: allow-listed, as an operator would for a local proxy.
    settings.SENDWATCH_ALLOW_PRIVATE_HOSTS = ["127.0.0.1"]


def edit_form(provider: Provider, **changes) -> dict:
    form = {
        "name": provider.name,
        "slug": provider.slug,
        "kind": provider.kind,
        "base_url": provider.base_url,
        "currency": provider.currency,
        "default_sender": provider.default_sender,
        "options": "{}",
        "enabled": "on",
    }
    return {**form, **changes}


def move(client, provider: Provider, url: str):
    """The attack's first step, through the dashboard: change the API base URL."""
    return client.post(reverse("messaging:provider_edit", args=[provider.slug]), edit_form(provider, base_url=url))


@pytest.fixture
def moved(simulator, make_provider, listener, key_admin):  # noqa: F811
    """A provider whose active key was verified at the simulator, then moved to the listener by an admin."""
    provider = make_provider(KIND, simulator.root, key=KEY)
    old_origin = provider.api_origin
    response = move(key_admin, provider, listener.url_for(provider))
    assert response.status_code == 302, response.content.decode()[:2000]
    provider.refresh_from_db()
    assert provider.api_origin == origin(listener.root) != old_origin
    return provider


# -- the origin rule -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://API.Telnxo.com/v1", "https://api.telnxo.com:443"),
        ("http://127.0.0.1:8000/sim/telnxo/x/v1", "http://127.0.0.1:8000"),
        ("http://example.com", "http://example.com:80"),
        ("https://example.com:8443/a?b=c", "https://example.com:8443"),
        ("HTTPS://Example.COM:443/", "https://example.com:443"),
    ],
)
def test_origin_writes_default_ports_out_and_lower_cases_the_host(url, expected):
    assert origin(url) == expected


def test_origin_is_the_migrations_rule():
    from importlib import import_module

    frozen = import_module("messaging.migrations.0005_security_scopes_and_origins").origin
    for url in ("https://API.Telnxo.com/v1", "http://127.0.0.1:9/x", "https://h:8443", "http://h"):
        assert origin(url) == frozen(url)


def test_a_provider_knows_its_origin_and_whether_the_host_is_custom():
    documented = Provider(name="a", slug="a", kind=KIND)
    assert documented.api_origin == "https://api.telnxo.com:443" and not documented.uses_custom_host
    same_host = Provider(name="b", slug="b", kind=KIND, base_url="https://api.telnxo.com/v2")
    assert not same_host.uses_custom_host
    proxy = Provider(name="c", slug="c", kind=KIND, base_url="https://proxy.example.com/telnxo")
    assert proxy.api_origin == "https://proxy.example.com:443" and proxy.uses_custom_host


# -- use: no key to a host it was not verified for -------------------------------------------


def test_the_change_is_audited_with_old_and_new_origin_and_the_keys_to_verify(moved, listener, simulator):
    entry = AuditEntry.objects.get(action="provider.base_url_change")
    assert entry.target_id == str(moved.pk)
    assert entry.details["old_origin"] == origin(simulator.root)
    assert entry.details["new_origin"] == origin(listener.root)
    assert entry.details["hints_to_verify"] == [KEY[-4:]]
    assert entry.actor is not None and entry.details["via"] == "web"
    assert not listener.seen  # saving the URL called nothing


def test_poll_now_sends_no_key_to_the_new_host(moved, listener, client, users, eager_celery):  # noqa: F811
    client.force_login(users[ACCOUNT_MANAGER])
    response = client.post(reverse("messaging:provider_poll", args=[moved.slug]))
    assert response.status_code == 302
    assert not listener.seen, "the listener was called"
    snapshot = BalanceSnapshot.objects.get(provider=moved)
    assert not snapshot.ok and snapshot.error_code == "no_credential"
    moved.refresh_from_db()
    assert moved.status == ProviderStatus.CREDENTIAL_FAILED
    assert origin(listener.root) in moved.status_detail and "verif" in moved.status_detail


def test_a_send_stays_unsent_with_a_clear_reason(moved, listener, send_now):  # noqa: F811
    send = send_now(moved)
    assert not listener.seen
    assert send.status == SendStatus.FAILED
    assert "not for " + origin(listener.root) in send.status_reason


def test_the_retired_key_is_not_the_fallback_at_a_host_it_was_not_verified_for(
    simulator,
    make_provider,
    listener,
    key_admin,  # noqa: F811
    send_now,  # noqa: F811
):
    provider = make_provider(KIND, simulator.root, key=OLD_KEY)
    old = Credential.objects.get(provider=provider)
    assert move(key_admin, provider, listener.url_for(provider)).status_code == 302
    provider.refresh_from_db()
    # A rotation at the new host: the new key is verified there, the previous one keeps its grace.
    now = timezone.now()
    Credential.objects.filter(pk=old.pk).update(state="retired", retired_at=now, grace_until=now + timedelta(hours=1))
    store_key(provider, NEW_KEY, verified_origin=provider.api_origin, activated_at=now)
    simulator.configure(KIND, provider.slug, valid_keys=[OLD_KEY])  # the vendor refuses the new key

    snapshot = poll_provider(provider)
    send = send_now(provider)

    assert listener.got(NEW_KEY)  # the key verified there is used...
    assert not listener.got(OLD_KEY), "the retired key went to a host it was never verified for"
    assert not snapshot.ok and snapshot.details.get("credential") != "grace"
    assert send.status == SendStatus.FAILED


def test_verifying_the_key_at_the_new_host_binds_it_there(moved, listener, key_admin, send_now):  # noqa: F811
    credential = Credential.objects.get(provider=moved, state="active")
    page = key_admin.get(Urls(moved).list).content.decode()
    assert f"Verify again for {origin(listener.root)}" in page
    assert key_admin.get(reverse("messaging:credential_index")).content.decode().count("Verify again for") == 1
    assert not listener.seen

    response = key_admin.post(Urls(moved).verify(credential))
    assert response.status_code == 302
    assert listener.got(KEY)  # verification is how the key reaches the new host: an admin's re-authenticated act
    credential.refresh_from_db()
    assert credential.verify_ok and credential.verified_origin == origin(listener.root)
    entry = AuditEntry.objects.get(action="credential.verify")
    assert entry.details["origin"] == origin(listener.root) and entry.details["previous_origin"] is not None

    listener.seen.clear()
    assert poll_provider(moved).ok
    assert listener.got(KEY)
    listener.seen.clear()
    assert send_now(moved).status == SendStatus.ACCEPTED
    assert listener.got(KEY)
    assert "Verify again for" not in key_admin.get(Urls(moved).list).content.decode()


def test_a_refused_verification_leaves_the_key_bound_where_it_was(moved, listener, simulator):
    credential = Credential.objects.get(provider=moved, state="active")
    before = credential.verified_origin
    simulator.configure(KIND, moved.slug, valid_keys=["sk_live_some_other_key_0000"])
    assert not verify(credential).ok
    credential.refresh_from_db()
    assert credential.verified_origin == before != moved.api_origin
    with pytest.raises(KeyNotVerifiedForHost):
        active_credential(moved)


def test_the_vault_refuses_an_unbound_key_with_an_error_callers_already_handle(moved):
    credential = Credential.objects.get(provider=moved, state="active")
    for call in (lambda: active_credential(moved), lambda: adapter_for(moved), lambda: adapter_for(moved, credential)):
        with pytest.raises(KeyNotVerifiedForHost) as refused:
            call()
        assert isinstance(refused.value, NoCredential) and isinstance(refused.value, VaultError)
        assert KEY not in str(refused.value) and KEY[-4:] in str(refused.value)
    # Only verification builds an adapter for a key not bound to the current origin, and it names the key.
    assert adapter_for(moved, credential, for_verification=True).credential.key == KEY
    with pytest.raises(ValueError):
        adapter_for(moved, for_verification=True)


def test_a_key_never_verified_anywhere_is_not_used(simulator, make_provider, listener):
    provider = make_provider(KIND, simulator.root, key=KEY)
    Credential.objects.filter(provider=provider).update(verified_origin="")
    assert not poll_provider(provider).ok
    assert BalanceSnapshot.objects.get(provider=provider).error_code == "no_credential"


def test_a_pending_key_verified_elsewhere_cannot_be_activated(moved, key_admin, listener):  # noqa: F811
    pending = store_key(moved, NEW_KEY, state="pending", verify_ok=True, verified_origin="http://127.0.0.1:9")
    response = key_admin.post(Urls(moved).activate(pending), {"grace": 3600}, follow=True)
    assert "verify it again first" in response.content.decode()
    pending.refresh_from_db()
    assert pending.state == "pending"
    assert not listener.seen


# -- the dashboard: re-authentication and URL checks -------------------------------------------


def test_moving_the_api_without_re_authentication_is_refused(simulator, make_provider, listener, admin_client_no_sudo):  # noqa: F811
    provider = make_provider(KIND, simulator.root, key=KEY)
    before = provider.base_url
    response = move(admin_client_no_sudo, provider, listener.url_for(provider))
    assert response.status_code == 302 and response["Location"].startswith(reverse("messaging:reauth"))
    provider.refresh_from_db()
    assert provider.base_url == before
    assert not AuditEntry.objects.filter(action__startswith="provider.").exists()

    # After confirming the password the same change goes through.
    reauthenticate(admin_client_no_sudo)
    assert move(admin_client_no_sudo, provider, listener.url_for(provider)).status_code == 302
    provider.refresh_from_db()
    assert provider.base_url == listener.url_for(provider)


def test_a_change_within_the_same_origin_needs_no_re_authentication(simulator, make_provider, admin_client_no_sudo):  # noqa: F811
    provider = make_provider(KIND, simulator.root, key=KEY)
    response = move(admin_client_no_sudo, provider, provider.base_url.rstrip("/") + "/v2")
    assert response.status_code == 302 and "reauth" not in response["Location"]
    assert AuditEntry.objects.filter(action="provider.change").exists()
    assert not AuditEntry.objects.filter(action="provider.base_url_change").exists()
    assert poll_provider(provider).error_code != "no_credential"  # still bound: same origin


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://169.254.169.254/latest/meta-data/", "cloud metadata address"),
        ("ftp://files.example.com/telnxo", "Only http:// and https://"),
        ("http://10.0.0.5/api", "private"),
    ],
)
def test_a_refused_base_url_is_a_form_error(simulator, make_provider, key_admin, url, message):  # noqa: F811
    provider = make_provider(KIND, simulator.root, key=KEY)
    before = provider.base_url
    response = move(key_admin, provider, url)
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors["base_url"])
    provider.refresh_from_db()
    assert provider.base_url == before
    assert not AuditEntry.objects.filter(action__startswith="provider.").exists()


def test_a_new_provider_with_a_refused_base_url_is_not_created(key_admin):  # noqa: F811
    form = edit_form(Provider(name="Meta", slug="meta", kind=KIND), base_url="http://169.254.169.254/")
    response = key_admin.post(reverse("messaging:provider_create"), form)
    assert response.status_code == 400 and "base_url" in response.context["form"].errors
    assert not Provider.objects.filter(slug="meta").exists()


def test_the_provider_page_says_custom_host(moved, key_admin, listener):  # noqa: F811
    page = key_admin.get(reverse("messaging:provider_detail", args=[moved.slug])).content.decode()
    assert moved.base_url in page and "custom host" in page
    assert f"Verify again for {origin(listener.root)}" in page
    documented = Provider.objects.create(name="Plain", slug="plain", kind=KIND)
    page = key_admin.get(reverse("messaging:provider_detail", args=[documented.slug])).content.decode()
    assert "custom host" not in page
