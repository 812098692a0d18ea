"""Telephony.io — pre-paid (wallet) Verify/Voice API.

Base URL:  https://www.telephony.io/api (no version segment)
Auth:      ``Authorization: Bearer <secret key>`` (``sk_live_…``; publishable keys are not enough)
Send:      ``POST /sms/send`` ``{"to", "from", "message"}`` — ASSUMED, see below
Balance:   ``GET /account/balance`` -> ``balance`` (+ assumed ``currency``)
Errors:    two envelopes (seed 001 and telephonyio.md §8):
           ``{"error": "<text>", "code": "<code>", ...}`` (the 402 adds ``required_credits`` and
           ``current_balance``) and ``{"error": {"code", "message"}}``. 400/401/402/429/500 are documented
           with no code of their own; those are catalogued as ``http_<status>``.

Assumptions, where shared/vendors/telephonyio.md and seed 001 are silent:
- There is no documented free-text SMS endpoint. The request and answer follow the shape the notes
  propose: ``POST /sms/send`` -> ``{"success": true, "messageId", "status", "creditsUsed"}`` (§3a).
- One recipient per request, as with every documented Telephony.io send (§3).
- The balance currency is not documented: ``currency`` from the body if present, else
  ``options["currency"]``, else "USD" (§4).
- A 500 is retried as the vendor's best-practice list says, although no idempotency key exists (§9).
- No request-id header is documented (§9).
"""

from __future__ import annotations

from typing import Any

from providers.base import BaseAdapter
from providers.parsing import as_decimal, as_text
from providers.types import (
    BalanceResult,
    CatalogueEntry,
    Category,
    ErrorFields,
    HttpRequest,
    HttpResponse,
    OutgoingMessage,
    RecipientResult,
    ResponseShapeError,
    catalogue,
)

ERRORS = catalogue(
    CatalogueEntry(
        "invalid_parameter",
        400,
        Category.VALIDATION,
        retryable=False,
        description="A parameter was missing or malformed, for example a phone number not in E.164 form.",
        resolution="Read the error message for the offending parameter and correct the request.",
    ),
    CatalogueEntry(
        "unauthorized",
        401,
        Category.AUTH,
        retryable=False,
        description="The API key was missing, wrong or revoked.",
        resolution="Paste a current secret key (sk_live_…) into the provider settings.",
    ),
    CatalogueEntry(
        "insufficient_balance",
        402,
        Category.BALANCE,
        retryable=False,
        description="The wallet holds fewer credits than the request costs.",
        resolution="Top up the Telephony.io wallet from its dashboard; details show required and current credits.",
    ),
    CatalogueEntry(
        "http_400",
        400,
        Category.VALIDATION,
        retryable=False,
        description="Telephony.io rejected the request as invalid without giving a code.",
        resolution="Check the request parameters, phone number format and code length.",
    ),
    CatalogueEntry(
        "http_401",
        401,
        Category.AUTH,
        retryable=False,
        description="Authentication failed and no error code was given.",
        resolution="Check the secret key configured for this provider.",
    ),
    CatalogueEntry(
        "http_402",
        402,
        Category.BALANCE,
        retryable=False,
        description="The wallet could not pay for the request and no error code was given.",
        resolution="Top up the Telephony.io wallet from its dashboard.",
    ),
    CatalogueEntry(
        "http_429",
        429,
        Category.RATE_LIMIT,
        retryable=True,
        description="The account's rate limit was exceeded.",
        resolution="Wait for the Retry-After period, then retry with exponential backoff.",
    ),
    CatalogueEntry(
        "http_500",
        500,
        Category.SERVER,
        retryable=True,
        description="Telephony.io failed internally.",
        resolution="Retry with exponential backoff; contact their support if it persists.",
    ),
)

_CREDIT_FIELDS = ("required_credits", "current_balance")


class TelephonyIoAdapter(BaseAdapter):
    kind = "telephonyio"
    label = "Telephony.io"
    default_base_url = "https://www.telephony.io/api"
    errors = ERRORS

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credential.key}"}

    @classmethod
    def extract_error(cls, data: Any) -> ErrorFields | None:
        if not isinstance(data, dict) or data.get("error") is None:
            return None
        error = data["error"]
        if isinstance(error, dict):  # the authentication page's nested shape
            return ErrorFields(code=as_text(error.get("code")), message=as_text(error.get("message")) or "")
        details: dict[str, Any] = {}
        for name in _CREDIT_FIELDS:
            amount = as_decimal(data.get(name))
            if amount is not None:
                details[name] = str(amount)  # exact, and JSON-safe
        return ErrorFields(code=as_text(data.get("code")), message=as_text(error) or "", details=details)

    # ---- send (assumed endpoint) ----

    def build_send_request(self, message: OutgoingMessage) -> HttpRequest:
        (recipient,) = message.recipients
        return HttpRequest("POST", "/sms/send", json={"to": recipient, "from": message.sender, "message": message.body})

    def parse_send_response(self, message: OutgoingMessage, response: HttpResponse, data: Any) -> list[RecipientResult]:
        if not isinstance(data, dict) or data.get("success") is not True:
            raise ResponseShapeError("send answer lacks success: true")
        return [
            RecipientResult(
                recipient=message.recipients[0],
                accepted=True,
                vendor_message_id=as_text(data.get("messageId")),
                vendor_status=as_text(data.get("status")) or "",
            )
        ]

    # ---- balance ----

    def build_balance_request(self) -> HttpRequest:
        return HttpRequest("GET", "/account/balance")

    def parse_balance_response(self, response: HttpResponse, data: Any) -> BalanceResult:
        amount = as_decimal(data.get("balance")) if isinstance(data, dict) else None
        if amount is None:
            raise ResponseShapeError("balance answer has no numeric balance")
        return BalanceResult(
            http_status=response.status,
            latency_ms=response.latency_ms,
            amount=amount,
            currency=as_text(data.get("currency")) or self.options.get("currency") or "USD",
        )
