"""A key, once saved, is never shown again: not in pages, htmx fragments, logs, error reports,
the audit log, the admin, task arguments, or vendor responses kept for support."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from celery.app.task import Task
from django.urls import reverse
from kombu.serialization import dumps

from messaging import tasks
from messaging.models import AuditEntry, Credential, ErrorEvent, SendStatus
from tests.vault.conftest import PASSWORD, Urls

pytestmark = pytest.mark.django_db

OLD_KEY = "sk_live_OLD_never_shown_Qw3E"
NEW_KEY = "sk_live_NEW_never_shown_Rt5Y"
NEW_SECRET = "secret_NEVER_shown_Ui7O"
SECRETS = (OLD_KEY, NEW_KEY, NEW_SECRET)


def assert_hidden(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"a key shows in {where}"


def full_rotation(client, provider, simulator, pages: list) -> None:
    """Add, verify (htmx and plain), activate, send through the fallback, roll back, revoke; keep every response."""
    urls = Urls(provider)
    get = lambda url, **kw: pages.append((url, client.get(url, **kw)))  # noqa: E731
    post = lambda url, data=None, **kw: pages.append((url, client.post(url, data or {}, follow=True, **kw)))  # noqa: E731
    simulator.configure(provider.kind, provider.slug, valid_keys=[OLD_KEY, NEW_KEY])
    get(reverse("messaging:credential_index"))
    get(urls.list)
    get(urls.add)
    post(urls.add, {"key": NEW_KEY, "secret": NEW_SECRET, "label": "next"})
    post(urls.add, {"key": "another_key_for_the_error_page", "secret": NEW_SECRET})  # refused: rotation in progress
    pending = Credential.objects.get(provider=provider, state="pending")
    pages.append(("verify (htmx)", client.post(urls.verify(pending), HTTP_HX_REQUEST="true")))
    post(urls.verify(pending))
    post(urls.activate(pending), {"grace": "3600"})
    get(urls.list)
    retired = Credential.objects.get(provider=provider, state="retired")
    get(urls.revoke(retired))
    post(urls.rollback)
    active = Credential.objects.get(provider=provider, state="active")
    get(urls.revoke(active))
    post(urls.revoke(active), {"confirmation": "wrong"})
    post(urls.revoke(active), {"confirmation": active.hint})
    get(urls.list)
    get("/")


def test_no_page_or_htmx_fragment_and_no_log_line_ever_shows_a_key(simulator, make_provider, key_admin, caplog):
    caplog.set_level(logging.DEBUG)
    provider = make_provider("textingblue", simulator.root, key=OLD_KEY)
    pages: list = []
    full_rotation(key_admin, provider, simulator, pages)

    assert len(pages) >= 15
    for url, response in pages:
        assert response.status_code in (200, 400), url
        assert_hidden(response.content.decode(), f"the page {url}")
        assert_hidden(json.dumps(dict(response.headers)), f"the headers of {url}")
    # The flow really ran (so the check above looked at real pages).
    assert set(Credential.objects.filter(provider=provider).values_list("state", flat=True)) == {"revoked"}
    assert any("Key accepted" in r.content.decode() for _, r in pages)

    records = caplog.records
    assert records, "logging was captured"
    for record in records:
        text = f"{record.getMessage()} {record.args!r} {record.exc_text or ''} {getattr(record, 'request', '')}"
        assert_hidden(text, f"the log record {record.name}: {record.msg}")


def test_the_audit_log_holds_hints_and_fingerprints_only(simulator, make_provider, key_admin):
    provider = make_provider("telephonyio", simulator.root, key=OLD_KEY)
    full_rotation(key_admin, provider, simulator, [])
    entries = list(AuditEntry.objects.values())
    assert len(entries) >= 5
    assert_hidden(json.dumps(entries, default=str), "the audit log")
    assert {e["details"].get("hint") for e in entries if e["action"].startswith("credential.")} == {
        OLD_KEY[-4:],
        NEW_KEY[-4:],
    }


def test_the_admin_shows_no_key_and_no_ciphertext(simulator, make_provider, client, admin_user):
    provider = make_provider("8x8", simulator.root, key=OLD_KEY)
    credential = Credential.objects.get(provider=provider)
    client.force_login(admin_user)
    for url in (
        reverse("admin:messaging_credential_changelist"),
        reverse("admin:messaging_credential_change", args=[credential.pk]),
    ):
        page = client.get(url).content.decode()
        assert credential.hint in page
        assert_hidden(page, url)
        assert credential.ciphertext not in page


def test_task_arguments_and_broker_payloads_carry_ids_only(simulator, make_provider, key_admin, send_now, monkeypatch):
    sent = []
    real_apply_async = Task.apply_async

    def recording_apply_async(self, args=None, kwargs=None, **options):
        sent.append((self.name, args, kwargs))
        return real_apply_async(self, args, kwargs, **options)

    monkeypatch.setattr(Task, "apply_async", recording_apply_async)
    provider = make_provider("telnxo", simulator.root, key=OLD_KEY)
    full_rotation(key_admin, provider, simulator, [])
    Credential.objects.filter(provider=provider, state="revoked").update(state="retired")
    Credential.objects.filter(provider=provider, hint=NEW_KEY[-4:]).update(state="active", grace_until=None)
    send = send_now(provider)
    assert send.status == SendStatus.ACCEPTED
    tasks.revoke_expired_credentials.delay()
    tasks.sweep_outbox.delay()

    names = [name for name, _, _ in sent]
    assert "messaging.tasks.deliver_sends" in names and "messaging.tasks.revoke_expired_credentials" in names
    for name, args, kwargs in sent:
        _, _, payload = dumps({"args": args, "kwargs": kwargs}, serializer="json")
        assert_hidden(str(payload), f"the broker payload of {name}")
        if name == "messaging.tasks.deliver_sends":
            assert list(args) == [[send.pk]]


class EchoingVendor(BaseHTTPRequestHandler):
    """A vendor that answers every call with 401 and the caller's key in the body (8x8 and Telnxo style)."""

    kind = "8x8"

    def _answer(self):
        auth = self.headers.get("Authorization", "") or self.headers.get("X-Api-Key", "")
        key = auth.removeprefix("Bearer ").strip()
        if self.server.kind == "8x8":
            body = {"code": 1200, "message": f"Unknown key {key}", "errorId": key, "timestamp": key}
        else:
            body = {
                "success": False,
                "error": "invalid_api_key",
                "message": f"Bad key {key}",
                "code": 401,
                "field": key,
            }
        payload = json.dumps(body).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def echoing_vendor():
    servers = []

    def start(kind: str) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), EchoingVendor)
        server.kind = kind
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("kind", ["8x8", "telnxo"])
def test_a_vendor_echoing_the_key_is_scrubbed_before_anything_is_stored(
    kind, simulator, make_provider, echoing_vendor, send_now, key_admin, caplog
):
    caplog.set_level(logging.DEBUG)
    provider = make_provider(kind, simulator.root, key=OLD_KEY)
    provider.base_url = echoing_vendor(kind)
    provider.save(update_fields=["base_url"])
    # As if the key had been verified against this (echoing) vendor: keys only go to the host they were verified for.
    Credential.objects.filter(provider=provider).update(verified_origin=provider.api_origin)

    send = send_now(provider)
    assert send.status == SendStatus.FAILED
    event = ErrorEvent.objects.get(send=send)
    assert event.category == "auth"
    assert "[REDACTED]" in event.raw_body  # the vendor did echo it
    for text, where in (
        (event.raw_body, "ErrorEvent.raw_body"),
        (event.message, "ErrorEvent.message"),
        (json.dumps(event.details), "ErrorEvent.details"),
        (event.request_id, "ErrorEvent.request_id"),
        (send.status_reason, "Send.status_reason"),
    ):
        assert_hidden(text, where)

    # Verifying a new key against the same vendor: the page and the stored result stay clean too.
    urls = Urls(provider)
    key_admin.post(urls.add, {"key": NEW_KEY})
    pending = Credential.objects.get(provider=provider, state="pending")
    fragment = key_admin.post(urls.verify(pending), HTTP_HX_REQUEST="true").content.decode()
    assert "Refused" in fragment
    assert_hidden(fragment, "the verify fragment")
    pending.refresh_from_db()
    assert pending.verify_ok is False
    assert_hidden(pending.verify_message, "Credential.verify_message")
    assert_hidden(json.dumps(list(AuditEntry.objects.values("details"))), "the audit log")
    for record in caplog.records:
        assert_hidden(f"{record.getMessage()} {record.args!r}", f"the log record {record.name}")


@pytest.fixture
def error_reports(settings):
    """The error reports Django would mail to the admins (text and HTML) for every uncaught exception."""
    import sys

    from django.core.signals import got_request_exception
    from django.views.debug import ExceptionReporter

    settings.DEBUG = False  # production: the reporter filter is active (with DEBUG on Django shows everything)
    reports: list[str] = []

    def build(sender, request, **kwargs):
        reporter = ExceptionReporter(request, *sys.exc_info(), is_email=True)
        reports.extend([reporter.get_traceback_text(), reporter.get_traceback_html()])

    got_request_exception.connect(build)
    yield reports
    got_request_exception.disconnect(build)


def test_an_error_report_hides_the_posted_key_the_local_variables_and_the_master_keys(
    simulator, make_provider, key_admin, settings, monkeypatch, error_reports, caplog
):
    provider = make_provider("23telecom", simulator.root, key=OLD_KEY)

    def broken_audit(*args, **kwargs):
        raise RuntimeError("the audit table is gone")

    monkeypatch.setattr("messaging.vault.keys.audit.record", broken_audit)
    key_admin.raise_request_exception = False
    response = key_admin.post(Urls(provider).add, {"key": NEW_KEY, "secret": NEW_SECRET, "label": "x"})
    assert response.status_code == 500
    assert_hidden(response.content.decode(), "the 500 page")
    assert len(error_reports) == 2
    for report in error_reports:
        # It is the full report: the failing call, the POST data (masked), local variables.
        assert "the audit table is gone" in report and "add_pending" in report
        assert "label" in report and "********************" in report
        assert_hidden(report, "the error report")
        for item in settings.SENDWATCH_CREDENTIAL_KEYS:
            assert item.partition(":")[2] not in report
    for record in caplog.records:
        assert_hidden(f"{record.getMessage()} {record.exc_text or ''}", f"the log record {record.name}")


def test_an_error_report_hides_the_re_authentication_password(users, client, monkeypatch, error_reports):
    client.force_login(users["Admin"])

    def broken(*args, **kwargs):
        raise RuntimeError("audit log down")

    # Fails after the password was checked, while the view still holds it.
    monkeypatch.setattr("messaging.dashboard.keys.audit.record", broken)
    client.raise_request_exception = False
    response = client.post(reverse("messaging:reauth"), {"password": PASSWORD})
    assert response.status_code == 500
    assert error_reports and all("audit log down" in report for report in error_reports)
    for report in error_reports:
        assert PASSWORD not in report


def report_of(call) -> str:
    """The production error report (DEBUG off, no request, as a task or command would produce) of ``call``."""
    import sys

    from django.views.debug import ExceptionReporter

    try:
        call()
    except RuntimeError:
        exc_info = sys.exc_info()
    else:
        raise AssertionError("the call was expected to fail")
    reporter = ExceptionReporter(None, *exc_info, is_email=True)
    text = reporter.get_traceback_text() + reporter.get_traceback_html()
    assert "Local vars" in text or "Local Vars" in text
    return text


def test_the_services_and_the_vault_hide_their_local_variables_outside_any_view(
    simulator, make_provider, settings, monkeypatch
):
    from messaging.vault import keys as credentials
    from messaging.vault.crypto import seal
    from providers import ApiCredential

    settings.DEBUG = False
    provider = make_provider("telnxo", simulator.root, key=OLD_KEY)

    def broken(*args, **kwargs):
        raise RuntimeError("down")

    with monkeypatch.context() as patch:
        patch.setattr("messaging.vault.keys.audit.record", broken)
        text = report_of(lambda: credentials.add_pending(provider, NEW_KEY, NEW_SECRET))
    assert "add_pending" in text
    assert_hidden(text, "the report of add_pending")

    monkeypatch.setattr("messaging.vault.crypto.Fernet.encrypt", broken)
    text = report_of(lambda: seal(ApiCredential(NEW_KEY, NEW_SECRET)))
    assert "seal" in text
    assert_hidden(text, "the report of vault.seal")
