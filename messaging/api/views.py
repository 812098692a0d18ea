"""The ingest API over HTTP: thin views around messaging.traffic.ingest (see docs/api.md).

``POST /api/v1/events`` checks, in this order: method (405), failed token
attempts from the client's address (429), bearer token (401), the token's rate
limit (429), its ``events:write`` scope (403), content type (415), size (413,
from Content-Length before reading, then while reading), body shape (400), the
token's providers (403: checked before the slug is looked up, so a limited token
cannot probe which slugs exist), then hands the request to the service: provider
slug (404), disabled provider (409), and records. Every error answers
``{"errors": [{"path": ..., "message": ...}]}``; a 429 also carries
``Retry-After`` (whole seconds, at least 1).

``GET /api/v1/openapi.json`` serves the OpenAPI 3.1 document, built from the
service's pydantic models, for this API and the send API (messaging.api.messages).
The checks every API view shares are in messaging.api.http.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_variables
from pydantic.json_schema import models_json_schema

from messaging.api import messages
from messaging.api.http import JSON_TYPE, authenticate, error_response, forbidden, method_not_allowed, read_json
from messaging.traffic import ingest
from messaging.traffic.ingest import MAX_EVENTS, MAX_REQUEST_BYTES
from messaging.vault import tokens
from messaging.vault.actor import client_ip
from messaging.vault.permissions import public

logger = logging.getLogger(__name__)


@public
@csrf_exempt  # token-authenticated, never cookie-authenticated: CSRF does not apply
@sensitive_variables()
def ingest_events(request: HttpRequest) -> JsonResponse:
    if request.method != "POST":
        return method_not_allowed(request, "POST")
    token = authenticate(request, tokens.EVENTS_WRITE, logger)
    if isinstance(token, JsonResponse):
        return token
    raw = read_json(request, MAX_REQUEST_BYTES)
    if isinstance(raw, JsonResponse):
        return raw

    now = timezone.now()
    try:
        payload = ingest.parse(raw, now=now)
        tokens.require_provider(token, payload.provider)
        result = ingest.record(payload, now=now)
    except ingest.IngestError as exc:
        return error_response(exc.status, exc.problems)
    except tokens.Forbidden as exc:
        return _forbidden(exc, token.prefix, client_ip(request))
    return JsonResponse(result, status=200)


def _forbidden(exc: tokens.Forbidden, prefix: str, ip: str | None) -> JsonResponse:
    return forbidden(exc, prefix, ip, logger)


@public
def openapi(request: HttpRequest) -> JsonResponse:
    if request.method not in ("GET", "HEAD"):
        return method_not_allowed(request, "GET")
    return JsonResponse(openapi_schema(), json_dumps_params={"indent": 2})


def _error(description: str, example_path: str, example_message: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            JSON_TYPE: {
                "schema": {"$ref": "#/components/schemas/ErrorResponse"},
                "example": {"errors": [{"path": example_path, "message": example_message}]},
            }
        },
    }


@cache
def openapi_schema() -> dict[str, Any]:
    """The OpenAPI 3.1 document for the ingest API and the send API."""
    _, defs = models_json_schema(
        [
            (ingest.IngestRequest, "validation"),
            (ingest.IngestResponse, "serialization"),
            (ingest.ErrorResponse, "serialization"),
            (messages.MessageIn, "validation"),
            (messages.MessageBatchIn, "validation"),
            (messages.MessageQueued, "serialization"),
            (messages.MessageBatchQueued, "serialization"),
            (messages.MessageDetail, "serialization"),
        ],
        ref_template="#/components/schemas/{model}",
    )
    events_path = reverse("messaging:ingest_events")
    unauthorized = _error(
        "No, malformed, unknown or revoked bearer token.", "Authorization", "Bearer token has been revoked"
    )
    unauthorized["headers"] = {
        "WWW-Authenticate": {"schema": {"type": "string"}, "description": 'Bearer realm="sendwatch"'}
    }
    too_many = _error(
        "The token's rate limit is reached, or this address sent too many failed token attempts. Nothing is "
        "written; retry after Retry-After seconds.",
        "",
        "Rate limit of this token reached (100 requests per 2 s, 50/s); retry in 1 s.",
    )
    too_many["headers"] = {
        "Retry-After": {"schema": {"type": "integer", "minimum": 1}, "description": "Seconds to wait."}
    }
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "Sendwatch API",
            "version": "1",
            "description": (
                "Report each vendor response your systems receive, so Sendwatch can normalize errors and count "
                "error rates (ingest API); send messages through a route or a provider and read them back (send "
                "API). See docs/api.md for examples."
            ),
        },
        "paths": {
            events_path: {
                "post": {
                    "operationId": "ingestEvents",
                    "summary": f"Record up to {MAX_EVENTS} vendor responses for one provider",
                    "description": (
                        "All or nothing: a request with any validation problem writes nothing. A 2xx event is "
                        "recorded as an accepted send unless its body is an error in the vendor's shape; anything "
                        "else is a failed send plus a normalized error event. Events whose idempotency_key this "
                        "provider has seen are not recorded again (duplicate: true)."
                    ),
                    "security": [{"bearerAuth": []}],
                    "requestBody": {
                        "required": True,
                        "content": {JSON_TYPE: {"schema": {"$ref": "#/components/schemas/IngestRequest"}}},
                    },
                    "responses": {
                        "200": {
                            "description": "Recorded (including duplicates); one result per event, in order.",
                            "content": {JSON_TYPE: {"schema": {"$ref": "#/components/schemas/IngestResponse"}}},
                        },
                        "400": _error(
                            "The body is not JSON or not a valid request; every problem is listed, nothing written.",
                            "events[3].http_status",
                            "Must be an integer from 100 to 599 (not a boolean, string or float).",
                        ),
                        "401": unauthorized,
                        "403": _error(
                            "The token lacks the events:write scope (path Authorization), or may not act for this "
                            "provider (path provider). Nothing is written.",
                            "provider",
                            "This token may not act for provider 'eu'; ask a Sendwatch admin for access.",
                        ),
                        "404": _error("No provider has this slug.", "provider", "No provider has the slug 'nope'."),
                        "405": _error("Only POST is allowed.", "", "Method GET is not allowed here; use POST."),
                        "409": _error(
                            "The provider is disabled.", "provider", "Provider 'x' is disabled; enable it to record."
                        ),
                        "413": _error(
                            f"The body is larger than {MAX_REQUEST_BYTES} bytes.",
                            "",
                            f"The request body is larger than {MAX_REQUEST_BYTES} bytes; send smaller batches.",
                        ),
                        "415": _error(
                            "Content-Type is not application/json.",
                            "Content-Type",
                            "Send Content-Type: application/json (UTF-8); got 'text/plain'.",
                        ),
                        "429": too_many,
                    },
                }
            },
            **_send_api_paths(unauthorized, too_many),
            reverse("messaging:openapi"): {
                "get": {
                    "operationId": "openapiSchema",
                    "summary": "This document",
                    "security": [],
                    "responses": {"200": {"description": "The OpenAPI 3.1 document", "content": {JSON_TYPE: {}}}},
                }
            },
        },
        "components": {
            "schemas": defs["$defs"],
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": (
                        "A token from `manage.py create_api_token NAME --providers all|SLUG,... "
                        "[--scopes events:write,messages:send]` (swk_...). The ingest API needs the events:write "
                        "scope, the send API messages:send; both need access to the request's providers."
                    ),
                }
            },
        },
    }


def _json(schema: str, **extra: Any) -> dict[str, Any]:
    return {JSON_TYPE: {"schema": {"$ref": f"#/components/schemas/{schema}"}, **extra}}


def _send_api_paths(unauthorized: dict[str, Any], too_many: dict[str, Any]) -> dict[str, Any]:
    """The send API's two operations (messaging.api.messages)."""
    single = {"to": "+447911123456", "body": "Your code is 123456", "route": "uk-otp", "idempotency_key": "otp-77"}
    queued = {
        "id": 918301,
        "status": "queued",
        "provider": "23telecom-eu",
        "route": "uk-otp",
        "to": "+447911123456",
        "created_at": "2026-11-20T09:30:00.123456Z",
        "created": True,
    }
    either = {
        "oneOf": [{"$ref": "#/components/schemas/MessageQueued"}, {"$ref": "#/components/schemas/MessageBatchQueued"}]
    }
    no_route = _error(
        "No provider of the route can take the message now (each one's reason is given). Nothing is written; "
        "retry after Retry-After seconds.",
        "route",
        "no provider of route uk-otp can take it: 23telecom-eu: critical; textingblue-us: circuit breaker open "
        "until 09:31:00",
    )
    no_route["headers"] = {"Retry-After": {"schema": {"type": "integer", "const": messages.NO_ROUTE_RETRY_AFTER}}}
    send = {
        "operationId": "sendMessages",
        "summary": f"Send one message, or a batch of up to {messages.MAX_MESSAGES}, through a route or a provider",
        "description": (
            "A body with `messages` is a batch, anything else one message. Each message names exactly one of "
            "`route` (Sendwatch picks the provider, with failover) and `provider`. All or nothing: a request "
            "with any problem writes nothing. The same idempotency_key from the same token returns the first "
            "message (200 when every message of the request was queued before); with different content it is "
            "409. A token limited to some providers may use a route only when every provider of the route is "
            "among them."
        ),
        "security": [{"bearerAuth": []}],
        "requestBody": {
            "required": True,
            "content": {
                JSON_TYPE: {
                    "schema": {
                        "oneOf": [
                            {"$ref": "#/components/schemas/MessageIn"},
                            {"$ref": "#/components/schemas/MessageBatchIn"},
                        ]
                    },
                    "examples": {
                        "single": {"summary": "One message through a route", "value": single},
                        "batch": {
                            "summary": "A batch",
                            "value": {
                                "messages": [
                                    single,
                                    {
                                        "to": "07911 123457",
                                        "body": "Your parcel is on its way",
                                        "provider": "textingblue-us",
                                        "metadata": {"order": 8812},
                                    },
                                ]
                            },
                        },
                    },
                }
            },
        },
        "responses": {
            "202": {
                "description": "Queued (at least one message is new); one answer per message, in order.",
                "content": {
                    JSON_TYPE: {
                        "schema": either,
                        "examples": {
                            "single": {"value": queued},
                            "batch": {"value": {"messages": [queued, {**queued, "id": 918302, "created": False}]}},
                        },
                    }
                },
            },
            "200": {
                "description": "Every message was queued before under its idempotency key: the first ones, unchanged.",
                "content": {
                    JSON_TYPE: {"schema": either, "example": {**queued, "status": "accepted", "created": False}}
                },
            },
            "400": _error(
                "The body is not JSON or not a valid request (a recipient that is no phone number, neither or "
                "both of route and provider, an unknown or disabled route or provider, a key repeated in the "
                "batch); every problem is listed, nothing written.",
                "messages[2].to",
                "'12' is not a valid phone number for any country (read as +44).",
            ),
            "401": unauthorized,
            "403": _error(
                "The token lacks the messages:send scope (path Authorization), may not act for the provider "
                "(path provider), or for every provider of the route (path route). Nothing is written.",
                "messages[0].provider",
                "This token may not act for provider 'eu'; ask a Sendwatch admin for access.",
            ),
            "405": _error("Only POST is allowed.", "", "Method GET is not allowed here; use POST."),
            "409": _error(
                "An idempotency_key this token used before for a different message. Nothing is written.",
                "messages[3].idempotency_key",
                "The idempotency_key 'otp-77' was used before by this token for a different message; send exactly "
                "the same message to get the first one back, or use a new key.",
            ),
            "413": _error(
                f"The body is larger than {MAX_REQUEST_BYTES} bytes.",
                "",
                f"The request body is larger than {MAX_REQUEST_BYTES} bytes; send smaller batches.",
            ),
            "415": _error(
                "Content-Type is not application/json.",
                "Content-Type",
                "Send Content-Type: application/json (UTF-8); got 'text/plain'.",
            ),
            "429": too_many,
            "503": no_route,
        },
    }
    read = {
        "operationId": "getMessage",
        "summary": "One message as it is now: status, provider, attempts, last error, routing decisions",
        "security": [{"bearerAuth": []}],
        "parameters": [
            {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}, "description": "From POST."}
        ],
        "responses": {
            "200": {
                "description": "The message.",
                "content": _json(
                    "MessageDetail",
                    example={
                        **{k: v for k, v in queued.items() if k != "created"},
                        "status": "accepted",
                        "attempts": 2,
                        "error": None,
                        "routing": [
                            {
                                "at": "2026-11-20T09:30:00.123456+00:00",
                                "words": "skipped 8x8-eu: circuit breaker open until 09:31:00; chose 23telecom-eu",
                                "provider": "23telecom-eu",
                            }
                        ],
                        "completed_at": "2026-11-20T09:30:01.402113Z",
                        "metadata": {"order": 8812},
                    },
                ),
            },
            "401": unauthorized,
            "403": _error(
                "The token lacks the messages:send scope.",
                "Authorization",
                "This token lacks the scope 'messages:send' (send messages and read them back: ...).",
            ),
            "404": _error(
                "No message of this token has the id (another token's messages are not shown).",
                "",
                "No message of this token has the id 918301.",
            ),
            "405": _error("Only GET is allowed.", "", "Method POST is not allowed here; use GET."),
            "429": too_many,
        },
    }
    return {reverse("messaging:messages"): {"post": send}, reverse("messaging:messages") + "/{id}": {"get": read}}


@public
@never_cache
def health(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers: answers only when the database does."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok", "database": connection.vendor})
