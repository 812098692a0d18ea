"""Failover through a real worker: a route of two vendors, the first runs out of credit midway.

Issue 15's acceptance run: 200 messages over the send service, a real Celery worker on the
broker, the simulator over HTTP. Every message ends accepted, none is sent twice (the
simulator's own counts), every message after the run-out went to the second vendor with the
decision on the send, and after a top-up and a balance poll new traffic returns to the first.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from messaging.alerts.balances import poll_provider
from messaging.models import Provider, ProviderStatus, Route, RouteStep, Send, SendStatus
from messaging.traffic import messages
from messaging.traffic.messages import MessageRequest
from messaging.vault.tokens import MESSAGES_SEND, create_token
from tests.integration.test_worker import Worker

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

FIRST, SECOND = "eu-first", "apac-second"
COST = Decimal("0.035")  # the simulated 23 Telecom's price per one-segment message


@pytest.fixture
def worker():
    started = Worker()
    yield started
    started.stop()


def settled(ids: list[int]) -> bool:
    return not Send.objects.filter(pk__in=ids).exclude(status__in=[SendStatus.ACCEPTED, SendStatus.FAILED]).exists()


def test_two_hundred_messages_fail_over_when_the_first_vendor_runs_out_and_return_after_a_top_up(
    worker, simulator, make_provider
):
    first = make_provider("23telecom", simulator.root, slug=FIRST)
    second = make_provider("8x8", simulator.root, slug=SECOND)
    route = Route.objects.create(slug="otp", name="One-time codes")
    RouteStep.objects.create(route=route, provider=first, position=1)
    RouteStep.objects.create(route=route, provider=second, position=2)
    simulator.configure("23telecom", FIRST, balance=str(COST * 90))  # enough for 90 messages
    simulator.configure("8x8", SECOND, balance="1000.00")
    token, _ = create_token("app", providers="all", scopes=[MESSAGES_SEND])

    ids: list[int] = []
    for batch in range(4):  # 4 x 50, each settled before the next, as traffic arrives over time
        done = messages.submit(
            token,
            [MessageRequest(to=f"+4474001{batch}{n:04d}", body="Your code is 1234", route=route) for n in range(50)],
        )
        batch_ids = [send.pk for send, _ in done]
        ids += batch_ids
        worker.wait_for(lambda batch_ids=batch_ids: settled(batch_ids), 120, f"batch {batch} to settle")

    sends = list(Send.objects.filter(pk__in=ids).select_related("provider").order_by("pk"))
    assert len(sends) == 200 and {send.status for send in sends} == {SendStatus.ACCEPTED}
    at_first = simulator.messages("23telecom", FIRST)
    at_second = simulator.messages("8x8", SECOND)
    # None sent twice: the vendors together took exactly 200 messages, each recipient once.
    recipients = [m["recipient"] for m in at_first + at_second]
    assert len(at_first) == 90 and len(at_second) == 110 and len(set(recipients)) == 200, recipients[:3]
    assert sum(send.provider.slug == FIRST for send in sends) == 90
    # After the run-out every message went to the second vendor, and says why.
    run_out = next(i for i, send in enumerate(sends) if send.provider.slug == SECOND)
    assert all(send.provider.slug == SECOND for send in sends[run_out:])
    for send in sends[run_out:]:
        words = " ".join(entry["words"] for entry in send.routing)
        assert "eu-first" in words and ("INSUFFICIENT_BALANCE" in words or "skipped eu-first: critical" in words)
    assert Provider.objects.get(slug=FIRST).status == ProviderStatus.CRITICAL

    # Top up, poll the balance (as the beat would), and new traffic returns to the first vendor.
    requests.post(f"{simulator.root}/_sim/23telecom/{FIRST}/topup", json={"amount": 50}, timeout=5).raise_for_status()
    poll_provider(Provider.objects.get(slug=FIRST))
    assert Provider.objects.get(slug=FIRST).status == ProviderStatus.OK
    later = [
        send.pk
        for send, _ in messages.submit(
            token, [MessageRequest(to=f"+447400199{n:03d}", body="hi", route=route) for n in range(10)]
        )
    ]
    worker.wait_for(lambda: settled(later), 60, "the messages after the top-up")
    assert set(Send.objects.filter(pk__in=later).values_list("provider__slug", flat=True)) == {FIRST}
    assert len(simulator.messages("23telecom", FIRST)) == 100
