"""Concurrent workers and sweepers on one outbox: every send leaves exactly once.

Real threads, each with its own database connection, run the real delivery path
(``sending.deliver`` and ``sending.sweep_outbox``) against the vendor simulator over
HTTP. The rows must be committed for the other connections to see them, hence
``transaction=True``. Only PostgreSQL has the row locks the claim relies on
(``FOR UPDATE SKIP LOCKED``); on any other database these tests fail rather than pass
without having tested anything.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from unittest import mock

import pytest
from django.db import connection
from django.utils import timezone

import messaging.tasks  # noqa: F401  (registers deliver_sends here, so an eager dispatch runs it inline)
from messaging.models import Send, SendAttempt, SendStatus
from messaging.traffic import breaker, sending
from messaging.traffic.sending import queue_sends
from providers import get_adapter_class

pytestmark = pytest.mark.django_db(transaction=True)

WORKERS = 4
# No thread may hang the suite: a thread still running after this long is a failure.
THREAD_DEADLINE_SECONDS = 120
# Long enough for any claim to finish, short enough to fail fast when the claim waits on a lock.
LOCK_TIMEOUT = "1s"


@pytest.fixture(autouse=True)
def _needs_postgresql():
    if connection.vendor != "postgresql":
        pytest.fail(
            f"needs PostgreSQL: the claim's FOR UPDATE SKIP LOCKED and concurrent connections cannot be "
            f"tested on {connection.vendor}; set DATABASE_URL=postgres://..."
        )


def run_threads(targets: list[Callable[[], None]]) -> list[BaseException]:
    """Start every target on its own thread (own DB connection), wait for all; the exceptions they raised."""
    errors: list[BaseException] = []

    def wrapped(target):
        try:
            target()
        except BaseException as exc:  # collected and re-raised by the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=wrapped, args=(target,), daemon=True) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(THREAD_DEADLINE_SECONDS)
    assert not any(thread.is_alive() for thread in threads), "a worker thread hung"
    return errors


def queued(provider, count: int, first: int = 0) -> list[int]:
    """Queued sends whose tasks the test delivers itself (as a broker would, perhaps more than once)."""
    with mock.patch.object(sending, "dispatch"):
        sends = queue_sends(provider, [f"+4477009{n:05d}" for n in range(first, first + count)], "Your code is 1234")
    return [send.pk for send in sends]


def tasks_for(kind: str, ids: list[int]) -> list[list[int]]:
    """The deliver_sends tasks dispatch() would enqueue for these sends."""
    size = get_adapter_class(kind).max_recipients
    return [ids[start : start + size] for start in range(0, len(ids), size)]


def assert_each_sent_exactly_once(simulator, provider, ids: list[int], attempts: int = 1):
    sends = list(Send.objects.filter(pk__in=ids).order_by("pk"))
    assert len(sends) == len(ids)
    assert {send.status for send in sends} == {SendStatus.ACCEPTED}, [(s.pk, s.status, s.status_reason) for s in sends]
    assert {send.attempts for send in sends} == {attempts}
    assert Counter(SendAttempt.objects.filter(send_id__in=ids).values_list("send_id", flat=True)) == dict.fromkeys(
        ids, attempts
    )
    recorded = simulator.messages(provider.kind, provider.slug)
    # The vendor saw each recipient once, and the ids it gave are the ones on the Send rows.
    assert Counter(m["recipient"] for m in recorded) == Counter(send.recipient for send in sends)
    assert sorted(m["vendor_message_id"] for m in recorded) == sorted(send.vendor_message_id for send in sends)
    assert len({send.vendor_message_id for send in sends}) == len(sends)


# -- workers racing for the same tasks ------------------------------------------------------


@pytest.mark.parametrize(("kind", "count"), [("23telecom", 150), ("8x8", 60), ("telnxo", 40)])
def test_workers_racing_on_the_same_tasks_send_each_message_once(kind, count, simulator, make_provider):
    """Every task delivered to every worker at the same moment (a redelivering broker at its worst)."""
    provider = make_provider(kind, simulator.root)
    ids = queued(provider, count)
    tasks = tasks_for(kind, ids)
    start = threading.Barrier(WORKERS)

    def worker(seed: int):
        def run():
            order = list(tasks)
            random.Random(seed).shuffle(order)
            start.wait()
            for task in order:
                sending.deliver(task)

        return run

    errors = run_threads([worker(seed) for seed in range(WORKERS)])
    assert errors == []
    assert_each_sent_exactly_once(simulator, provider, ids)


def test_overlapping_tasks_split_the_sends_between_workers_without_sharing_any(simulator, make_provider):
    """Tasks that overlap (ids in several batches) still give each send to one worker."""
    provider = make_provider("23telecom", simulator.root)
    ids = queued(provider, 120)
    # Worker n takes a window of ids that overlaps its neighbours', in its own order.
    windows = [ids[n * 20 : n * 20 + 60] for n in range(WORKERS)]
    start = threading.Barrier(WORKERS)

    def worker(window):
        def run():
            start.wait()
            sending.deliver(window)
            sending.deliver(list(reversed(window)))

        return run

    assert run_threads([worker(w) for w in windows]) == []
    assert_each_sent_exactly_once(simulator, provider, ids)


def test_a_claim_in_progress_is_skipped_not_waited_for(simulator, make_provider, monkeypatch):
    """While worker A holds its claim's row locks, worker B takes only the other sends, at once.

    A pauses inside its claim transaction (after locking, before committing). B runs with a
    lock timeout: were the claim to wait for locked rows instead of skipping them
    (FOR UPDATE without SKIP LOCKED), B would hit the timeout and fail; were it to read
    them without a lock, B would send A's messages too.
    """
    provider = make_provider("23telecom", simulator.root)
    held, other = queued(provider, 30), queued(provider, 30, first=100)
    a_holds_locks, b_done = threading.Event(), threading.Event()
    real_open_until = breaker.open_until

    def open_until(provider, now=None):
        # Called inside _claim's transaction, right after the rows were locked.
        if threading.current_thread().name == "worker-a":
            a_holds_locks.set()
            assert b_done.wait(THREAD_DEADLINE_SECONDS / 2), "worker B never finished"
        return real_open_until(provider, now)

    monkeypatch.setattr(breaker, "open_until", open_until)
    seen_by_b: dict[str, set] = {}

    def worker_a():
        threading.current_thread().name = "worker-a"
        sending.deliver(held)

    def worker_b():
        try:
            assert a_holds_locks.wait(THREAD_DEADLINE_SECONDS / 2), "worker A never claimed"
            with connection.cursor() as cursor:
                cursor.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
            sending.deliver(held + other)
            # Still inside A's claim: B sent its own sends, A's are untouched (as committed).
            statuses = dict(Send.objects.filter(pk__in=held + other).values_list("pk", "status"))
            seen_by_b["held"] = {statuses[pk] for pk in held}
            seen_by_b["other"] = {statuses[pk] for pk in other}
        finally:
            b_done.set()

    assert run_threads([worker_a, worker_b]) == []
    assert seen_by_b == {"held": {SendStatus.QUEUED}, "other": {SendStatus.ACCEPTED}}
    assert_each_sent_exactly_once(simulator, provider, held + other)


# -- the sweeper against workers ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ["23telecom", "telnxo"])
def test_the_sweeper_redispatching_lost_tasks_races_workers_without_a_double_send(
    kind, simulator, make_provider, eager_celery
):
    """Queued sends past the lost-task grace: two sweepers re-dispatch them while the late tasks arrive."""
    provider = make_provider(kind, simulator.root)
    ids = queued(provider, 40 if kind == "telnxo" else 120)
    Send.objects.filter(pk__in=ids).update(next_attempt_at=timezone.now() - sending.lost_task_grace() * 2)
    tasks = tasks_for(kind, ids)
    start = threading.Barrier(WORKERS)

    def sweeper():
        start.wait()
        sending.sweep_outbox()  # its dispatch runs the deliveries inline on commit (eager Celery)

    def worker(seed: int):
        def run():
            order = list(tasks)
            random.Random(seed).shuffle(order)
            start.wait()
            for task in order:
                sending.deliver(task)

        return run

    assert run_threads([sweeper, sweeper, worker(1), worker(2)]) == []
    assert_each_sent_exactly_once(simulator, provider, ids)
    assert sending.sweep_outbox().dispatched == 0


def test_the_sweeper_requeueing_dead_claims_races_workers_without_a_double_send(simulator, make_provider, eager_celery):
    """Claims left by a dead worker (Telnxo dedupes, so they are resent) while redelivered tasks keep arriving."""
    provider = make_provider("telnxo", simulator.root)
    ids = queued(provider, 30)
    # A worker claimed them and died before calling the vendor.
    claimed = sending._claim(ids)
    assert len(claimed) == len(ids)
    Send.objects.filter(pk__in=ids).update(claimed_at=timezone.now() - sending.stale_claim_after() * 2)
    tasks = tasks_for("telnxo", ids)
    start = threading.Barrier(WORKERS)
    finals = {SendStatus.ACCEPTED, SendStatus.FAILED, SendStatus.UNKNOWN}

    def sweeper():
        start.wait()
        sending.sweep_outbox()

    def worker(seed: int):
        def run():
            rng = random.Random(seed)
            start.wait()
            # Tasks keep arriving until the sends are settled (bounded: no test may spin forever).
            for _ in range(100):
                order = list(tasks)
                rng.shuffle(order)
                for task in order:
                    sending.deliver(task)
                if set(Send.objects.filter(pk__in=ids).values_list("status", flat=True)) <= finals:
                    return

        return run

    assert run_threads([sweeper, sweeper, worker(1), worker(2)]) == []
    assert_each_sent_exactly_once(simulator, provider, ids, attempts=2)
    # The dead worker's attempt is settled as unknown, the resend's is the accepted one.
    outcomes = Counter(SendAttempt.objects.filter(send_id__in=ids).values_list("number", "outcome"))
    assert outcomes == {(1, SendStatus.UNKNOWN): len(ids), (2, SendStatus.ACCEPTED): len(ids)}
    # Every resend reused the send's own idempotency key.
    keys = Counter(m["idempotency_key"] for m in simulator.messages("telnxo", provider.slug))
    assert keys == Counter(f"sendwatch-{pk}" for pk in ids)


def test_the_sweeper_skips_lost_tasks_a_worker_is_claiming(simulator, make_provider, eager_celery, monkeypatch):
    """A sweep while a late task's worker holds its claim: those rows are skipped at once, the others re-dispatched."""
    provider = make_provider("23telecom", simulator.root)
    held, other = queued(provider, 20), queued(provider, 20, first=100)
    Send.objects.filter(pk__in=held + other).update(next_attempt_at=timezone.now() - sending.lost_task_grace() * 2)
    a_holds_locks, sweep_done = threading.Event(), threading.Event()
    real_open_until = breaker.open_until

    def open_until(provider, now=None):
        if threading.current_thread().name == "worker-a":
            a_holds_locks.set()
            assert sweep_done.wait(THREAD_DEADLINE_SECONDS / 2), "the sweeper never finished"
        return real_open_until(provider, now)

    monkeypatch.setattr(breaker, "open_until", open_until)
    reports = []

    def worker_a():
        threading.current_thread().name = "worker-a"
        sending.deliver(held)

    def sweeper():
        try:
            assert a_holds_locks.wait(THREAD_DEADLINE_SECONDS / 2), "worker A never claimed"
            with connection.cursor() as cursor:
                cursor.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
            reports.append(sending.sweep_outbox())
        finally:
            sweep_done.set()

    assert run_threads([worker_a, sweeper]) == []
    [report] = reports
    assert (report.dispatched, report.requeued, report.unknown) == (len(other), 0, 0)
    assert_each_sent_exactly_once(simulator, provider, held + other)


def test_the_sweeper_skips_claims_whose_worker_is_recording_the_outcome(
    simulator, make_provider, eager_celery, monkeypatch, settings
):
    """A claim old enough to look dead, whose worker is in fact writing the vendor's answer: left to that worker."""
    settings.SENDWATCH_STALE_CLAIM_SECONDS = 0  # every claim looks stale to the sweeper
    provider = make_provider("telnxo", simulator.root)
    provider.breaker_failures = 1  # so the outcome's transaction also resets the breaker, where A pauses
    provider.save(update_fields=["breaker_failures"])
    [send_id] = queued(provider, 1)
    a_writing, sweep_done = threading.Event(), threading.Event()
    real_record_success = breaker.record_success

    def record_success(provider_id):
        # Called inside apply_outcome's transaction, after the send rows were updated (and so locked).
        if threading.current_thread().name == "worker-a":
            a_writing.set()
            assert sweep_done.wait(THREAD_DEADLINE_SECONDS / 2), "the sweeper never finished"
        return real_record_success(provider_id)

    monkeypatch.setattr(breaker, "record_success", record_success)
    reports = []

    def worker_a():
        threading.current_thread().name = "worker-a"
        sending.deliver([send_id])

    def sweeper():
        try:
            assert a_writing.wait(THREAD_DEADLINE_SECONDS / 2), "worker A never got an answer"
            with connection.cursor() as cursor:
                cursor.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
            reports.append(sending.sweep_outbox())
        finally:
            sweep_done.set()

    assert run_threads([worker_a, sweeper]) == []
    [report] = reports
    assert (report.dispatched, report.requeued, report.unknown) == (0, 0, 0)
    assert_each_sent_exactly_once(simulator, provider, [send_id])
