"""Whatever bytes a vendor answers with, every writer records its error event and none raises.

A local "vendor" answers every request with 500 and the bytes hypothesis draws (NUL, invalid
UTF-8, lone surrogates escaped in JSON, a megabyte); each path that writes vendor answers
— a send, a balance poll, a key verification, an ingested event — must store the error event.
On PostgreSQL (CI) an uncleaned NUL or lone surrogate raises DataError, so these fail there
if any writer skips the cleaner.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from messaging.alerts.balances import poll_provider
from messaging.models import Credential, ErrorEvent, Provider, Send
from messaging.traffic import ingest, sending
from messaging.traffic.verify import verify
from tests.conftest import store_key

pytestmark = pytest.mark.django_db

NASTY_BYTES = st.one_of(
    st.binary(max_size=2048),
    st.builds(lambda text: text.encode("utf-8", "surrogatepass"), st.text(max_size=200)),  # raw lone surrogates
    st.builds(lambda text: json.dumps({"error": {"code": text, "message": text}}).encode(), st.text(max_size=100)),
    st.just(b'{"error": {"code": "E\\u0000", "message": "bad \\ud800 half"}}'),
    st.just(b"\x00" * 10 + b"x" * (1024 * 1024)),
)
FUZZ = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


class Vendor:
    """Answers every request with ``status`` and ``body``."""

    def __init__(self) -> None:
        self.body = b""
        self.status = 500
        vendor = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                self.send_response(vendor.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(vendor.body)))
                self.end_headers()
                self.wfile.write(vendor.body)

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def vendor():
    server = Vendor()
    yield server
    server.close()


@pytest.fixture
def provider(vendor):
    provider = Provider.objects.create(
        name="Garbage Telephony", slug="garbage", kind="telephonyio", base_url=vendor.url
    )
    store_key(provider, "sk_test_0123456789abcdef")
    return provider


@FUZZ
@given(body=NASTY_BYTES)
def test_a_balance_poll_records_any_answer(vendor, provider, body):
    vendor.body = body
    before = ErrorEvent.objects.filter(source="balance").count()
    snapshot = poll_provider(provider)
    assert not snapshot.ok
    assert ErrorEvent.objects.filter(source="balance").count() == before + 1


@FUZZ
@given(body=NASTY_BYTES)
def test_a_key_verification_records_any_answer(vendor, provider, body):
    vendor.body = body
    credential = Credential.objects.get(provider=provider)
    before = ErrorEvent.objects.filter(source="verify").count()
    result = verify(credential)
    assert not result.ok
    assert ErrorEvent.objects.filter(source="verify").count() == before + 1


@FUZZ
@given(body=NASTY_BYTES)
def test_a_send_records_any_answer(vendor, provider, body):
    vendor.body = body
    # Examples share the database: close the breaker the earlier 500s opened.
    Provider.objects.filter(pk=provider.pk).update(breaker_failures=0, breaker_open_until=None)
    [send] = sending.queue_sends(provider, ["+447700900001"], "Your code is 123456")
    sending.deliver([send.pk])
    send = Send.objects.get(pk=send.pk)
    assert send.attempts == 1
    assert ErrorEvent.objects.filter(send=send, source="send").count() == 1


@FUZZ
@given(body=st.text(max_size=500), code=st.text(max_size=50))
def test_an_ingested_event_records_any_answer(provider, body, code):
    raw = json.dumps(
        {
            "provider": provider.slug,
            "events": [
                {"http_status": 500, "body": body + json.dumps({"error": {"code": code}}), "recipient": "+447700900001"}
            ],
        }
    )
    before = ErrorEvent.objects.filter(source="ingest").count()
    try:
        result = ingest.ingest(raw)
    except ingest.IngestError as refused:
        # Refused input is answered with its reasons (NUL in a field the API forbids), never a crash.
        assert refused.status == 400
        return
    assert result["recorded"] == 1
    assert ErrorEvent.objects.filter(source="ingest").count() == before + 1
