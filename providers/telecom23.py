"""23 Telecom — SMS CPaaS.

Base URL:  https://restlink23telecom.com/api/v1 (sandbox keys ``sk_test_`` use the same URL)
Auth:      ``X-API-Key: <key>`` (the optional HMAC signing and JWT modes are not used)
Send:      ``POST /sms/send`` ``{"to": [...], "message", "sender_id"}``, 1-100 recipients,
           per-recipient outcome in ``results[]`` (accepted / blocked_country / queue_error / config_error)
Balance:   ``GET /user/balance`` -> ``balance``, ``currency``, ``credit_blocked``; degraded answers carry
           ``unavailable: true`` and/or the ``X-Sms-Gateway-Status`` header
Errors:    ``{"status": false, "error_code": "...", "description": "..."}`` (seed 000); the 402 adds a
           cost breakdown.

Assumptions, where shared/vendors/23telecom.md and seed 000 are silent:
- A ``results[]`` item that is not ``accepted`` may lack ``message_id``; it is optional (23telecom.md §4).
- The three non-accepted per-recipient statuses are catalogued under their own names
  (``blocked_country`` etc.) with the 200 status they arrive in (23telecom.md §4).
- An unlisted per-recipient status is treated as "not accepted, reconcile before resending" (§4).
- ``INTERNAL_ERROR`` is not retried: the vendor names only ``DB_ERROR`` as safe to retry and there is
  no idempotency key, so a resend could duplicate (seed 000, §10).
- A 429 without a JSON body (per-IP limiter, edge proxy HTML page) is catalogued as ``http_429`` (§7).
- The onboarding answer (200 ``{"status": false, "error": "Account is in setup process"}``) is reported
  as an unavailable balance with ``details["state"] == "setup"``, not as an error (§6).
- A degraded balance (``unavailable: true`` or ``X-Sms-Gateway-Status: partial|unavailable``) has no
  real amount: ``amount`` is None and the vendor's figure is kept in ``details["reported_balance"]`` (§6).
- No request-id response header exists (§11); there is nothing to read into ``request_id``.
"""

from __future__ import annotations

import json
from typing import Any

from providers.base import BaseAdapter
from providers.parsing import as_decimal, as_int, as_text
from providers.types import (
    BalanceResult,
    CatalogueEntry,
    Category,
    ErrorFields,
    HttpRequest,
    HttpResponse,
    NormalizedError,
    OutgoingMessage,
    RecipientResult,
    ResponseShapeError,
    catalogue,
)

ERRORS = catalogue(
    # -- authentication & authorization (seed 000)
    CatalogueEntry(
        "UNAUTHORIZED",
        401,
        Category.AUTH,
        retryable=False,
        description="No credentials were sent, or 23 Telecom did not recognise them.",
        resolution="Check that the provider has an API key configured and that it is sent as X-API-Key.",
    ),
    CatalogueEntry(
        "INVALID_TOKEN",
        401,
        Category.AUTH,
        retryable=False,
        description="The JWT bearer token is malformed, revoked or otherwise invalid.",
        resolution="Sign in again for a fresh token, or switch the provider to an API key.",
    ),
    CatalogueEntry(
        "TOKEN_EXPIRED",
        401,
        Category.AUTH,
        retryable=False,
        description="The JWT bearer token has passed its expiry time.",
        resolution="Obtain a new token; API keys avoid token expiry altogether.",
    ),
    CatalogueEntry(
        "INVALID_API_KEY",
        401,
        Category.AUTH,
        retryable=False,
        description="23 Telecom has no key matching the one sent.",
        resolution="Re-enter the key from the 23 Telecom portal; it may have been deleted or mistyped.",
    ),
    CatalogueEntry(
        "API_KEY_INACTIVE",
        401,
        Category.AUTH,
        retryable=False,
        description="The API key exists but has been switched off.",
        resolution="Re-enable the key in the 23 Telecom portal or create a new one.",
    ),
    CatalogueEntry(
        "API_KEY_EXPIRED",
        401,
        Category.AUTH,
        retryable=False,
        description="The API key reached its expiry date.",
        resolution="Create a replacement key in the portal and update the provider.",
    ),
    CatalogueEntry(
        "INVALID_CREDENTIALS",
        401,
        Category.AUTH,
        retryable=False,
        description="The username/password login was rejected.",
        resolution="Check the portal login; API calls should use an API key instead.",
    ),
    CatalogueEntry(
        "USER_NOT_ACTIVE",
        401,
        Category.AUTH,
        retryable=False,
        description="The 23 Telecom account behind the credentials is suspended or inactive.",
        resolution="Contact 23 Telecom to reactivate the account; a new key will not help.",
    ),
    CatalogueEntry(
        "IP_NOT_ALLOWED",
        401,
        Category.AUTH,
        retryable=False,
        description="The call came from an IP address the key's allow-list does not include.",
        resolution="Add Sendwatch's outbound IP addresses to the key's allow-list.",
    ),
    CatalogueEntry(
        "SIGNATURE_REQUIRED",
        401,
        Category.AUTH,
        retryable=False,
        description="The key was created with request signing enabled, but no signature headers were sent.",
        resolution="Use a key without signature verification, or add X-Timestamp/X-Signature signing.",
    ),
    CatalogueEntry(
        "INVALID_SIGNATURE",
        401,
        Category.AUTH,
        retryable=False,
        description="The HMAC request signature did not verify (wrong secret, stale timestamp or replay).",
        resolution="Check the signing secret and the server clock; each signature may be used once.",
    ),
    CatalogueEntry(
        "FORBIDDEN",
        403,
        Category.PERMISSION,
        retryable=False,
        description="The key is valid but lacks the permission this endpoint needs.",
        resolution="Grant the key sms.send for sending and balance.read for balance checks.",
    ),
    CatalogueEntry(
        "NO_SMS_ACCESS",
        403,
        Category.PERMISSION,
        retryable=False,
        description="SMS has not been set up on this 23 Telecom account.",
        resolution="Ask 23 Telecom to enable SMS for the account.",
    ),
    CatalogueEntry(
        "CONFIG_ERROR",
        403,
        Category.PERMISSION,
        retryable=False,
        description="The account's gateway credentials are incomplete on 23 Telecom's side.",
        resolution="Open a ticket with 23 Telecom support; nothing can be fixed from Sendwatch.",
    ),
    CatalogueEntry(
        "CROSS_TENANT_WORKSPACE",
        403,
        Category.PERMISSION,
        retryable=False,
        description="The X-Workspace-ID header names a workspace the caller does not own, or one that was deleted.",
        resolution="Use a workspace id from your own account, or drop the header for API-key calls.",
    ),
    CatalogueEntry(
        "NO_MAIN_WORKSPACE",
        403,
        Category.PERMISSION,
        retryable=False,
        description="The account has no live main workspace to route the call to.",
        resolution="Contact 23 Telecom support to restore the main workspace.",
    ),
    CatalogueEntry(
        "WORKSPACE_NOT_AVAILABLE",
        403,
        Category.PERMISSION,
        retryable=False,
        description="The workspace the call targets has been deleted.",
        resolution="Create a key inside a live workspace and use that instead.",
    ),
    # -- validation
    CatalogueEntry(
        "INVALID_BODY",
        400,
        Category.VALIDATION,
        retryable=False,
        description="The request body could not be parsed as JSON.",
        resolution="This is a Sendwatch bug if it repeats; keep the raw body for the developers.",
    ),
    CatalogueEntry(
        "INVALID_PARAMS",
        400,
        Category.VALIDATION,
        retryable=False,
        description="A query or path parameter was not acceptable.",
        resolution="Check the identifiers and filters in the request.",
    ),
    CatalogueEntry(
        "INVALID_TO",
        400,
        Category.VALIDATION,
        retryable=False,
        description="The recipient list was missing or empty.",
        resolution="Send at least one E.164 recipient number.",
    ),
    CatalogueEntry(
        "INVALID_MESSAGE",
        400,
        Category.VALIDATION,
        retryable=False,
        description="The message text was missing or empty.",
        resolution="Provide non-empty message text.",
    ),
    CatalogueEntry(
        "INVALID_SENDER",
        400,
        Category.VALIDATION,
        retryable=False,
        description="The sender_id was missing or empty.",
        resolution="Set a sender: 3-11 alphanumeric characters not starting with a digit, or a phone number.",
    ),
    CatalogueEntry(
        "TOO_MANY_RECIPIENTS",
        400,
        Category.VALIDATION,
        retryable=False,
        description="More than 100 recipients were sent in one request.",
        resolution="Split the send into batches of at most 100 numbers.",
    ),
    CatalogueEntry(
        "INVALID_WORKSPACE_HEADER",
        400,
        Category.VALIDATION,
        retryable=False,
        description="X-Workspace-ID was present but not a positive integer.",
        resolution="Send a numeric workspace id or leave the header out.",
    ),
    CatalogueEntry(
        "INSUFFICIENT_BALANCE",
        402,
        Category.BALANCE,
        retryable=False,
        description="The estimated cost of the send is more than the account's balance; nothing was sent.",
        resolution="Top up the 23 Telecom account; the error details show balance and estimated cost.",
    ),
    # -- rate limiting
    CatalogueEntry(
        "RATE_LIMIT_EXCEEDED",
        429,
        Category.RATE_LIMIT,
        retryable=True,
        description="The account-wide request rate limit was hit.",
        resolution="Back off and retry after a short delay; the vendor sends no Retry-After here.",
    ),
    CatalogueEntry(
        "TOO_MANY_ATTEMPTS",
        429,
        Category.RATE_LIMIT,
        retryable=True,
        description="Too many login or two-factor attempts in a short time.",
        resolution="Wait for the Retry-After period before trying again.",
    ),
    CatalogueEntry(
        "http_429",
        429,
        Category.RATE_LIMIT,
        retryable=True,
        description="A per-IP or edge-proxy rate limit answered 429 without a JSON error body.",
        resolution="Back off exponentially and retry; reduce request volume from this IP.",
    ),
    # -- other
    CatalogueEntry(
        "NOT_FOUND",
        404,
        Category.NOT_FOUND,
        retryable=False,
        description="The message or resource does not exist, or belongs to another account.",
        resolution="Check the message id and that it was sent with this account.",
    ),
    CatalogueEntry(
        "INTERNAL_ERROR",
        500,
        Category.SERVER,
        retryable=False,
        description="23 Telecom failed internally; whether a send was queued is not stated.",
        resolution="Check the message history before resending: only DB_ERROR is documented as safe to retry.",
        ambiguous=True,
    ),
    CatalogueEntry(
        "DB_ERROR",
        500,
        Category.SERVER,
        retryable=True,
        description="The send could not be queued and was rolled back as a whole; nothing went out.",
        resolution="Retry the same request; 23 Telecom documents this as safe to repeat.",
    ),
    CatalogueEntry(
        "SANDBOX_UNAVAILABLE",
        503,
        Category.UNAVAILABLE,
        retryable=True,
        description="The sandbox simulator behind a sk_test_ key is down; nothing is sent to live.",
        resolution="Retry later; sandbox outages never affect live traffic.",
    ),
    # -- per-recipient statuses inside a 200 send answer (23telecom.md §4)
    CatalogueEntry(
        "blocked_country",
        200,
        Category.COMPLIANCE,
        retryable=False,
        description="The destination country is on the account's block list, so this recipient was skipped.",
        resolution="Unblock the country in the 23 Telecom portal if sending there is intended.",
    ),
    CatalogueEntry(
        "queue_error",
        200,
        Category.SERVER,
        retryable=True,
        description="23 Telecom could not queue the message for this recipient.",
        resolution="Retry this recipient; it was not sent.",
    ),
    CatalogueEntry(
        "config_error",
        200,
        Category.PERMISSION,
        retryable=False,
        description="SMS is not configured on the account, so this recipient was not sent.",
        resolution="Ask 23 Telecom to complete the account's SMS configuration.",
    ),
)

_DEGRADED_GATEWAY_STATES = frozenset({"partial", "unavailable"})
# Money values are kept as decimal strings: exact, and safe to store as JSON.
_COST_FIELDS = ("balance", "estimated_cost")
_COUNT_FIELDS = ("total_recipients", "billable_recipients", "segments")


class Telecom23Adapter(BaseAdapter):
    kind = "23telecom"
    label = "23 Telecom"
    default_base_url = "https://restlink23telecom.com/api/v1"
    errors = ERRORS
    max_recipients = 100
    # "poll at most every few minutes" (shared/vendors/23telecom.md, balance): we read it as 5 minutes.
    min_poll_seconds = 300
    poll_guidance = "23 Telecom asks for balance polls no more often than every few minutes"

    def auth_headers(self) -> dict[str, str]:
        return {"X-API-Key": self.credential.key}

    @classmethod
    def extract_error(cls, data: Any) -> ErrorFields | None:
        if not isinstance(data, dict):
            return None
        code = as_text(data.get("error_code"))
        if code is None and data.get("status") is not False:
            return None
        details: dict[str, Any] = {}
        for name in _COST_FIELDS:
            amount = as_decimal(data.get(name))
            if amount is not None:
                details[name] = str(amount)
        for name in _COUNT_FIELDS:
            count = as_int(data.get(name))
            if count is not None:
                details[name] = count
        currency = as_text(data.get("currency"))
        if currency is not None:
            details["currency"] = currency
        # Without error_code (the onboarding answer) the caller decides from the HTTP status.
        message = as_text(data.get("description")) or as_text(data.get("error")) or ""
        return ErrorFields(code=code, message=message, details=details)

    # ---- send ----

    def build_send_request(self, message: OutgoingMessage) -> HttpRequest:
        return HttpRequest(
            "POST",
            "/sms/send",
            json={"to": list(message.recipients), "message": message.body, "sender_id": message.sender},
        )

    def parse_send_response(self, message: OutgoingMessage, response: HttpResponse, data: Any) -> list[RecipientResult]:
        results = data.get("results") if isinstance(data, dict) else None
        if not isinstance(results, list) or not results:
            raise ResponseShapeError("send answer has no results[] list")
        return [self._recipient_result(item, response.status) for item in results]

    def _recipient_result(self, item: Any, http_status: int) -> RecipientResult:
        if not isinstance(item, dict):
            raise ResponseShapeError("results[] item is not an object")
        recipient = as_text(item.get("dnis"))
        status = as_text(item.get("status"))
        if recipient is None or status is None:
            raise ResponseShapeError("results[] item lacks dnis or status")
        accepted = status == "accepted"
        return RecipientResult(
            recipient=recipient,
            accepted=accepted,
            vendor_message_id=as_text(item.get("message_id")),
            vendor_status=status,
            error=None if accepted else self._recipient_error(status, http_status, item),
        )

    def _recipient_error(self, status: str, http_status: int, item: dict[str, Any]) -> NormalizedError:
        entry = self.errors.get(status)
        return NormalizedError(
            kind=self.kind,
            provider_code=status,
            # An unlisted status says nothing about whether the message left: reconcile, don't resend.
            category=entry.category if entry else Category.UNKNOWN,
            http_status=http_status,
            retryable=entry.retryable if entry else False,
            message=f"{self.label} did not accept this recipient: {status}",
            known=entry is not None,
            description=entry.description if entry else "",
            resolution=entry.resolution if entry else "",
            ambiguous=entry.ambiguous if entry else True,
            raw_body=self.keep_raw(json.dumps(item)),
        )

    # ---- balance ----

    def build_balance_request(self) -> HttpRequest:
        return HttpRequest("GET", "/user/balance")

    def parse_balance_response(self, response: HttpResponse, data: Any) -> BalanceResult:
        if not isinstance(data, dict):
            raise ResponseShapeError("balance answer is not an object")
        if data.get("status") is False:
            # Onboarding: the account exists but has no balance yet; not a failure.
            return BalanceResult(
                http_status=response.status,
                latency_ms=response.latency_ms,
                unavailable=True,
                details={"state": "setup", "message": as_text(data.get("error")) or ""},
            )
        amount = as_decimal(data.get("balance"))
        gateway_state = (response.headers.get("X-Sms-Gateway-Status") or "").strip().lower()
        degraded = data.get("unavailable") is True or gateway_state in _DEGRADED_GATEWAY_STATES
        if amount is None and not degraded:
            raise ResponseShapeError("balance answer has no numeric balance")
        details: dict[str, Any] = {}
        updated = as_text(data.get("updated"))
        if updated is not None:
            details["updated"] = updated
        if degraded:
            details["reason"] = as_text(data.get("reason")) or response.headers.get("X-Sms-Gateway-Reason") or ""
            if amount is not None:
                details["reported_balance"] = str(amount)
        return BalanceResult(
            http_status=response.status,
            latency_ms=response.latency_ms,
            amount=None if degraded else amount,
            currency=as_text(data.get("currency")) or "",
            blocked=data.get("credit_blocked") is True,
            unavailable=degraded,
            details=details,
        )
