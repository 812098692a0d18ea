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
service's pydantic models.
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

from messaging.traffic import ingest
from messaging.traffic.ingest import MAX_EVENTS, MAX_REQUEST_BYTES
from messaging.vault import tokens
from messaging.vault.actor import client_ip
from messaging.vault.permissions import public

logger = logging.getLogger(__name__)

JSON_TYPE = "application/json"
REALM = 'Bearer realm="sendwatch"'


def error_response(status: int, problems: list[dict[str, str]], **headers: str) -> JsonResponse:
    response = JsonResponse({"errors": problems}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def method_not_allowed(request: HttpRequest, allowed: str) -> JsonResponse:
    message = f"Method {request.method} is not allowed here; use {allowed}."
    return error_response(405, [ingest.problem("", message)], Allow=allowed)


@public
@csrf_exempt  # token-authenticated, never cookie-authenticated: CSRF does not apply
@sensitive_variables()
def ingest_events(request: HttpRequest) -> JsonResponse:
    if request.method != "POST":
        return method_not_allowed(request, "POST")

    ip = client_ip(request)
    try:
        token = tokens.authenticate(request.headers.get("Authorization"), ip=ip)
    except tokens.Throttled as exc:
        return error_response(429, [ingest.problem("", str(exc))], Retry_After=str(exc.retry_after))
    except tokens.TokenError as exc:
        challenge = REALM if not request.headers.get("Authorization") else f'{REALM}, error="invalid_token"'
        return error_response(401, [ingest.problem("Authorization", str(exc))], WWW_Authenticate=challenge)
    try:
        tokens.require_scope(token, tokens.EVENTS_WRITE)
    except tokens.Forbidden as exc:
        return _forbidden(exc, token.prefix, ip)

    charset = (request.content_params or {}).get("charset", "utf-8").lower()
    if request.content_type != JSON_TYPE or charset not in ("utf-8", "utf8"):
        got = request.META.get("CONTENT_TYPE") or "none"
        return error_response(
            415, [ingest.problem("Content-Type", f"Send Content-Type: {JSON_TYPE} (UTF-8); got {got[:100]!r}.")]
        )

    too_large = ingest.problem("", f"The request body is larger than {MAX_REQUEST_BYTES} bytes; send smaller batches.")
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_REQUEST_BYTES:
        return error_response(413, [too_large])
    raw = request.read(MAX_REQUEST_BYTES + 1)
    if len(raw) > MAX_REQUEST_BYTES:
        return error_response(413, [too_large])

    now = timezone.now()
    try:
        payload = ingest.parse(raw, now=now)
        tokens.require_provider(token, payload.provider)
        result = ingest.record(payload, now=now)
    except ingest.IngestError as exc:
        return error_response(exc.status, exc.problems)
    except tokens.Forbidden as exc:
        return _forbidden(exc, token.prefix, ip)
    return JsonResponse(result, status=200)


def _forbidden(exc: tokens.Forbidden, prefix: str, ip: str | None) -> JsonResponse:
    # Logged, not audited: a misconfigured caller would fill the audit log one request at a time.
    logger.warning("API token %s from %s refused: %s", prefix, ip or "-", exc)
    return error_response(403, [ingest.problem(exc.path, str(exc))])


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
    """The OpenAPI 3.1 document for the ingest API."""
    _, defs = models_json_schema(
        [
            (ingest.IngestRequest, "validation"),
            (ingest.IngestResponse, "serialization"),
            (ingest.ErrorResponse, "serialization"),
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
            "title": "Sendwatch ingest API",
            "version": "1",
            "description": (
                "Report each vendor response your systems receive, so Sendwatch can normalize errors and count "
                "error rates. See docs/api.md for examples."
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
                        "[--scopes events:write]` (swk_...). It needs the events:write scope and access to the "
                        "request's provider."
                    ),
                }
            },
        },
    }


@public
@never_cache
def health(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers: answers only when the database does."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok", "database": connection.vendor})
