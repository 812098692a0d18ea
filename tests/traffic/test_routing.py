"""Routes choose a usable provider and fail over between vendors, against the simulator over HTTP."""

from __future__ import annotations

import pytest

from messaging.models import ProviderStatus, Route, RouteStep, Send, SendRollup, SendStatus
from messaging.traffic import messages, routing
from messaging.traffic.messages import IdempotencyConflict, MessageRequest, NoRoute
from messaging.vault.tokens import MESSAGES_SEND, create_token

pytestmark = pytest.mark.django_db

TO = "+447400123456"


@pytest.fixture
def route(simulator, make_provider):
    first = make_provider("23telecom", simulator.root, slug="eu-first")
    second = make_provider("8x8", simulator.root, slug="apac-second")
    made = Route.objects.create(slug="otp", name="One-time codes")
    RouteStep.objects.create(route=made, provider=first, position=1)
    RouteStep.objects.create(route=made, provider=second, position=2)
    return made


@pytest.fixture
def token():
    return create_token("app", providers="all", scopes=[MESSAGES_SEND])[0]


@pytest.fixture
def submit(eager_celery, django_capture_on_commit_callbacks, token):
    def run(*requests: MessageRequest):
        with django_capture_on_commit_callbacks(execute=True):
            done = messages.submit(token, list(requests))
        return [Send.objects.select_related("provider").get(pk=send.pk) for send, _ in done]

    return run


def test_the_first_usable_provider_takes_the_message(route, submit, simulator):
    [send] = submit(MessageRequest(to=TO, body="code 1", route=route))
    assert send.status == SendStatus.ACCEPTED and send.provider.slug == "eu-first"
    assert [entry["words"] for entry in send.routing] == ["chose eu-first"]
    assert len(simulator.messages("23telecom", "eu-first")) == 1


def test_a_provider_that_cannot_take_it_is_skipped_with_the_reason(route, submit):
    first = route.steps.get(position=1).provider
    first.status, first.status_detail = ProviderStatus.CRITICAL, "Balance 12.00 EUR, at or below critical 50.00"
    first.save()
    [send] = submit(MessageRequest(to=TO, body="code 2", route=route))
    assert send.provider.slug == "apac-second" and send.status == SendStatus.ACCEPTED
    assert send.routing[0]["words"] == (
        "skipped eu-first: critical: Balance 12.00 EUR, at or below critical 50.00; chose apac-second"
    )


def test_a_balance_error_fails_over_to_the_next_vendor_once(route, submit, simulator):
    simulator.configure("23telecom", "eu-first", balance="0.00")
    [send] = submit(MessageRequest(to=TO, body="code 3", route=route))
    assert send.status == SendStatus.ACCEPTED and send.provider.slug == "apac-second"
    assert send.routing[1]["provider"] == "apac-second"
    assert send.routing[1]["words"].startswith("eu-first failed with INSUFFICIENT_BALANCE (balance); ")
    assert simulator.messages("23telecom", "eu-first") == [] and len(simulator.messages("8x8", "apac-second")) == 1
    assert send.error_events.get().error_code == "INSUFFICIENT_BALANCE"  # the failed attempt stays on record
    # Each provider counted the message handed to it.
    counted = dict(SendRollup.objects.filter(grain=300).values_list("provider__slug", "sends"))
    assert counted == {"eu-first": 1, "apac-second": 1}
    # The balance error set the provider critical at once: the next message skips it without a call.
    [after] = submit(MessageRequest(to=TO, body="code 4", route=route))
    assert after.provider.slug == "apac-second" and after.routing[0]["words"].startswith("skipped eu-first: critical")


def test_a_validation_error_of_the_message_never_fails_over(route, submit, simulator):
    simulator.fail_next("23telecom", "eu-first", "INVALID_TO")
    [send] = submit(MessageRequest(to=TO, body="code 5", route=route))
    assert send.status == SendStatus.FAILED and send.provider.slug == "eu-first" and len(send.routing) == 1
    assert simulator.messages("8x8", "apac-second") == []


def test_an_ambiguous_outcome_never_fails_over():
    from providers import Category, NormalizedError

    timeout = NormalizedError(
        kind="telnxo",
        provider_code="gateway_timeout",
        category=Category.TIMEOUT,
        http_status=504,
        retryable=False,
        ambiguous=True,
    )
    assert not routing.fails_over(timeout)
    assert routing.fails_over(
        NormalizedError(kind="x", provider_code="x", category=Category.SERVER, http_status=500, retryable=True)
    )


def test_when_no_provider_can_take_it_nothing_is_written(route, submit):
    for step in route.steps.all():
        step.provider.enabled = False
        step.provider.save()
    with pytest.raises(NoRoute) as raised:
        submit(MessageRequest(to=TO, body="code 6", route=route))
    assert str(raised.value) == "no provider of route otp can take it: eu-first: disabled; apac-second: disabled"
    assert Send.objects.count() == 0


def test_countries_and_weights(route, simulator, make_provider):
    step = route.steps.get(position=1)
    step.countries = "DE, FR"
    step.save()
    choice = routing.choose(route, TO)
    assert choice.provider.slug == "apac-second" and "eu-first: does not serve GB" in choice.words
    assert routing.choose(route, "+4915112345678").provider.slug == "eu-first"
    third = make_provider("telnxo", simulator.root, slug="in-third")
    RouteStep.objects.create(route=route, provider=third, position=2, weight=0)
    assert {routing.choose(route, TO).provider.slug for _ in range(20)} == {"apac-second"}


def test_the_same_key_returns_the_first_message_and_a_different_request_is_refused(route, submit):
    first = MessageRequest(to=TO, body="code 7", route=route, idempotency_key="order-1")
    [sent] = submit(first)
    [again] = submit(first)
    assert again.pk == sent.pk and Send.objects.count() == 1
    with pytest.raises(IdempotencyConflict):
        submit(MessageRequest(to=TO, body="code 8", route=route, idempotency_key="order-1"))


def test_each_message_is_its_own_vendor_call_in_chunked_tasks(monkeypatch):
    from messaging.traffic import sending

    started = []
    monkeypatch.setattr(sending.background, "start", lambda name, args, **kw: started.append((name, args)))
    sending.dispatch_each(list(range(1, 61)))
    assert [name for name, _ in started] == ["messaging.tasks.deliver_each"] * 3
    assert [len(args[0]) for _, args in started] == [25, 25, 10]


def test_a_failover_is_counted_on_the_send(route, submit, simulator):
    simulator.configure("23telecom", "eu-first", balance="0.00")
    [moved] = submit(MessageRequest(to=TO, body="code 9", route=route))
    [direct] = submit(MessageRequest(to=TO, body="code 10", route=route))  # eu-first skipped at once: no move
    assert (moved.failovers, direct.failovers) == (1, 0)
