"""Security item 7: *Poll now* never holds a web worker while a vendor hangs.

A hanging vendor once held a web worker 15 s. Now the poll runs on a worker
(``messaging.tasks.poll_provider``, started by name); the request answers at once
with the card saying "Checking…", and htmx asks the status fragment every 2 s
until the worker's snapshot is there (or says there is no answer yet after 30 s).
Without a broker the poll is not started, and the card says so.
"""

from __future__ import annotations

import html
import json
import re
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError

from messaging import background, tasks
from messaging.dashboard import overview_data
from messaging.models import BalanceSnapshot, Provider
from messaging.vault.roles import ACCOUNT_MANAGER, SUPPORT
from tests.conftest import store_key
from tests.vault import conftest as vault_fixtures

roles = vault_fixtures.roles
users = vault_fixtures.users
HTMX = {"HX-Request": "true"}
KEY = "sk_test_hanging_vendor_0123456789"
HANG_SECONDS = 30
POLL_TASK = "messaging.tasks.poll_provider"


class HangingVendor(BaseHTTPRequestHandler):
    """Telephony.io's balance endpoint that answers only when the test releases it (at the latest after 30 s)."""

    def do_GET(self):
        self.server.started.set()
        self.server.release.wait(HANG_SECONDS)
        try:
            payload = json.dumps({"balance": "42.50", "currency": "USD"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        finally:
            self.server.finished.set()  # only once the vendor has answered

    def log_message(self, *args):
        pass


@pytest.fixture
def hanging_vendor(settings):
    # Loopback is refused for vendor URLs unless allow-listed (providers/outbound.py).
    settings.SENDWATCH_ALLOW_PRIVATE_HOSTS = ["127.0.0.1"]
    server = ThreadingHTTPServer(("127.0.0.1", 0), HangingVendor)
    server.started, server.release, server.finished = threading.Event(), threading.Event(), threading.Event()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.release.set()  # a handler still waiting answers now instead of after 30 s
    server.shutdown()
    server.server_close()


@pytest.fixture
def worker(monkeypatch, hanging_vendor):
    """The broker and a worker in one: ``background.start`` runs the task on a thread, as a worker process would,
    and returns once that worker is inside the vendor call (so the web request answers while the vendor hangs)."""

    class Worker:
        def __init__(self) -> None:
            self.started: list[tuple[str, list]] = []
            self.threads: list[threading.Thread] = []

        def start(self, task_name, args=(), *, countdown=None, retry=True) -> None:
            assert task_name == POLL_TASK
            self.started.append((task_name, list(args)))
            thread = threading.Thread(target=self.run, args=(list(args),), daemon=True)
            self.threads.append(thread)
            thread.start()
            hanging_vendor.started.wait(5)  # the worker picked it up and is waiting for the vendor

        @staticmethod
        def run(args) -> None:
            try:
                tasks.poll_provider(*args)
            finally:
                connection.close()  # this thread's own database connection

        def join(self) -> None:
            for thread in self.threads:
                thread.join(timeout=10)
                assert not thread.is_alive()

    worker = Worker()
    monkeypatch.setattr(background, "start", worker.start)
    return worker


@pytest.fixture
def queued(monkeypatch):
    """Record what would go to the broker; nothing runs."""
    started = []
    monkeypatch.setattr(background, "start", lambda name, args=(), **kw: started.append((name, list(args))))
    return started


def hanging_provider(vendor) -> Provider:
    provider = Provider.objects.create(name="Hangs", slug="hangs", kind="telephonyio", base_url=vendor.url)
    store_key(provider, KEY)
    return provider


def poll_url(provider) -> str:
    return reverse("messaging:provider_poll", args=[provider.slug])


def status_url_in(page: str) -> str:
    match = re.search(r'hx-get="([^"]*/poll/status/\?since=\d+)"', page)
    assert match, "the card does not ask for the poll's status"
    return html.unescape(match.group(1))


@pytest.mark.django_db(transaction=True)  # the worker thread reads what the test wrote
def test_htmx_poll_now_answers_while_the_vendor_hangs_and_the_status_fragment_shows_the_result(
    client, users, hanging_vendor, worker
):
    provider = hanging_provider(hanging_vendor)
    client.force_login(users[ACCOUNT_MANAGER])

    response = client.post(poll_url(provider), headers=HTMX)

    # The worker is inside the vendor call, the vendor has not answered, and the web answer is already here.
    assert hanging_vendor.started.is_set() and not hanging_vendor.finished.is_set()
    assert worker.threads[0].is_alive()
    assert worker.started == [(POLL_TASK, [provider.pk])]  # by name, the id only
    assert response.status_code == 200
    card = response.content.decode()
    assert card.lstrip().startswith(f'<article class="card provider-card" id="card-{provider.slug}"')
    assert "Checking…" in card and 'hx-trigger="every 2s"' in card and 'role="status"' in card
    assert not BalanceSnapshot.objects.filter(provider=provider).exists()
    status = status_url_in(card)
    assert client.get(status, headers=HTMX).status_code == 204  # still on its way: nothing to swap, ask again

    hanging_vendor.release.set()
    worker.join()
    assert hanging_vendor.finished.is_set()

    response = client.get(status, headers=HTMX)
    assert response.status_code == 200
    card = response.content.decode()
    assert card.lstrip().startswith(f'<article class="card provider-card" id="card-{provider.slug}"')
    assert "42.50 USD" in card and "Hangs: 42.50 USD, status OK." in card
    assert "Checking…" not in card and "every 2s" not in card  # the polling stops
    assert KEY not in card
    assert BalanceSnapshot.objects.get(provider=provider).ok


@pytest.mark.django_db(transaction=True)
def test_plain_poll_now_redirects_with_a_message_while_the_vendor_hangs(client, users, hanging_vendor, worker):
    provider = hanging_provider(hanging_vendor)
    client.force_login(users[ACCOUNT_MANAGER])
    back = f"/providers/{provider.slug}/"

    response = client.post(poll_url(provider), {"next": back})

    assert hanging_vendor.started.is_set() and not hanging_vendor.finished.is_set()
    assert response.status_code == 302 and response["Location"] == back
    [message] = get_messages(response.wsgi_request)
    assert message.level_tag == "info" and "Checking Hangs now" in str(message)

    hanging_vendor.release.set()
    worker.join()
    assert "42.50 USD" in client.get(reverse("overview")).content.decode()


@pytest.mark.django_db
def test_without_a_broker_the_poll_is_not_started_and_the_card_says_so(client, users, hanging_vendor, monkeypatch):
    """The fallback: a clear message, never the vendor call in the request (that is the call that hangs)."""

    def broker_away(*args, **kwargs):
        raise OperationalError("[Errno 111] Connection refused")

    monkeypatch.setattr(background, "start", broker_away)
    provider = hanging_provider(hanging_vendor)
    client.force_login(users[ACCOUNT_MANAGER])

    response = client.post(poll_url(provider), headers=HTMX)
    assert response.status_code == 200
    card = response.content.decode()
    assert "The poll was not started: the background queue is not answering" in card and 'role="status"' in card
    assert "Checking…" not in card and "every 2s" not in card

    response = client.post(poll_url(provider), {"next": "/providers/"})
    assert response.status_code == 302 and response["Location"] == "/providers/"
    [message] = get_messages(response.wsgi_request)
    assert message.level_tag == "error" and "Hangs: The poll was not started" in str(message)

    assert not hanging_vendor.started.is_set()  # the vendor was never called from the web request
    assert not BalanceSnapshot.objects.filter(provider=provider).exists()


@pytest.mark.django_db
def test_after_30_s_without_an_answer_the_card_says_so_and_stops_asking(client, users, queued):
    provider = Provider.objects.create(name="Slow", slug="slow", kind="telephonyio")
    client.force_login(users[ACCOUNT_MANAGER])
    card = client.post(poll_url(provider), headers=HTMX).content.decode()
    assert queued == [(POLL_TASK, [provider.pk])] and "Checking…" in card
    status = reverse("messaging:provider_poll_status", args=[provider.slug])

    asked_at = timezone.now() - overview_data.POLL_WAIT + timedelta(seconds=2)
    assert client.get(status, {"since": overview_data.poll_token(asked_at)}, headers=HTMX).status_code == 204

    asked_at = timezone.now() - overview_data.POLL_WAIT - timedelta(seconds=1)
    response = client.get(status, {"since": overview_data.poll_token(asked_at)}, headers=HTMX)
    assert response.status_code == 200
    card = response.content.decode()
    assert "No answer yet; the worker may be busy." in card
    assert "Checking…" not in card and "every 2s" not in card


@pytest.mark.django_db
@pytest.mark.parametrize("since", ["", "abc", "-5", "1.5", "٣٤٥", "9" * 40, "future"])
def test_a_status_request_without_a_usable_token_gets_the_plain_card(client, users, since):
    provider = Provider.objects.create(name="Plain", slug="plain", kind="telephonyio")
    if since == "future":  # a token no Poll now can have made: it would keep the card asking forever
        since = overview_data.poll_token(timezone.now() + timedelta(hours=1))
    client.force_login(users[ACCOUNT_MANAGER])
    response = client.get(reverse("messaging:provider_poll_status", args=[provider.slug]), {"since": since})
    assert response.status_code == 200
    card = response.content.decode()
    assert 'id="card-plain"' in card and "every 2s" not in card and "poll-result" not in card


@pytest.mark.django_db
def test_the_status_fragment_needs_the_poll_permission(client, users, queued):
    provider = Provider.objects.create(name="Guarded", slug="guarded", kind="telephonyio")
    status = reverse("messaging:provider_poll_status", args=[provider.slug])
    since = {"since": overview_data.poll_token(timezone.now())}
    client.force_login(users[SUPPORT])
    assert client.post(poll_url(provider), headers=HTMX).status_code == 403
    assert client.get(status, since, headers=HTMX).status_code == 403
    assert queued == []
    client.force_login(users[ACCOUNT_MANAGER])
    assert client.post(status, since, headers=HTMX).status_code == 405
    assert client.get(reverse("messaging:provider_poll_status", args=["nope"]), since).status_code == 404


@pytest.mark.django_db
def test_the_30_s_refresh_keeps_a_waiting_card_waiting(client, users, queued):
    provider = Provider.objects.create(name="Waits", slug="waits", kind="telephonyio")
    client.force_login(users[ACCOUNT_MANAGER])
    card = client.post(poll_url(provider), headers=HTMX).content.decode()
    token = re.search(r'name="poll_pending" value="waits:(\d+)"', card).group(1)
    page = client.get(reverse("overview")).content.decode()
    assert "hx-include=\"#overview-live input[name='poll_pending']\"" in page and "Checking…" not in page

    live = client.get(reverse("overview"), {"poll_pending": f"waits:{token}"}, headers=HTMX).content.decode()
    assert "Checking…" in live and f"/poll/status/?since={token}" in live

    for stale in (f"waits:{overview_data.poll_token(timezone.now() - timedelta(minutes=1))}", "waits:junk", "nope:1"):
        live = client.get(reverse("overview"), {"poll_pending": stale}, headers=HTMX).content.decode()
        assert "Checking…" not in live

    BalanceSnapshot.objects.create(provider=provider, fetched_at=timezone.now(), amount=5, currency="USD")
    live = client.get(reverse("overview"), {"poll_pending": f"waits:{token}"}, headers=HTMX).content.decode()
    assert "Checking…" not in live and "5.00 USD" in live
