"""The endpoint's HTTP contract: auth, status codes, limits, CSRF, and the OpenAPI document."""

from __future__ import annotations

import io
import json
import logging

import pytest
from django.test import Client
from django.urls import reverse

from messaging.models import ApiToken, Provider
from messaging.traffic.ingest import MAX_REQUEST_BYTES
from messaging.vault import tokens
from tests.api import bodies
from tests.api.conftest import counts

pytestmark = pytest.mark.django_db

PAYLOAD = {"provider": "t23", "events": [{"http_status": 402, "body": bodies.T23_INSUFFICIENT_BALANCE}]}


def _errors(response, status: int) -> list[dict]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    document = json.loads(response.content)
    assert list(document) == ["errors"] and document["errors"]
    return document["errors"]


# -- authentication ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("authorization", "says"),
    [
        ("", "missing"),
        ("Basic dXNlcjpwYXNz", "Bearer scheme"),
        ("Bearer", "malformed"),
        ("Bearer    ", "malformed"),
        ("Bearer not-a-sendwatch-token", "malformed"),
        ("Bearer swk_" + "A" * 43, "not recognised"),
        ("Token swk_" + "A" * 43, "Bearer scheme"),
    ],
)
def test_missing_or_bad_credentials_are_401_with_a_bearer_challenge(post, vendors, authorization, says):
    response = post(PAYLOAD, auth=authorization)
    (problem,) = _errors(response, 401)
    assert problem["path"] == "Authorization"
    assert says in problem["message"]
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert counts() == (0, 0)


def test_no_authorization_header_at_all_is_401(client, vendors, events_url):
    response = client.post(events_url, data=PAYLOAD, content_type="application/json")
    _errors(response, 401)
    assert response["WWW-Authenticate"] == 'Bearer realm="sendwatch"'


def test_a_revoked_token_is_401_and_says_revoked(post, vendors, token):
    tokens.revoke(ApiToken.objects.get())
    response = post(PAYLOAD)
    (problem,) = _errors(response, 401)
    assert "revoked" in problem["message"]
    assert 'error="invalid_token"' in response["WWW-Authenticate"]
    assert counts() == (0, 0)


def test_the_scheme_is_case_insensitive(post, vendors, token):
    assert post(PAYLOAD, auth=f"bearer {token}").status_code == 200


def test_the_token_never_appears_in_answers_or_logs(post, vendors, token, caplog):
    caplog.set_level(logging.DEBUG)
    revoked_row, revoked = tokens.create_token("old", providers=tokens.ALL_PROVIDERS)
    tokens.revoke(revoked_row)
    answers = [
        post(PAYLOAD),
        post(PAYLOAD, auth=f"Bearer {revoked}"),
        post(PAYLOAD, auth=f"Basic {token}"),
        post(PAYLOAD, auth=f"Bearer {token}x!"),
        post({**PAYLOAD, "provider": "nobody"}),
        post({"provider": "t23", "events": [{"http_status": "x"}]}),
    ]
    for secret in (token, revoked, token[4:], revoked[4:]):
        for response in answers:
            assert secret not in response.content.decode()
            assert all(secret not in value for value in response.headers.values())
        assert secret not in caplog.text
    assert not ApiToken.objects.filter(token_hash__in=[token, revoked]).exists()


# -- provider -----------------------------------------------------------------------------------


def test_an_unknown_provider_slug_is_404_naming_it(post, vendors):
    (problem,) = _errors(post({**PAYLOAD, "provider": "no-such-account"}), 404)
    assert problem["path"] == "provider" and "no-such-account" in problem["message"]
    assert counts() == (0, 0)


def test_a_disabled_provider_is_409(post, vendors):
    Provider.objects.filter(slug="t23").update(enabled=False)
    (problem,) = _errors(post(PAYLOAD), 409)
    assert problem["path"] == "provider" and "disabled" in problem["message"]
    assert counts() == (0, 0)


# -- method, content type, size, CSRF ---------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_methods_other_than_post_are_405_json(client, token, events_url, method):
    response = getattr(client, method)(events_url, HTTP_AUTHORIZATION=f"Bearer {token}")
    (problem,) = _errors(response, 405)
    assert response["Allow"] == "POST"
    assert method.upper() in problem["message"]


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1", "application/jsonx"],
)
def test_a_wrong_content_type_is_415(post, vendors, content_type):
    (problem,) = _errors(post(raw=json.dumps(PAYLOAD), content_type=content_type), 415)
    assert problem["path"] == "Content-Type"
    assert counts() == (0, 0)


def test_json_with_a_utf8_charset_is_accepted(post, vendors):
    assert post(PAYLOAD, content_type="application/json; charset=UTF-8").status_code == 200


def test_a_declared_length_over_the_cap_is_413_before_reading(client, token, vendors, events_url):
    class Unreadable:
        def read(self, *args):
            raise AssertionError("the body must not be read")

        readline = read

    response = client.generic(
        "POST",
        events_url,
        data=b"{}",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        CONTENT_LENGTH=str(MAX_REQUEST_BYTES + 1),
        **{"wsgi.input": Unreadable()},
    )
    (problem,) = _errors(response, 413)
    assert str(MAX_REQUEST_BYTES) in problem["message"]


def test_a_body_over_the_cap_is_413(post, vendors):
    event = {"http_status": 500, "body": "x" * 60_000}
    raw = json.dumps({"provider": "t23", "events": [event] * 150})
    assert len(raw) > MAX_REQUEST_BYTES
    _errors(post(raw=raw), 413)
    assert counts() == (0, 0)


def test_a_body_without_a_trustworthy_length_is_still_capped_while_reading(token, vendors, events_url):
    # Under ASGI a chunked body has no Content-Length and the stream is not limited by one:
    # reading stops one byte past the cap.
    from django.test import RequestFactory

    from messaging.api import views as api

    raw = json.dumps({"provider": "t23", "events": [{"http_status": 500, "body": "x" * 60_000}] * 150}).encode()
    request = RequestFactory().post(
        events_url, data=b"{}", content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    request.META.pop("CONTENT_LENGTH", None)
    stream = io.BytesIO(raw)
    request._stream = stream
    response = api.ingest_events(request)
    _errors(response, 413)
    assert stream.tell() == MAX_REQUEST_BYTES + 1
    assert counts() == (0, 0)


def test_no_csrf_token_is_needed(token, vendors, events_url):
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(
        events_url, data=PAYLOAD, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 200


# -- OpenAPI ---------------------------------------------------------------------------------------


def test_the_openapi_document_describes_the_endpoint(client):
    response = client.get(reverse("messaging:openapi"))  # no token needed
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.1")
    operation = schema["paths"]["/api/v1/events"]["post"]
    assert operation["security"] == [{"bearerAuth": []}]
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    assert set(operation["responses"]) >= {"200", "400", "401", "404", "409", "413", "415"}
    for code in ("400", "401", "404", "413"):
        ref = operation["responses"][code]["content"]["application/json"]["schema"]["$ref"]
        assert ref == "#/components/schemas/ErrorResponse"
    request_ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert request_ref == "#/components/schemas/IngestRequest"
    schemas = schema["components"]["schemas"]
    assert set(schemas["IngestRequest"]["required"]) == {"provider", "events"}
    assert schemas["IngestRequest"]["properties"]["events"]["maxItems"] == 1000
    assert schemas["IngestRequest"]["additionalProperties"] is False
    event = schemas["IngestEvent"]
    assert set(event["required"]) == {"http_status", "body"}
    assert (event["properties"]["http_status"]["minimum"], event["properties"]["http_status"]["maximum"]) == (100, 599)
    assert "sms" in json.dumps(event["properties"]["channel"])
    assert set(schemas["ErrorResponse"]["properties"]) == {"errors"}
    assert set(schemas["IngestResponse"]["required"]) == {"provider", "received", "recorded", "duplicates", "results"}
    # Every reference resolves inside the document.
    refs = {part.split('"')[0] for part in json.dumps(schema).split('"$ref": "')[1:]}
    for ref in refs:
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas


def test_the_openapi_document_is_the_same_models_the_endpoint_validates_with(client):
    from messaging.traffic.ingest import IngestEvent

    schema = client.get(reverse("messaging:openapi")).json()
    assert schema["components"]["schemas"]["IngestEvent"]["properties"].keys() == IngestEvent.model_fields.keys()


def test_the_openapi_document_only_answers_get(client):
    _errors(client.post(reverse("messaging:openapi")), 405)
