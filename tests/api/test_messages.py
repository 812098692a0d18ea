"""The send API: POST /api/v1/messages and GET /api/v1/messages/<id> (messaging/api/messages.py)."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from messaging.api.messages import MessageBatchQueued, MessageDetail, MessageIn, MessageQueued
from messaging.models import Provider, Route, RouteStep, Send, SendStatus
from messaging.traffic import messages as service
from messaging.vault import ratelimit, tokens

pytestmark = pytest.mark.django_db

# libphonenumber's valid UK mobile numbers (the 07700 900xxx drama range is not valid anywhere).
UK = "+447911123456"
UK2 = "+447911123457"
NOWHERE = "http://127.0.0.1:9"  # providers of these tests are never called, except with the simulator below


def make_token(providers: Any = tokens.ALL_PROVIDERS, scopes=(tokens.MESSAGES_SEND,), name: str = "sender") -> str:
    if providers != tokens.ALL_PROVIDERS:
        providers = list(Provider.objects.filter(slug__in=providers))
    return tokens.create_token(name, providers=providers, scopes=scopes)[1]


@pytest.fixture
def token(db) -> str:
    return make_token()


@pytest.fixture
def dispatched(monkeypatch) -> list[list[int]]:
    """What the service hands to the workers on commit (no broker, no vendor call)."""
    calls: list[list[int]] = []
    monkeypatch.setattr(service, "dispatch_each", lambda ids: calls.append(list(ids)))
    return calls


@pytest.fixture
def accounts(make_provider) -> dict[str, Provider]:
    """Two usable providers (active keys) and a route through them: t23 first, tblue after it."""
    t23 = make_provider("23telecom", NOWHERE, slug="t23")
    tblue = make_provider("textingblue", NOWHERE, slug="tblue")
    route = Route.objects.create(slug="uk", name="UK")
    RouteStep.objects.create(route=route, provider=t23, position=1)
    RouteStep.objects.create(route=route, provider=tblue, position=2)
    return {"t23": t23, "tblue": tblue}


@pytest.fixture
def post(client, token):
    def send(payload: Any = None, *, raw: bytes | str | None = None, auth: str | None = None, **extra):
        data = raw if raw is not None else json.dumps(payload)
        extra.setdefault("content_type", "application/json")
        extra.setdefault("CONTENT_TYPE", extra["content_type"])  # the test client drops it for an empty body
        header = auth if auth is not None else f"Bearer {token}"
        return client.post(reverse("messaging:messages"), data=data, HTTP_AUTHORIZATION=header, **extra)

    return send


@pytest.fixture
def get(client, token):
    def read(pk: int, *, auth: str | None = None):
        header = auth if auth is not None else f"Bearer {token}"
        return client.get(reverse("messaging:message_detail", args=[pk]), HTTP_AUTHORIZATION=header)

    return read


def errors(response, status: int) -> list[dict[str, str]]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    document = response.json()
    assert list(document) == ["errors"] and document["errors"]
    return document["errors"]


def paths(response, status: int = 400) -> set[str]:
    return {problem["path"] for problem in errors(response, status)}


def message(**fields) -> dict[str, Any]:
    return {"to": UK, "body": "Your code is 123456", "provider": "t23", **fields}


# -- one message -------------------------------------------------------------------------------


def test_a_message_to_a_provider_is_queued_202(post, accounts, dispatched, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(message(idempotency_key="otp-1", metadata={"order": 8812, "tags": ["otp"]}))
    assert response.status_code == 202, response.content
    document = response.json()
    MessageQueued.model_validate(document)
    send = Send.objects.get()
    assert document == {
        "id": send.pk,
        "status": "queued",
        "provider": "t23",
        "route": None,
        "to": UK,
        "created_at": document["created_at"],
        "created": True,
    }
    assert document["created_at"].startswith(send.created_at.strftime("%Y-%m-%dT%H:%M:%S"))
    assert (send.provider, send.recipient, send.status, send.channel) == (accounts["t23"], UK, "queued", "sms")
    assert send.api_token is not None and send.api_token.scopes == [tokens.MESSAGES_SEND]
    assert (send.request_key, send.metadata) == ("otp-1", {"order": 8812, "tags": ["otp"]})
    assert send.sender == "Acme"  # the provider's default sender
    assert send.route is None and send.routing == []
    assert dispatched == [[send.pk]]


def test_a_message_through_a_route_is_routed_and_the_decision_kept(post, accounts, dispatched):
    Provider.objects.filter(slug="t23").update(enabled=False)  # skipped, in words
    response = post({"to": UK, "body": "hello", "route": "uk", "sender": "ACME"})
    assert response.status_code == 202, response.content
    document = response.json()
    assert (document["provider"], document["route"]) == ("tblue", "uk")
    send = Send.objects.get()
    assert send.route is not None and send.route.slug == "uk" and send.sender == "ACME"
    [entry] = send.routing
    assert entry["provider"] == "tblue"
    assert "skipped t23: disabled" in entry["words"] and "chose tblue" in entry["words"]


@pytest.mark.parametrize(
    ("region", "typed", "e164"),
    [
        ("GB", "07911 123456", "+447911123456"),
        ("GB", "+44 (0)7911-123456", "+447911123456"),
        ("US", "(415) 555-2671", "+14155552671"),
        ("US", "+44 7911 123456", "+447911123456"),
    ],
)
def test_the_recipient_is_normalized_to_e164(post, accounts, settings, region, typed, e164):
    settings.SENDWATCH_PHONE_REGION = region
    response = post(message(to=typed))
    assert response.status_code == 202, response.content
    assert response.json()["to"] == e164
    assert Send.objects.get().recipient == e164


def test_the_email_channel_takes_an_address(post, accounts):
    response = post(message(to="ann@example.com", channel="email"))
    assert response.status_code == 202, response.content
    assert Send.objects.get().recipient == "ann@example.com"
    assert paths(post(message(to="+447911123456", channel="email"))) == {"to"}


# -- idempotency ----------------------------------------------------------------------------------


def test_the_same_key_and_content_again_answers_200_with_the_first_message(
    post, accounts, dispatched, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = post(message(idempotency_key="k1"))
    Send.objects.update(status=SendStatus.ACCEPTED)  # it went out meanwhile
    with django_capture_on_commit_callbacks(execute=True):
        again = post(message(idempotency_key="k1"))
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json() == {**first.json(), "status": "accepted", "created": False}
    assert Send.objects.count() == 1
    assert len(dispatched) == 1  # nothing sent again


def test_the_same_key_with_other_content_is_409_and_writes_nothing(post, accounts):
    assert post(message(idempotency_key="k1")).status_code == 202
    [problem] = errors(post(message(idempotency_key="k1", body="another text")), 409)
    assert problem["path"] == "idempotency_key" and "'k1'" in problem["message"]
    batch = {"messages": [message(idempotency_key="new"), message(idempotency_key="k1", metadata={"x": 1})]}
    [problem] = errors(post(batch), 409)
    assert problem["path"] == "messages[1].idempotency_key"
    assert Send.objects.count() == 1  # "new" was not written either


def test_keys_belong_to_their_token(post, accounts):
    other = make_token(name="other")
    assert post(message(idempotency_key="k1")).status_code == 202
    # Another token's same key is its own message (and different content is no conflict there).
    response = post(message(idempotency_key="k1", body="other"), auth=f"Bearer {other}")
    assert response.status_code == 202 and response.json()["created"] is True
    assert Send.objects.count() == 2


# -- batches --------------------------------------------------------------------------------------------


def test_a_batch_answers_in_request_order(post, accounts, dispatched, django_capture_on_commit_callbacks, settings):
    settings.SENDWATCH_PHONE_REGION = "GB"
    batch = {
        "messages": [
            message(to=UK, idempotency_key="a"),
            {"to": UK2, "body": "hi", "route": "uk"},
            message(to="07911 123458", provider="tblue"),
        ]
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = post(batch)
    assert response.status_code == 202, response.content
    document = response.json()
    MessageBatchQueued.model_validate(document)
    answers = document["messages"]
    assert [(a["to"], a["provider"], a["route"], a["created"]) for a in answers] == [
        (UK, "t23", None, True),
        (UK2, "t23", "uk", True),
        ("+447911123458", "tblue", None, True),
    ]
    assert dispatched == [[a["id"] for a in answers]]  # handed over once, each its own vendor call


def test_a_batch_of_known_messages_is_200_and_a_mixed_one_202(post, accounts):
    first = post({"messages": [message(idempotency_key="a"), message(idempotency_key="b", to=UK2)]}).json()
    replay = post({"messages": [message(idempotency_key="b", to=UK2), message(idempotency_key="a")]})
    assert replay.status_code == 200
    assert [a["id"] for a in replay.json()["messages"]] == [first["messages"][1]["id"], first["messages"][0]["id"]]
    assert all(a["created"] is False for a in replay.json()["messages"])
    mixed = post({"messages": [message(idempotency_key="a"), message(idempotency_key="c")]})
    assert mixed.status_code == 202
    assert [a["created"] for a in mixed.json()["messages"]] == [False, True]
    assert Send.objects.count() == 3


def test_a_batch_is_all_or_nothing_and_lists_every_problem(post, accounts):
    batch = {
        "messages": [
            message(),
            {"to": UK, "provider": "t23"},
            message(to="12"),
            message(route="uk"),
            message(provider="nobody"),
        ]
    }
    problems = errors(post(batch), 400)
    # Shape first: the missing body is reported and nothing else is looked at yet.
    assert [p["path"] for p in problems] == ["messages[1].body"]
    del batch["messages"][1]
    problems = errors(post(batch), 400)
    assert {p["path"]: p["message"] for p in problems} == {
        "messages[1].to": "'12' is not a possible phone number for +1 (wrong length).",
        "messages[2].provider": "Give a route or a provider, not both.",
    }
    del batch["messages"][1:3]
    [problem] = errors(post(batch), 400)
    assert problem == {"path": "messages[1].provider", "message": "No provider has the slug 'nobody'."}
    assert Send.objects.count() == 0


def test_a_key_twice_in_one_batch_is_400(post, accounts):
    batch = {"messages": [message(idempotency_key="a"), message(idempotency_key="a")]}
    [problem] = errors(post(batch), 400)
    assert problem["path"] == "messages[1].idempotency_key" and "messages[0]" in problem["message"]
    assert Send.objects.count() == 0


# -- validation --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        ({"body": "x", "provider": "t23"}, "to"),
        (message(to=""), "to"),
        (message(to="hello"), "to"),
        (message(to=447911123456), "to"),
        (message(body=""), "body"),
        (message(body="   "), "body"),
        (message(body="x" * 5001), "body"),
        (message(body="a\x00b"), "body"),
        ({"to": UK, "body": "x"}, "route"),
        (message(route="uk"), "provider"),
        (message(provider="not a slug"), "provider"),
        (message(sender="x" * 65), "sender"),
        (message(channel="fax"), "channel"),
        (message(idempotency_key=""), "idempotency_key"),
        (message(idempotency_key="k" * 129), "idempotency_key"),
        (message(metadata=["not", "an", "object"]), "metadata"),
        (message(metadata={"blob": "x" * 4100}), "metadata"),
        (message(metadata={"a": "\x00"}), "metadata"),
        (message(status_callback="https://x"), "status_callback"),
        ({"messages": []}, "messages"),
        ({"messages": [message()] * 1001}, "messages"),
        ({"messages": [message(), "text"]}, "messages[1]"),
        ({"messages": [message(), message(to="hello")]}, "messages[1].to"),
        ({"messages": [message()], "to": UK}, "to"),
        ([message()], ""),
        (message(to="+1"), "to"),
        (message(to=None), "to"),
        (message(body=123), "body"),
        (message(channel=5), "channel"),
        (message(metadata="x"), "metadata"),
        (message(idempotency_key=7), "idempotency_key"),
        (
            {"messages": [message(idempotency_key="same"), message(idempotency_key="same", body="other")]},
            "messages[1].idempotency_key",
        ),
    ],
)
def test_bad_input_is_400_at_its_path_and_writes_nothing(post, accounts, payload, path):
    assert path in paths(post(payload))
    assert Send.objects.count() == 0


@pytest.mark.parametrize("raw", ["", "{", "not json", '{"to": NaN}', '{"body": "\\ud800"}'])
def test_a_body_that_is_not_json_is_400(post, accounts, raw):
    [problem] = errors(post(raw=raw), 400)
    assert problem["path"] == "" and "not valid JSON" in problem["message"]


def test_the_most_a_metadata_object_may_be_is_4_kb(post, accounts):
    filler = "x" * (4096 - len('{"a":""}'))
    assert post(message(metadata={"a": filler})).status_code == 202
    assert paths(post(message(metadata={"a": filler + "x"}))) == {"metadata"}


def test_unknown_or_disabled_routes_and_providers_are_400_naming_them(post, accounts):
    Route.objects.create(slug="off", name="Off", enabled=False)
    Provider.objects.filter(slug="tblue").update(enabled=False)
    batch = {
        "messages": [
            message(provider=None, route="nowhere"),
            message(provider=None, route="off"),
            message(provider="nobody"),
            message(provider="tblue"),
        ]
    }
    problems = {p["path"]: p["message"] for p in errors(post(batch), 400)}
    assert problems == {
        "messages[0].route": "No route has the slug 'nowhere'.",
        "messages[1].route": "Route 'off' is disabled; enable it to send.",
        "messages[2].provider": "No provider has the slug 'nobody'.",
        "messages[3].provider": "Provider 'tblue' is disabled; enable it or send through a route.",
    }
    assert Send.objects.count() == 0


# -- the token: scope and providers ------------------------------------------------------------------


def test_a_token_without_the_scope_is_403(post, accounts):
    events_only = make_token(scopes=[tokens.EVENTS_WRITE])
    [problem] = errors(post(message(), auth=f"Bearer {events_only}"), 403)
    assert problem["path"] == "Authorization" and "messages:send" in problem["message"]


def test_a_provider_outside_the_tokens_list_is_403_whether_or_not_it_exists(post, accounts):
    limited = make_token(providers=["t23"])
    auth = f"Bearer {limited}"
    assert post(message(), auth=auth).status_code == 202
    [problem] = errors(post({"messages": [message(), message(provider="tblue")]}, auth=auth), 403)
    assert problem["path"] == "messages[1].provider" and "'tblue'" in problem["message"]
    assert paths(post(message(provider="no-such"), auth=auth), 403) == {"provider"}
    assert Send.objects.count() == 1


def test_a_route_needs_every_one_of_its_providers_on_a_limited_token(post, accounts):
    # A message may fail over to any provider of its route, so each must be within the token's list.
    only_t23 = make_token(providers=["t23"])
    [problem] = errors(post(message(provider=None, route="uk"), auth=f"Bearer {only_t23}"), 403)
    assert problem["path"] == "route" and "'tblue'" in problem["message"] and "'t23'" not in problem["message"]
    both = make_token(providers=["t23", "tblue"])
    assert post(message(provider=None, route="uk"), auth=f"Bearer {both}").status_code == 202
    assert Send.objects.count() == 1


def test_a_refusal_is_logged_with_the_prefix_never_the_token(post, accounts, caplog):
    limited = make_token(providers=["t23"])
    with caplog.at_level(logging.WARNING, logger="messaging.api.messages"):
        response = post(message(provider="tblue"), auth=f"Bearer {limited}")
    assert response.status_code == 403
    assert limited[:8] in caplog.text and "tblue" in caplog.text
    assert limited not in caplog.text and limited not in response.content.decode()


def test_a_token_for_all_providers_may_use_any_route(post, accounts):
    assert post(message(provider=None, route="uk")).status_code == 202


# -- no route --------------------------------------------------------------------------------------------


def test_a_route_none_of_whose_providers_can_take_it_is_503_with_retry_after(post, accounts):
    Provider.objects.filter(slug="t23").update(enabled=False)
    Provider.objects.filter(slug="tblue").update(status="critical", status_detail="balance 0.00")
    batch = {"messages": [message(provider="tblue"), message(provider=None, route="uk", to=UK2)]}
    response = post(batch)
    [problem] = errors(response, 503)
    assert response["Retry-After"] == "30"
    assert problem["path"] == "messages[1].route"
    assert "t23: disabled" in problem["message"] and "tblue: critical: balance 0.00" in problem["message"]
    assert Send.objects.count() == 0  # the first message of the batch was not queued either


# -- the order of the checks ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_other_methods_are_405(client, token, method):
    response = getattr(client, method)(reverse("messaging:messages"), HTTP_AUTHORIZATION=f"Bearer {token}")
    errors(response, 405)
    assert response["Allow"] == "POST"


def test_the_checks_run_in_the_documented_order(client, post, accounts, settings, monkeypatch):
    url = reverse("messaging:messages")
    events_only = make_token(scopes=[tokens.EVENTS_WRITE])
    # 405 before the token is looked at.
    assert client.get(url).status_code == 405
    # 401 before the content type.
    assert errors(post(raw="x", content_type="text/plain", auth=""), 401)[0]["path"] == "Authorization"
    # 403 (scope) before the content type and the size.
    assert errors(post(raw="x", content_type="text/plain", auth=f"Bearer {events_only}"), 403)
    # 415 before the size.
    assert errors(post(raw="x", content_type="text/plain", CONTENT_LENGTH=str(9 * 1024 * 1024)), 415)
    # 413 before the body is read.
    assert errors(post(raw="x", CONTENT_LENGTH=str(9 * 1024 * 1024)), 413)
    # 429 (the token's rate) before the scope.
    settings.SENDWATCH_API_RATE, settings.SENDWATCH_API_BURST = 1, 1
    monkeypatch.setattr(ratelimit, "clock", lambda: 5000.0)
    auth = f"Bearer {make_token(scopes=[tokens.EVENTS_WRITE], name='throttled')}"
    assert post(message(), auth=auth).status_code == 403
    refused = post(message(), auth=auth)
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1


def test_no_csrf_token_is_needed(token, accounts):
    response = Client(enforce_csrf_checks=True).post(
        reverse("messaging:messages"),
        data=message(),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 202


# -- reading a message back --------------------------------------------------------------------------------


def test_a_message_reads_back_with_its_trail_error_and_metadata(post, get, accounts):
    queued = post(message(provider=None, route="uk", metadata={"order": 8812})).json()
    send = Send.objects.get()
    Send.objects.filter(pk=send.pk).update(
        status=SendStatus.FAILED,
        attempts=2,
        error_code="INVALID_TO",
        error_category="validation",
        status_reason="INVALID_TO: The recipient number is invalid",
        completed_at=send.created_at,
    )
    response = get(queued["id"])
    assert response.status_code == 200, response.content
    document = response.json()
    MessageDetail.model_validate(document)
    assert document == {
        "id": queued["id"],
        "status": "failed",
        "provider": "t23",
        "route": "uk",
        "to": UK,
        "attempts": 2,
        "error": {
            "code": "INVALID_TO",
            "category": "validation",
            "message": "INVALID_TO: The recipient number is invalid",
        },
        "routing": [{"at": document["routing"][0]["at"], "words": "chose t23", "provider": "t23"}],
        "created_at": queued["created_at"],
        "completed_at": queued["created_at"],
        "metadata": {"order": 8812},
    }


def test_a_new_message_reads_back_queued_without_an_error(post, get, accounts):
    queued = post(message()).json()
    document = get(queued["id"]).json()
    assert (document["status"], document["error"], document["routing"], document["completed_at"]) == (
        "queued",
        None,
        [],
        None,
    )
    assert (document["attempts"], document["metadata"], document["route"]) == (0, {}, None)


def test_a_token_sees_only_its_own_messages(post, get, accounts):
    mine = post(message()).json()["id"]
    other = make_token(name="other")
    not_yours = errors(get(mine, auth=f"Bearer {other}"), 404)
    missing = errors(get(mine + 1000, auth=f"Bearer {other}"), 404)
    # The same answer as for an id that does not exist: nothing tells them apart.
    assert not_yours[0]["path"] == missing[0]["path"] == ""
    assert not_yours[0]["message"] == f"No message of this token has the id {mine}."
    # Nor do messages sent without the API (the dashboard, the ingest API) show.
    internal = Send.objects.create(provider=accounts["t23"], recipient=UK, body="x")
    errors(get(internal.pk), 404)
    assert get(mine).status_code == 200


def test_reading_needs_the_scope_and_get(client, get, accounts):
    events_only = make_token(scopes=[tokens.EVENTS_WRITE])
    [problem] = errors(get(1, auth=f"Bearer {events_only}"), 403)
    assert problem["path"] == "Authorization"
    errors(get(1, auth=""), 401)
    response = client.post(reverse("messaging:message_detail", args=[1]))
    errors(response, 405)
    assert response["Allow"] == "GET"


# -- end to end ------------------------------------------------------------------------------------------------


def test_a_routed_message_goes_out_and_reads_back_accepted(
    client, token, simulator, make_provider, eager_celery, django_capture_on_commit_callbacks, settings
):
    settings.SENDWATCH_PHONE_REGION = "GB"
    provider = make_provider("23telecom", simulator.root, slug="t23-live")
    route = Route.objects.create(slug="live", name="Live")
    RouteStep.objects.create(route=route, provider=provider)
    auth = f"Bearer {token}"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("messaging:messages"),
            data={"to": "07911 123456", "body": "Your code is 123456", "route": "live"},
            content_type="application/json",
            HTTP_AUTHORIZATION=auth,
        )
    assert response.status_code == 202, response.content
    document = client.get(reverse("messaging:message_detail", args=[response.json()["id"]]), HTTP_AUTHORIZATION=auth)
    detail = document.json()
    assert (detail["status"], detail["attempts"], detail["provider"], detail["error"]) == (
        "accepted",
        1,
        "t23-live",
        None,
    )
    assert len(simulator.messages("23telecom", "t23-live")) == 1


# -- concurrency --------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_queue_one_message(make_provider, dispatched):
    """8 threads, each with its own connection, POST the same key at once: one row, one id for all."""
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.fail("an in-memory SQLite database is not shared between threads: nothing concurrent would run")
    make_provider("23telecom", NOWHERE, slug="t23")
    token = make_token()
    payload = json.dumps(message(idempotency_key="same-for-all"))
    workers = 8
    barrier = threading.Barrier(workers)
    answers: list[tuple[int, dict]] = []
    failures: list[BaseException] = []
    connections: set[int] = set()

    def worker():
        try:
            connection.ensure_connection()
            connections.add(id(connection.connection))
            barrier.wait(timeout=30)
            response = Client().post(
                reverse("messaging:messages"),
                data=payload,
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {token}",
            )
            answers.append((response.status_code, response.json()))
        except BaseException as exc:  # re-raised below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a request hung"
    assert not failures, failures
    assert len(connections) == workers  # each thread had a database connection of its own
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] * (workers - 1) + [202], answers
    assert len({document["id"] for _, document in answers}) == 1
    assert Send.objects.filter(request_key="same-for-all").count() == 1
    assert Send.objects.count() == 1
    assert len(dispatched) == 1


# -- OpenAPI ----------------------------------------------------------------------------------------------------------


def test_the_openapi_document_describes_both_operations(client):
    schema = client.get(reverse("messaging:openapi")).json()
    send = schema["paths"]["/api/v1/messages"]["post"]
    read = schema["paths"]["/api/v1/messages/{id}"]["get"]
    assert {"200", "202", "400", "401", "403", "405", "409", "413", "415", "429", "503"} <= set(send["responses"])
    assert {"200", "401", "403", "404", "405", "429"} <= set(read["responses"])
    assert "Retry-After" in send["responses"]["503"]["headers"]
    request_refs = {s["$ref"] for s in send["requestBody"]["content"]["application/json"]["schema"]["oneOf"]}
    assert request_refs == {"#/components/schemas/MessageIn", "#/components/schemas/MessageBatchIn"}
    schemas = schema["components"]["schemas"]
    assert schemas["MessageIn"]["properties"].keys() == MessageIn.model_fields.keys()
    assert set(schemas["MessageIn"]["required"]) == {"to", "body"}
    assert schemas["MessageBatchIn"]["properties"]["messages"]["maxItems"] == 1000
    assert set(schemas["MessageDetail"]["properties"]) == {
        "id",
        "status",
        "provider",
        "route",
        "to",
        "attempts",
        "error",
        "routing",
        "created_at",
        "completed_at",
        "metadata",
    }
    # The examples are valid documents of their own schemas.
    examples = send["requestBody"]["content"]["application/json"]["examples"]
    MessageIn.model_validate(examples["single"]["value"])
    MessageDetail.model_validate(read["responses"]["200"]["content"]["application/json"]["example"])
    for ref in {part.split('"')[0] for part in json.dumps(schema).split('"$ref": "')[1:]}:
        assert ref.rsplit("/", 1)[1] in schemas


def test_a_number_of_the_right_length_is_taken_even_in_a_range_kept_for_drama():
    from messaging.traffic.numbers import InvalidNumber, to_e164

    # Ofcom keeps +44 7700 900xxx for fiction; libphonenumber calls it invalid, but it is a
    # possible UK mobile number, and the vendor is the one to say it cannot deliver.
    assert to_e164("+447700900001") == "+447700900001"
    assert to_e164("07700 900001", "GB") == "+447700900001"
    with pytest.raises(InvalidNumber):
        to_e164("+4412")
