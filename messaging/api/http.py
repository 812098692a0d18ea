"""What every API view shares: the error shape, the method check, the token checks, reading a JSON body.

Each API view runs the same checks in the same order (docs/api.md "Errors"): method (405),
failed token attempts from the client's address (429), bearer token (401), the token's rate
limit (429), its scope (403); a view that takes a body then checks its content type (415)
and size (413) before reading more than the cap. A helper returns either what the view needs
or the JsonResponse to answer with. Every error answers ``{"errors": [{"path": ..., "message":
...}]}``; a 429 also carries ``Retry-After`` (whole seconds, at least 1).
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, JsonResponse

from messaging.models import ApiToken
from messaging.traffic.ingest import problem
from messaging.vault import tokens
from messaging.vault.actor import client_ip

JSON_TYPE = "application/json"
REALM = 'Bearer realm="sendwatch"'


def error_response(status: int, problems: list[dict[str, str]], **headers: str) -> JsonResponse:
    response = JsonResponse({"errors": problems}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def method_not_allowed(request: HttpRequest, allowed: str) -> JsonResponse:
    message = f"Method {request.method} is not allowed here; use {allowed}."
    return error_response(405, [problem("", message)], Allow=allowed)


def forbidden(exc: tokens.Forbidden, prefix: str, ip: str | None, log: logging.Logger) -> JsonResponse:
    # Logged, not audited: a misconfigured caller would fill the audit log one request at a time.
    log.warning("API token %s from %s refused: %s", prefix, ip or "-", exc)
    return error_response(403, [problem(exc.path, str(exc))])


def authenticate(request: HttpRequest, scope: str, log: logging.Logger) -> ApiToken | JsonResponse:
    """The request's token, holding ``scope``; else the 429, 401 or 403 to answer with."""
    ip = client_ip(request)
    try:
        token = tokens.authenticate(request.headers.get("Authorization"), ip=ip)
    except tokens.Throttled as exc:
        return error_response(429, [problem("", str(exc))], Retry_After=str(exc.retry_after))
    except tokens.TokenError as exc:
        challenge = REALM if not request.headers.get("Authorization") else f'{REALM}, error="invalid_token"'
        return error_response(401, [problem("Authorization", str(exc))], WWW_Authenticate=challenge)
    try:
        tokens.require_scope(token, scope)
    except tokens.Forbidden as exc:
        return forbidden(exc, token.prefix, ip, log)
    return token


def read_json(request: HttpRequest, max_bytes: int) -> bytes | JsonResponse:
    """The raw body of a JSON request of at most ``max_bytes``; else the 415 or 413 to answer with.

    The size is checked from Content-Length before reading, then while reading (a chunked body
    has no trustworthy length): never more than ``max_bytes + 1`` bytes are read.
    """
    charset = (request.content_params or {}).get("charset", "utf-8").lower()
    if request.content_type != JSON_TYPE or charset not in ("utf-8", "utf8"):
        got = request.META.get("CONTENT_TYPE") or "none"
        return error_response(
            415, [problem("Content-Type", f"Send Content-Type: {JSON_TYPE} (UTF-8); got {got[:100]!r}.")]
        )
    too_large = problem("", f"The request body is larger than {max_bytes} bytes; send smaller batches.")
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > max_bytes:
        return error_response(413, [too_large])
    raw = request.read(max_bytes + 1)
    if len(raw) > max_bytes:
        return error_response(413, [too_large])
    return raw
