"""A real Celery worker (a separate process) against the real broker and database.

The worker reads the test database, so these tests commit (transactional_db).
The vendor simulator runs in this process and the worker reaches it over HTTP.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from messaging.models import ErrorEvent, Send, SendStatus
from messaging.traffic.sending import queue_sends

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
        return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return f"sqlite:///{db['NAME']}"


class Worker:
    """One `celery worker` process with a single prefork child."""

    def __init__(self, **env: str) -> None:
        from config.celery import app

        app.control.purge()
        environment = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "SENDWATCH_VAR_DIR": str(settings.VAR_DIR),
            "SENDWATCH_STALE_CLAIM_SECONDS": "3",
            "SENDWATCH_LOST_TASK_GRACE_SECONDS": "1",
            "SENDWATCH_VENDOR_READ_TIMEOUT": "30",
            **env,
        }
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool",
                "prefork",
                "--concurrency",
                "1",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel",
                "INFO",
                "-n",
                "test@%h",
            ],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        self.wait_for(lambda: any(" ready." in line for line in self.lines), 60, "the worker to start")

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    def pool_child(self) -> int:
        """The prefork child that runs tasks (the worker's own child process)."""
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                return int(stat.parent.name)
        raise AssertionError("the worker has no pool child")

    def wait_for(self, condition, seconds: float, what: str) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if condition():
                return
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited while waiting for {what}:\n{''.join(self.lines[-40:])}")
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; worker log:\n{''.join(self.lines[-40:])}")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def worker():
    started = Worker()
    yield started
    started.stop()


def status_of(send: Send) -> str:
    return Send.objects.values_list("status", flat=True).get(pk=send.pk)


def test_a_vendor_error_becomes_an_error_event_through_a_real_worker(worker, simulator, make_provider):
    provider = make_provider("23telecom", simulator.root)
    simulator.fail_next("23telecom", provider.slug, "INSUFFICIENT_BALANCE")
    [send] = queue_sends(provider, ["+447700900001"], "hello")
    worker.wait_for(lambda: status_of(send) == SendStatus.FAILED, 30, "the send to fail")
    event = ErrorEvent.objects.get(send=send)
    assert (event.error_code, event.category, event.http_status) == ("INSUFFICIENT_BALANCE", "balance", 402)
    assert "estimated_cost" in event.details


def test_the_sweeper_sends_what_the_broker_lost(worker, simulator, make_provider):
    provider = make_provider("textingblue", simulator.root)
    # Written without a task, as if the broker had been down at commit time.
    lost = Send.objects.create(
        provider=provider,
        recipient="+14155550100",
        sender="+14155550199",
        body="hello",
        status=SendStatus.QUEUED,
        next_attempt_at=timezone.now() - timezone.timedelta(minutes=5),
    )
    from messaging.tasks import sweep_outbox

    sweep_outbox.delay()
    worker.wait_for(lambda: status_of(lost) == SendStatus.ACCEPTED, 30, "the swept send to go out")
    assert len(simulator.messages("textingblue", provider.slug)) == 1


@pytest.mark.parametrize(
    "kind, recipient, final",
    [
        # Telnxo dedupes on X-Idempotency-Key: the sweeper resends with the same key and it completes once.
        ("telnxo", "+919876500001", SendStatus.ACCEPTED),
        # 23 Telecom has no idempotency key: the send is never resent blindly; it waits for reconciliation.
        ("23telecom", "+447700900001", SendStatus.UNKNOWN),
    ],
)
def test_a_worker_killed_mid_call_never_sends_twice(worker, simulator, make_provider, kind, recipient, final):
    provider = make_provider(kind, simulator.root)
    # The vendor takes the message, then holds its answer: the worker is killed while it waits.
    simulator.configure(kind, provider.slug, timeout_seconds=25)
    simulator.fail_next(kind, provider.slug, "timeout")
    [send] = queue_sends(provider, [recipient], "hello")
    worker.wait_for(lambda: len(simulator.messages(kind, provider.slug)) == 1, 30, "the vendor to take the message")
    assert status_of(send) == SendStatus.SENDING
    os.kill(worker.pool_child(), signal.SIGKILL)
    # The task is redelivered to a fresh child; the claim makes it a no-op.
    worker.wait_for(
        lambda: any("WorkerLostError" in line or "SIGKILL" in line for line in worker.lines),
        30,
        "the worker to notice the lost child",
    )
    # Age the claim past SENDWATCH_STALE_CLAIM_SECONDS instead of waiting for it.
    Send.objects.filter(pk=send.pk).update(claimed_at=timezone.now() - timedelta(seconds=60))
    from messaging.tasks import sweep_outbox

    sweep_outbox.delay()
    worker.wait_for(lambda: status_of(send) == final, 40, f"the send to become {final}")
    assert len(simulator.messages(kind, provider.slug)) == 1
    send.refresh_from_db()
    assert send.attempts <= 2
