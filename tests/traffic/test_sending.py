"""The send pipeline against the vendor simulator over real HTTP, tasks run inline."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from messaging.models import Credential, ErrorEvent, ErrorRollup, Provider, Send, SendAttempt, SendStatus
from messaging.traffic import breaker, sending
from messaging.traffic.sending import SendRejected, queue_sends

pytestmark = pytest.mark.django_db

KINDS = ["23telecom", "telephonyio", "8x8", "telnxo", "textingblue"]


@pytest.fixture
def send_now(eager_celery, django_capture_on_commit_callbacks):
    """Queue sends and run what commits would trigger, as a worker would."""

    def run(provider, recipients=("+447700900001",), body="Your code is 123456", **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            sends = queue_sends(provider, list(recipients), body, **kwargs)
        return [Send.objects.get(pk=s.pk) for s in sends]

    return run


@pytest.mark.parametrize("kind", KINDS)
def test_a_send_goes_out_once_and_records_the_vendor_message_id(kind, simulator, make_provider, send_now):
    provider = make_provider(kind, simulator.root)
    [send] = send_now(provider)
    assert send.status == SendStatus.ACCEPTED, send.status_reason
    assert send.vendor_message_id
    assert send.attempts == 1 and send.http_status in (200, 201, 202)
    assert send.latency_ms is not None
    [attempt] = SendAttempt.objects.filter(send=send)
    assert (attempt.outcome, attempt.http_status) == (SendStatus.ACCEPTED, send.http_status)
    vendor_ids = [m.get("id") or m.get("message_id") or m.get("umid") for m in simulator.messages(kind, provider.slug)]
    assert len(vendor_ids) == 1


def test_a_vendor_error_fails_the_send_with_its_exact_code(simulator, make_provider, send_now):
    provider = make_provider("8x8", simulator.root)
    simulator.fail_next("8x8", provider.slug, "1002")
    [send] = send_now(provider)
    assert send.status == SendStatus.FAILED
    event = ErrorEvent.objects.get(send=send)
    assert (event.error_code, event.category, event.http_status, event.source) == ("1002", "validation", 400, "send")
    assert event.request_id  # 8x8's errorId
    assert (send.error_code, send.error_category) == ("1002", "validation")
    assert simulator.messages("8x8", provider.slug) == []


def test_a_retryable_error_waits_in_the_database_honouring_retry_after(simulator, make_provider, send_now):
    provider = make_provider("textingblue", simulator.root)
    simulator.fail_next("textingblue", provider.slug, "rate_limited")
    before = timezone.now()
    [send] = send_now(provider)
    assert send.status == SendStatus.QUEUED
    assert send.attempts == 1
    wait = (send.next_attempt_at - before).total_seconds()
    event = ErrorEvent.objects.get(send=send)
    assert event.error_code == "rate_limited"
    # The simulator's 429 says how long to wait; the retry is not earlier than that.
    retry_after = float(event.raw_body.split("Retry after ")[1].split(" ")[0])
    assert retry_after <= wait <= retry_after + 2


def test_the_retry_sends_once_the_wait_is_over(simulator, make_provider, send_now, eager_celery, monkeypatch):
    # A wait far longer than the test, so the eager retry task always arrives early, however busy the machine.
    monkeypatch.setattr(sending, "BACKOFF_BASE_SECONDS", 600)
    provider = make_provider("23telecom", simulator.root)
    simulator.fail_next("23telecom", provider.slug, "DB_ERROR")
    [send] = send_now(provider)
    assert send.status == SendStatus.QUEUED
    # A task arriving before the wait is over does nothing.
    sending.deliver([send.pk])
    assert Send.objects.get(pk=send.pk).attempts == 1
    Send.objects.filter(pk=send.pk).update(next_attempt_at=timezone.now())
    sending.deliver([send.pk])
    send.refresh_from_db()
    assert (send.status, send.attempts) == (SendStatus.ACCEPTED, 2)
    assert [a.outcome for a in send.attempt_rows.all()] == [SendStatus.FAILED, SendStatus.ACCEPTED]
    assert len(simulator.messages("23telecom", provider.slug)) == 1


def test_retries_stop_after_the_attempt_cap_and_say_why(simulator, make_provider, send_now, settings):
    settings.SENDWATCH_SEND_MAX_ATTEMPTS = 2
    provider = make_provider("telnxo", simulator.root)
    simulator.fail_next("telnxo", provider.slug, "internal_error", count=5)
    [send] = send_now(provider)
    Send.objects.filter(pk=send.pk).update(next_attempt_at=timezone.now())
    sending.deliver([send.pk])
    send.refresh_from_db()
    assert send.status == SendStatus.FAILED
    assert send.status_reason == "gave up after 2 attempts: internal_error"
    assert ErrorEvent.objects.filter(send=send).count() == 2


def test_an_ambiguous_timeout_is_not_resent_but_marked_unknown(simulator, make_provider, send_now, settings):
    settings.SENDWATCH_VENDOR_TIMEOUT = (1.0, 0.5)
    provider = make_provider("23telecom", simulator.root)
    simulator.configure("23telecom", provider.slug, timeout_seconds=2)
    simulator.fail_next("23telecom", provider.slug, "timeout")
    [send] = send_now(provider)
    assert send.status == SendStatus.UNKNOWN
    assert "reconcile" in send.status_reason
    assert ErrorEvent.objects.get(send=send).category == "timeout"


def test_telnxo_gateway_timeout_is_ambiguous(simulator, make_provider, send_now):
    provider = make_provider("telnxo", simulator.root)
    simulator.fail_next("telnxo", provider.slug, "gateway_timeout")
    [send] = send_now(provider)
    assert send.status == SendStatus.UNKNOWN


def test_a_duplicated_task_cannot_send_twice(
    simulator, make_provider, eager_celery, django_capture_on_commit_callbacks
):
    provider = make_provider("textingblue", simulator.root)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        [send] = queue_sends(provider, ["+14155550100"], "hello")
    for callback in callbacks:  # the task is delivered ...
        callback()
    sending.deliver([send.pk])  # ... and then delivered again
    sending.deliver([send.pk])
    assert len(simulator.messages("textingblue", provider.slug)) == 1
    assert Send.objects.get(pk=send.pk).attempts == 1


def test_a_repeated_idempotency_key_returns_the_first_sends(simulator, make_provider, send_now):
    provider = make_provider("23telecom", simulator.root)
    first = send_now(provider, idempotency_key="order-42")
    again = send_now(provider, idempotency_key="order-42")
    assert [s.pk for s in again] == [s.pk for s in first]
    assert len(simulator.messages("23telecom", provider.slug)) == 1


def test_telnxo_gets_a_stable_idempotency_key_on_every_attempt(simulator, make_provider, send_now):
    provider = make_provider("telnxo", simulator.root)
    send_now(provider, idempotency_key="otp-7")
    [message] = simulator.messages("telnxo", provider.slug)
    assert message["idempotency_key"] == "otp-7"


def test_multi_recipient_sends_split_by_the_vendor_limit_and_record_each_result(simulator, make_provider, send_now):
    provider = make_provider("23telecom", simulator.root)
    simulator.configure("23telecom", provider.slug, blocked_prefixes=["+4930"])
    recipients = [f"+4477009{n:05d}" for n in range(150)] + ["+4930000000"]
    sends = send_now(provider, recipients=recipients)
    statuses = {s.recipient: s.status for s in sends}
    assert statuses["+4930000000"] == SendStatus.FAILED
    assert sum(1 for s in statuses.values() if s == SendStatus.ACCEPTED) == 150
    blocked = ErrorEvent.objects.get(send__recipient="+4930000000")
    assert (blocked.error_code, blocked.category) == ("blocked_country", "compliance")
    # 151 recipients at 100 per request: two requests to the vendor.
    assert len({s.batch_id for s in sends}) == 1
    assert simulator.configure("23telecom", provider.slug)["requests"] == 2


@pytest.mark.parametrize(
    "recipients, body, message",
    [
        ([], "hi", "at least one recipient"),
        (["07700900001"], "hi", "E.164"),
        (["+447700900001", "+447700900001"], "hi", "listed twice"),
        (["+447700900001"], "   ", "empty"),
        (["+447700900001"], "x" * 5001, "longer than"),
    ],
)
def test_bad_send_requests_are_refused_and_write_nothing(recipients, body, message, make_provider, simulator):
    provider = make_provider("23telecom", simulator.root)
    with pytest.raises(SendRejected, match=message):
        queue_sends(provider, recipients, body)
    assert Send.objects.count() == 0


def test_the_breaker_opens_after_repeated_server_failures_and_keeps_sends_queued(
    simulator, make_provider, send_now, settings
):
    settings.SENDWATCH_BREAKER_THRESHOLD = 3
    provider = make_provider("telnxo", simulator.root)
    simulator.configure("telnxo", provider.slug, outage=True)
    for n in range(3):
        send_now(provider, recipients=[f"+91987650000{n}"])
    provider.refresh_from_db()
    assert breaker.open_until(provider) is not None
    requests_before = simulator.configure("telnxo", provider.slug)["requests"]
    [held] = send_now(provider, recipients=["+919876500009"])
    assert held.status == SendStatus.QUEUED and held.attempts == 0
    assert held.next_attempt_at >= Provider.objects.get(pk=provider.pk).breaker_open_until
    assert simulator.configure("telnxo", provider.slug)["requests"] == requests_before
    # After the cool-down a success closes it again.
    simulator.configure("telnxo", provider.slug, outage=False)
    Provider.objects.filter(pk=provider.pk).update(breaker_open_until=timezone.now() - timedelta(seconds=1))
    Send.objects.filter(pk=held.pk).update(next_attempt_at=timezone.now())
    sending.deliver([held.pk])
    assert Send.objects.get(pk=held.pk).status == SendStatus.ACCEPTED
    provider.refresh_from_db()
    assert breaker.open_until(provider) is None
    assert Provider.objects.get(pk=provider.pk).breaker_failures == 0


def test_client_errors_do_not_trip_the_breaker(simulator, make_provider, send_now, settings):
    settings.SENDWATCH_BREAKER_THRESHOLD = 2
    provider = make_provider("23telecom", simulator.root)
    simulator.fail_next("23telecom", provider.slug, "INVALID_TO", count=3)
    for n in range(3):
        send_now(provider, recipients=[f"+44770090000{n}"])
    provider.refresh_from_db()
    assert breaker.open_until(provider) is None


def test_a_provider_without_an_active_key_fails_its_sends_clearly(simulator, make_provider, send_now):
    provider = make_provider("23telecom", simulator.root)
    provider.credentials.update(state="revoked")
    [send] = send_now(provider)
    assert send.status == SendStatus.FAILED
    assert "no active API key" in send.status_reason
    assert simulator.messages("23telecom", provider.slug) == []


class TestSweeper:
    def test_a_queued_send_whose_task_was_lost_is_dispatched(
        self, simulator, make_provider, eager_celery, django_capture_on_commit_callbacks
    ):
        provider = make_provider("8x8", simulator.root)
        with django_capture_on_commit_callbacks(execute=False):  # the broker never got the task
            [send] = queue_sends(provider, ["+6590000001"], "hello")
        assert sending.sweep_outbox().dispatched == 0  # too fresh: its task may still be on the way
        Send.objects.filter(pk=send.pk).update(next_attempt_at=timezone.now() - timedelta(minutes=2))
        with django_capture_on_commit_callbacks(execute=True):
            report = sending.sweep_outbox()
        assert report.dispatched == 1
        assert Send.objects.get(pk=send.pk).status == SendStatus.ACCEPTED

    def test_a_stale_claim_is_resent_only_where_the_vendor_dedupes(self, simulator, make_provider):
        telnxo = make_provider("telnxo", simulator.root)
        telecom = make_provider("23telecom", simulator.root)
        long_ago = timezone.now() - timedelta(minutes=10)
        stuck = [
            Send.objects.create(
                provider=p,
                recipient="+447700900001",
                body="x",
                status=SendStatus.SENDING,
                claimed_at=long_ago,
                attempts=1,
            )
            for p in (telnxo, telecom)
        ]
        report = sending.sweep_outbox()
        assert (report.requeued, report.unknown) == (1, 1)
        assert Send.objects.get(pk=stuck[0].pk).status == SendStatus.QUEUED
        assert Send.objects.get(pk=stuck[1].pk).status == SendStatus.UNKNOWN


def test_a_resend_answered_with_duplicate_idempotency_key_counts_as_accepted(simulator, make_provider, send_now):
    provider = make_provider("telnxo", simulator.root)
    [send] = send_now(provider)
    # The worker died after the vendor accepted it: the sweeper requeues it, the resend reuses the key.
    Send.objects.filter(pk=send.pk).update(
        status=SendStatus.SENDING, claimed_at=timezone.now() - timedelta(minutes=10), vendor_message_id=""
    )
    sending.sweep_outbox()
    sending.deliver([send.pk])
    send.refresh_from_db()
    assert send.status == SendStatus.ACCEPTED
    assert "earlier attempt" in send.status_reason
    assert len(simulator.messages("telnxo", provider.slug)) == 1


# -- what one delivery costs (docs/performance.md) ----------------------------------------------


def _queued(provider, count: int, first: int = 0) -> list[int]:
    """Queued sends whose delivery the test runs itself."""
    with mock.patch.object(sending, "dispatch"):
        sends = queue_sends(provider, [f"+4477009{n:05d}" for n in range(first, first + count)], "Your code is 1234")
    return [send.pk for send in sends]


@pytest.mark.parametrize("vendor_error", [None, "INVALID_TO"])
def test_a_delivery_takes_as_many_queries_for_a_hundred_sends_as_for_one(
    vendor_error, simulator, make_provider, django_assert_max_num_queries
):
    provider = make_provider("23telecom", simulator.root)
    if vendor_error:
        simulator.fail_next("23telecom", provider.slug, vendor_error, count=2)
    one, hundred = _queued(provider, 1), _queued(provider, 100, first=1)
    # Claim (lock, provider, update, attempt rows), key, outcome (sends' shared and own values,
    # attempts; error events and their rollups), the key's last use once a minute, the test's savepoints.
    budget = 16 if vendor_error else 13
    with django_assert_max_num_queries(budget):
        sending.deliver(one)
    with django_assert_max_num_queries(budget):
        sending.deliver(hundred)
    expected = SendStatus.FAILED if vendor_error else SendStatus.ACCEPTED
    assert set(Send.objects.filter(pk__in=one + hundred).values_list("status", flat=True)) == {expected}
    assert set(SendAttempt.objects.filter(send_id__in=one + hundred).values_list("outcome", flat=True)) == {expected}
    failed = 101 if vendor_error else 0
    assert ErrorEvent.objects.filter(send_id__in=one + hundred, error_code=vendor_error or "").count() == failed
    counted = ErrorRollup.objects.filter(provider=provider, grain=300).aggregate(n=Sum("errors"))["n"] or 0
    assert counted == failed


def test_accepted_sends_with_different_vendor_ids_are_all_recorded(simulator, make_provider):
    provider = make_provider("23telecom", simulator.root)
    ids = _queued(provider, 3)
    sending.deliver(ids)
    vendor_ids = list(Send.objects.filter(pk__in=ids).values_list("vendor_message_id", flat=True))
    assert all(vendor_ids) and len(set(vendor_ids)) == 3


def test_a_success_leaves_a_breaker_without_failures_unwritten(simulator, make_provider):
    provider = make_provider("23telecom", simulator.root)
    ids = _queued(provider, 1)
    with CaptureQueriesContext(connection) as queries:
        sending.deliver(ids)
    assert Send.objects.get(pk=ids[0]).status == SendStatus.ACCEPTED
    assert not [q for q in queries.captured_queries if q["sql"].startswith('UPDATE "messaging_provider"')]


def test_a_busy_key_records_its_use_at_most_once_a_minute(simulator, make_provider, monkeypatch):
    provider = make_provider("23telecom", simulator.root)
    key = Credential.objects.get(provider=provider)
    sending.deliver(_queued(provider, 1))
    key.refresh_from_db()
    first = key.last_used_at
    assert first is not None
    sending.deliver(_queued(provider, 1, first=1))
    key.refresh_from_db()
    assert key.last_used_at == first
    later = timezone.now() + timedelta(minutes=2)
    monkeypatch.setattr("django.utils.timezone.now", lambda: later)
    sending.deliver(_queued(provider, 1, first=2))
    key.refresh_from_db()
    assert key.last_used_at == later
