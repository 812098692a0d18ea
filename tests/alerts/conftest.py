"""Fixtures for the balance, alert and notification tests."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from django.utils import timezone

from messaging.models import BalanceSnapshot, Send
from messaging.traffic.sending import queue_sends


class Sim:
    """The simulator's control API, with the calls these tests need beyond the shared fixture."""

    def __init__(self, control):
        self.control = control
        self.root = control.root

    def configure(self, provider, **config):
        return self.control.configure(provider.kind, provider.slug, **config)

    def topup(self, provider, amount=None):
        body = {} if amount is None else {"amount": amount}
        response = requests.post(f"{self.root}/_sim/{provider.kind}/{provider.slug}/topup", json=body, timeout=5)
        response.raise_for_status()

    def fail_next(self, provider, code, *, count=1, scope="balance", status=None):
        body = {"code": code, "count": count, "scope": scope}
        if status is not None:
            body["status"] = status
        response = requests.post(f"{self.root}/_sim/{provider.kind}/{provider.slug}/fail_next", json=body, timeout=5)
        response.raise_for_status()


@pytest.fixture
def sim(simulator):
    return Sim(simulator)


@pytest.fixture
def send_now(eager_celery, django_capture_on_commit_callbacks):
    """Queue sends and run what their commits trigger (delivery, alerts, notifications), as workers would."""

    def run(provider, count=1, body="Your code is 123456"):
        recipients = [f"+4477009{n:05d}" for n in range(count)]
        sends = []
        for recipient in recipients:
            with django_capture_on_commit_callbacks(execute=True):
                sends += queue_sends(provider, [recipient], body)
        return [Send.objects.get(pk=s.pk) for s in sends]

    return run


@pytest.fixture
def watcher(django_user_model):
    return django_user_model.objects.create_user("ops", "ops@example.com", "a-long-test-password")


def history(provider, points, *, now=None, **fields):
    """Backdated snapshots: ``points`` is [(hours_ago, amount_or_used)]; quota vendors pass limit=..."""
    now = now or timezone.now()
    rows = []
    for hours_ago, value in points:
        quota = "limit" in fields
        rows.append(
            BalanceSnapshot(
                provider=provider,
                fetched_at=now - timedelta(hours=hours_ago),
                amount=None if quota else value,
                used=value if quota else None,
                currency="messages" if quota else "EUR",
                **fields,
            )
        )
    return BalanceSnapshot.objects.bulk_create(rows)


class Receiver:
    """A tiny webhook receiver on an ephemeral port; answers with the queued statuses, then 200."""

    def __init__(self):
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        # Set hang = True to hold every answer until close(): a receiver that never answers in time.
        self.hang = False
        self.released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({"headers": dict(self.headers), "body": body, "path": self.path})
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                if receiver.hang:
                    receiver.released.wait(timeout=30)
                payload = json.dumps({"ok": status < 300}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/sendwatch"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()
