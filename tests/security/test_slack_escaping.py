"""Slack-compatible webhook text escapes &, < and > in every value; the structured JSON stays plain.

A vendor's error code reaches the alert title (a refused key: "...refused the API key (<code>)"),
and a reported vendor answer is written by whoever can post to the ingest API. Unescaped,
``<!channel>`` would ping the whole channel and ``<https://…|click>`` would be a link.
"""

from __future__ import annotations

import http.server
import json
import threading
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from messaging.alerts import lifecycle, notify
from messaging.models import Alert, AlertEvent, Provider
from messaging.vault import tokens

pytestmark = pytest.mark.django_db

CODE = "<!channel> <https://evil.example/login|click>"


@pytest.fixture
def receiver():
    """A loopback webhook receiver (127.0.0.1 is allow-listed for the suite, tests/conftest.py)."""
    bodies: list[bytes] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_POST(self):
            bodies.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/slack", bodies
    server.shutdown()
    server.server_close()
    thread.join(timeout=2)


def ingest_refused_key(client, django_capture_on_commit_callbacks) -> Alert:
    """POST a 23 Telecom 401 whose error code is ``CODE`` to the ingest API; the alert it opens."""
    provider = Provider.objects.create(name="23 EU", slug="t23", kind="23telecom")
    _, token = tokens.create_token("slack test", providers=tokens.ALL_PROVIDERS)
    body = json.dumps({"status": False, "error_code": CODE, "description": "Key refused & <b>bold</b>"})
    event = {
        "http_status": 401,
        "body": body,
        "recipient": "+447700900001",
        "occurred_at": (timezone.now() - timedelta(minutes=1)).isoformat(),
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("messaging:ingest_events"),
            data=json.dumps({"provider": provider.slug, "events": [event]}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
    assert response.status_code == 200, response.content
    assert response.json()["results"][0]["provider_code"] == CODE
    return Alert.objects.get(provider=provider, kind=Alert.Kind.CREDENTIAL_FAILED)


def assert_escaped(data: dict) -> None:
    text = data["text"]
    assert "&lt;!channel&gt;" in text
    assert "&lt;https://evil.example/login|click&gt;" in text
    assert "<!channel>" not in text and "<https://evil.example" not in text
    # The one link left is Sendwatch's own.
    assert text.count("<") == 1 and text.endswith("|Open in Sendwatch>")
    # The structured fields are plain JSON: the code exactly as the vendor sent it.
    assert data["details"]["error_code"] == CODE
    assert CODE in data["title"]


def test_ingested_401_code_is_escaped_in_slack_text_and_raw_in_the_json(
    client, django_capture_on_commit_callbacks, receiver, monkeypatch
):
    url, bodies = receiver
    notify.create_webhook(url)
    monkeypatch.setattr(notify, "enqueue", lambda ids: None)  # delivered below, not through the broker

    alert = ingest_refused_key(client, django_capture_on_commit_callbacks)
    notify.deliver_due()

    opened = alert.events.get(kind=AlertEvent.Kind.OPENED)
    assert_escaped(notify.payload(opened))
    (delivered,) = bodies
    assert_escaped(json.loads(delivered))
    assert json.dumps(CODE)[1:-1].encode() in delivered  # the raw code, JSON-encoded, in the generic fields


def test_resolve_note_is_escaped_too(client, django_capture_on_commit_callbacks, admin_user):
    alert = ingest_refused_key(client, django_capture_on_commit_callbacks)
    lifecycle.resolve(alert, admin_user, note="fixed & rotated <!here> <https://x.example|y>")

    data = notify.payload(alert.events.get(kind=AlertEvent.Kind.RESOLVED))

    assert "fixed &amp; rotated &lt;!here&gt; &lt;https://x.example|y&gt;" in data["text"]
    assert "<!here>" not in data["text"]
    assert data["note"] == "fixed & rotated <!here> <https://x.example|y>"


def test_slack_escape_is_only_the_three_characters():
    assert notify.slack_escape("a & b <c> &amp; \"d\" 'e' *f*") == "a &amp; b &lt;c&gt; &amp;amp; \"d\" 'e' *f*"
    assert notify.slack_escape(42) == "42"
