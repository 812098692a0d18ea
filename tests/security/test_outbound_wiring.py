"""The outbound guard (providers/outbound.py) wired into vendor calls and webhook deliveries.

No network beyond loopback: names resolve only where a test says so (the suite's
own resolver knows no names at all, tests/conftest.py), and every connect is
recorded; one to a non-loopback address is refused by the test and fails it
unless the test expected exactly that.
"""

from __future__ import annotations

import http.server
import ipaddress
import json
import socket
import threading
from dataclasses import dataclass, field

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from messaging.alerts import lifecycle, notify
from messaging.alerts.balances import poll_provider
from messaging.models import Alert, AlertEvent, ErrorEvent, Notification, Provider, Send, WebhookEndpoint
from messaging.traffic.sending import deliver, queue_sends
from messaging.vault.adapters import adapter_for
from providers.outbound import OutboundRefused
from tests.conftest import store_key

pytestmark = pytest.mark.django_db

METADATA = "169.254.169.254"
# Looks like a vendor key: if a receiver's answer were kept, this is what would leak.
SECRET_BODY = "sk_live_51HxLeakedReceiverToken0123456789abcdef"


# ---------------------------------------------------------------------------
# Resolver and connect guard
# ---------------------------------------------------------------------------


@dataclass
class Net:
    answers: dict[str, list[list[str]]] = field(default_factory=dict)
    connects: list[tuple] = field(default_factory=list)
    blocked: list[tuple] = field(default_factory=list)

    def answer(self, name: str, *rounds: list[str]) -> None:
        """``name`` answers the first round at the first lookup, then the next; the last repeats."""
        self.answers[name.lower()] = [list(r) for r in rounds]

    def non_loopback_connects(self) -> list[tuple]:
        return [c for c in self.connects if isinstance(c, tuple) and not _loopback(c[0])]


def _loopback(host: str) -> bool:
    return ipaddress.ip_address(host.split("%")[0]).is_loopback


@pytest.fixture(autouse=True)
def net(monkeypatch):
    state = Net()
    suite_getaddrinfo = socket.getaddrinfo  # tests/conftest.py: IP literals and localhost only
    real_connect = socket.socket.connect

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        name = host.decode() if isinstance(host, bytes) else host
        rounds = state.answers.get(str(name).lower().rstrip("."))
        if rounds is None:
            return suite_getaddrinfo(host, port, family, type, proto, flags)
        current = rounds.pop(0) if len(rounds) > 1 else rounds[0]
        return [
            (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, int(port or 0)))
            for address in current
        ]

    def connect(sock, address):
        state.connects.append(address)
        if isinstance(address, tuple) and not _loopback(address[0]):
            state.blocked.append(address)
            raise ConnectionRefusedError(111, "blocked by the test: not a loopback address")
        return real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    yield state
    assert not state.blocked, f"tried to connect to non-loopback {state.blocked}"


# ---------------------------------------------------------------------------
# A loopback listener that answers with a chosen status, reason, body and Location
# ---------------------------------------------------------------------------


class Listener:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, bytes]] = []
        self.status, self.reason, self.body, self.location = 200, None, b'{"ok": true}', None
        listener = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                listener.seen.append((self.command, self.path, self.rfile.read(length) if length else b""))
                self.send_response(listener.status, listener.reason)
                if listener.location:
                    self.send_header("Location", listener.location)
                self.send_header("X-Debug-Token", SECRET_BODY)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(listener.body)))
                self.end_headers()
                self.wfile.write(listener.body)

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.root = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=2)


@pytest.fixture
def listener():
    running = Listener()
    yield running
    running.close()


def provider_at(base_url: str, kind: str = "23telecom", slug: str = "t23") -> Provider:
    provider = Provider.objects.create(name=f"{slug} account", slug=slug, kind=kind, base_url=base_url)
    store_key(provider, "sk_test_0123456789abcdef")
    return provider


# ---------------------------------------------------------------------------
# Vendor calls
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "answers", "allow", "says"),
    [
        ("https://sms.vendor-internal.test/api/v1", ["10.20.30.40"], [], "10.20.30.40, a private network address"),
        ("https://sms.vendor-internal.test/api/v1", ["127.0.0.1"], [], "127.0.0.1, a loopback address"),
        (f"http://{METADATA}/latest/meta-data", None, [], "cloud metadata address"),
        # Allow-listing the name (or the address) never opens the metadata service.
        ("https://sms.vendor-internal.test/api/v1", [METADATA], ["sms.vendor-internal.test"], "metadata"),
        (f"http://{METADATA}/latest/meta-data", None, [METADATA], "cloud metadata address"),
    ],
)
def test_balance_poll_of_a_refused_address_records_an_unreachable_error_and_connects_nowhere(
    base_url, answers, allow, says, net, settings
):
    if answers:
        net.answer("sms.vendor-internal.test", answers)
    settings.SENDWATCH_ALLOW_PRIVATE_HOSTS = allow
    provider = provider_at(base_url)

    snapshot = poll_provider(provider)  # no exception escapes

    assert net.connects == []
    assert (snapshot.ok, snapshot.error_code, snapshot.details["category"]) == (False, "connection_failed", "network")
    assert "the address was refused" in snapshot.details["message"] and says in snapshot.details["message"]
    event = ErrorEvent.objects.get(provider=provider)
    assert (event.source, event.error_code, event.category, event.http_status) == (
        "balance",
        "connection_failed",
        "network",
        None,
    )
    assert "refused" in event.message
    provider.refresh_from_db()
    assert provider.status == "unreachable"


def test_send_to_a_refused_address_is_an_unreachable_error_and_nothing_is_sent(net):
    net.answer("sms.vendor-internal.test", ["192.168.1.20"])
    provider = provider_at("https://sms.vendor-internal.test/api/v1")
    (send,) = queue_sends(provider, ["+447700900001"], "Your code is 123456")

    deliver([send.pk])  # no exception escapes

    assert net.connects == []
    send.refresh_from_db()
    assert send.status != "accepted" and send.vendor_message_id in ("", None)
    event = ErrorEvent.objects.get(send=send)
    assert (event.error_code, event.category) == ("connection_failed", "network")
    assert "the address was refused" in event.message and "192.168.1.20" in event.message
    # Nothing can have arrived: retried later, not held for reconciliation.
    assert event.retryable and send.status == "queued"


def test_simulator_on_loopback_is_reached_when_allow_listed_and_refused_when_not(
    simulator, make_provider, settings, net
):
    provider = make_provider("23telecom", simulator.root, slug="t23")

    assert settings.SENDWATCH_ALLOW_PRIVATE_HOSTS == ["127.0.0.1", "localhost"]  # tests/conftest.py
    assert poll_provider(provider).ok is True
    (first,) = queue_sends(provider, ["+447700900001"], "Allowed")
    deliver([first.pk])
    assert Send.objects.get(pk=first.pk).status == "accepted"
    assert len(simulator.messages("23telecom", "t23")) == 1

    settings.SENDWATCH_ALLOW_PRIVATE_HOSTS = []  # read at call time: no restart needed
    connects = len(net.connects)
    snapshot = poll_provider(provider)
    (second,) = queue_sends(provider, ["+447700900002"], "Refused")
    deliver([second.pk])

    assert (snapshot.ok, snapshot.error_code) == (False, "connection_failed")
    assert "127.0.0.1 is a loopback address" in snapshot.details["message"]
    assert Send.objects.get(pk=second.pk).status != "accepted"
    assert ErrorEvent.objects.get(send=second).error_code == "connection_failed"
    assert len(net.connects) == connects  # not even a connection was opened
    assert len(simulator.messages("23telecom", "t23")) == 1  # the refused send never reached it


@pytest.mark.parametrize(
    "target", [f"http://{METADATA}/latest/meta-data/", "http://10.0.0.1/", "http://localhost:{port}/"]
)
def test_redirect_from_an_allow_listed_listener_to_a_refused_address_is_refused_for_vendor_calls(
    target, listener, net, settings
):
    settings.SENDWATCH_ALLOW_PRIVATE_HOSTS = ["127.0.0.1"]
    listener.status, listener.location = 302, target.format(port=listener.port)
    provider = provider_at(f"{listener.root}/api/v1")

    snapshot = poll_provider(provider)

    # Vendor calls never follow redirects (the key only goes to the base URL): the 302 is the answer.
    assert snapshot.ok is False and snapshot.details["http_status"] == 302
    assert [path for _, path, _ in listener.seen] == ["/api/v1/user/balance"]
    assert net.connects == [("127.0.0.1", listener.port)]
    # And the adapter's session guards every hop for a caller that does follow them.
    adapter = adapter_for(provider)
    with pytest.raises(OutboundRefused) as refused:
        adapter.session.get(f"{listener.root}/elsewhere", timeout=5)
    assert refused.value.code == "address"
    assert [path for _, path, _ in listener.seen] == ["/api/v1/user/balance", "/elsewhere"]
    assert net.non_loopback_connects() == []


# ---------------------------------------------------------------------------
# Webhooks
# ---------------------------------------------------------------------------


def open_alert(provider: Provider | None = None) -> Alert:
    provider = provider or Provider.objects.create(name="23 EU", slug="t23-eu", kind="23telecom")
    return lifecycle.raise_condition(provider, Alert.Kind.UNREACHABLE, Alert.Severity.WARNING, "23 EU: unreachable")


@pytest.mark.parametrize(
    ("url", "allow", "says"),
    [
        (f"http://{METADATA}/latest/meta-data/", [], "cloud metadata address"),
        (f"http://{METADATA}/latest/meta-data/", [METADATA], "cloud metadata address"),  # never allow-listable
        ("https://hooks.internal.test/sendwatch", [], "10.1.2.3, a private network address"),
        ("http://127.0.0.1:8080/hook", [], "loopback"),
        ("http://localhost:8080/hook", ["127.0.0.1"], "loopback"),  # the name is not on the list
        ("http://[::ffff:169.254.169.254]/", [], "metadata"),
    ],
)
def test_webhook_to_a_refused_address_is_refused_at_creation(url, allow, says, net, settings):
    net.answer("hooks.internal.test", ["10.1.2.3"])
    settings.SENDWATCH_ALLOW_PRIVATE_HOSTS = allow

    with pytest.raises(ValidationError) as refused:
        notify.create_webhook(url)
    assert refused.value.code == "refused" and says in refused.value.messages[0]
    with pytest.raises(CommandError, match="refused") as command:
        call_command("create_webhook", url)
    assert says in str(command.value)
    assert not WebhookEndpoint.objects.exists()
    assert net.connects == []


def test_webhook_creation_accepts_allow_listed_loopback_and_public_or_unresolvable_hosts(net, settings):
    net.answer("hooks.public.test", ["93.184.216.34"])
    settings.SENDWATCH_ALLOW_PRIVATE_HOSTS = ["127.0.0.1"]
    notify.create_webhook("http://127.0.0.1:8080/hook")
    notify.create_webhook("https://hooks.public.test/sendwatch")
    notify.create_webhook("https://hooks.example.com/sendwatch")  # does not resolve now: checked at delivery
    assert WebhookEndpoint.objects.count() == 3
    assert net.connects == []


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (f"http://{METADATA}/latest/meta-data/", "cloud metadata address"),
        ("https://hooks.rebind.test/sendwatch", "10.9.8.7, a private network address"),
        # Not the URL itself: its path may be a secret (Slack's is).
        ("https://ops:pw123@hooks.example.com/services/T0/B0/tokenpath", "the URL is not allowed (userinfo)"),
    ],
)
def test_webhook_row_pointing_at_a_refused_address_fails_at_delivery_without_connecting(url, says, net):
    # Public when the endpoint was created, private at delivery (DNS rebinding), or a row from before the guard.
    net.answer("hooks.rebind.test", ["93.184.216.34"], ["10.9.8.7"])
    endpoint, _ = notify.create_webhook("https://hooks.rebind.test/sendwatch")
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=url)
    alert = open_alert()

    report = notify.deliver_due()

    assert net.connects == []
    notification = Notification.objects.get(alert_event__alert=alert, channel="webhook")
    assert (report.failed, notification.state, notification.attempts) == (1, "failed", 1)  # not retried
    assert notification.last_error.startswith("refused: ") and says in notification.last_error
    assert "pw123" not in notification.last_error and "tokenpath" not in notification.last_error


def test_failed_webhook_delivery_keeps_status_and_reason_never_the_body(listener, client, admin_user, net):
    listener.status, listener.reason, listener.body = 500, f"Oops {SECRET_BODY}", f"token={SECRET_BODY}".encode()
    notify.create_webhook(f"{listener.root}/hooks/sendwatch")
    alert = open_alert()

    report = notify.deliver_due()

    assert report.retrying == 1 and len(listener.seen) == 1
    notification = Notification.objects.get(alert_event__alert=alert, channel="webhook")
    assert notification.last_error == "HTTP 500 Internal Server Error"
    stored = json.dumps(
        [
            *Notification.objects.values(),
            *WebhookEndpoint.objects.values(),
            *AlertEvent.objects.values(),
            *Alert.objects.values(),
        ],
        default=str,
    )
    assert SECRET_BODY not in stored
    client.force_login(admin_user)
    page = client.get(reverse("messaging:alert_detail", args=[alert.pk]))
    html = page.content.decode()
    assert page.status_code == 200 and "HTTP 500 Internal Server Error" in html
    assert SECRET_BODY not in html
    assert net.non_loopback_connects() == []


def test_alert_page_shows_only_the_status_of_rows_that_kept_a_body(client, admin_user):
    notify.create_webhook("https://hooks.example.com/sendwatch")
    alert = open_alert()
    Notification.objects.filter(channel="webhook").update(
        state="failed", attempts=6, last_error=f"HTTP 503: {{'token': '{SECRET_BODY}'}}"
    )
    client.force_login(admin_user)
    html = client.get(reverse("messaging:alert_detail", args=[alert.pk])).content.decode()
    assert "HTTP 503 Service Unavailable" in html and SECRET_BODY not in html


def test_webhook_redirect_is_not_followed(listener, net):
    listener.status, listener.location = 307, f"http://{METADATA}/latest/meta-data/"
    notify.create_webhook(f"{listener.root}/hooks/sendwatch")
    alert = open_alert()

    notify.deliver_due()

    notification = Notification.objects.get(alert_event__alert=alert, channel="webhook")
    assert notification.last_error == "HTTP 307 Temporary Redirect (redirects are not followed)"
    assert net.connects == [("127.0.0.1", listener.port)]


def test_http_failure_text_for_unknown_statuses():
    assert notify.http_failure(599) == "HTTP 599 non-standard status"
    assert notify.shown_error("could not POST: ConnectionError") == "could not POST: ConnectionError"
    assert notify.shown_error("HTTP 500:") == "HTTP 500 Internal Server Error"
