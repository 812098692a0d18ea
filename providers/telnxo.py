"""Telnxo (Rackwave; error codes shared with the sister email platform MigoSMTP).

Base URL:  https://api.telnxo.com/v1
Auth:      ``Authorization: Bearer <key>``
Send:      ``POST /sms/send`` ``{"to", "sender_id", "message"}`` — endpoint documented, body ASSUMED;
           ``X-Idempotency-Key`` is sent when the message has an idempotency key (reuse within 24 h -> 409)
Balance:   none documented; plan usage is read from the ASSUMED ``GET /account/usage``
           (path overridable with ``options["usage_path"]``), so ``balance_kind`` is "quota"
Errors:    ``{"success": false, "error": "<code>", "message", "code": <http status>, "field"}`` (seed 003);
           ``field`` names the offending field; the request id is the ``X-Request-ID`` response header.

Assumptions, where shared/vendors/telnxo.md and seed 003 are silent:
- Send body and answer follow the notes' proposal: ``{"to", "sender_id", "message"}`` ->
  ``{"success": true, "message_id", "status"}``, one recipient per request (§3).
- Usage answer follows the notes' proposal: ``{"plan", "period_start", "period_end", "sms":
  {"monthly_quota", "used", "hourly_limit", "daily_limit"}}`` (§4); ``used``/``limit`` are monthly.
- ``account_suspended`` / ``account_expired`` are filed under balance: both arrive as 402 and are
  cleared by paying (overdue invoice, renewal), which is the same action as a money shortfall (seed 003).
- ``daily_limit_reached`` / ``hourly_limit_reached`` are quota, but retryable: the same request
  succeeds unchanged once the window resets (seed 003 lists them twice; one entry each).
- ``sender_id_not_registered`` and ``domain_not_verified`` are compliance: the platform gates which
  sender identities may be used until they are registered/verified (seed 003).
- ``gateway_timeout`` may have queued the message: never retried blindly, flagged ambiguous (seed 003).
- ``duplicate_idempotency_key`` is not retried; on a resend with the same key it suggests the first
  attempt was accepted, which the notes call undocumented (§8).
"""

from __future__ import annotations

from typing import Any

from providers.base import BaseAdapter
from providers.parsing import as_int, as_text
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
    # -- authentication (seed 003)
    CatalogueEntry(
        "authentication_required",
        401,
        Category.AUTH,
        retryable=False,
        description="The request carried no Authorization header.",
        resolution="Configure an API key on the provider; it is sent as a Bearer token.",
    ),
    CatalogueEntry(
        "invalid_api_key",
        401,
        Category.AUTH,
        retryable=False,
        description="The API key is wrong, malformed or revoked.",
        resolution="Check the key; create a new one in Telnxo (Developer, API Keys) if it was revoked.",
    ),
    CatalogueEntry(
        "api_key_expired",
        401,
        Category.AUTH,
        retryable=False,
        description="The API key passed the expiry date set when it was created.",
        resolution="Create a new key and update the provider.",
    ),
    CatalogueEntry(
        "insufficient_scope",
        403,
        Category.PERMISSION,
        retryable=False,
        description="The key's scope does not cover this endpoint.",
        resolution="Create a key whose scope includes SMS sending and reporting.",
    ),
    CatalogueEntry(
        "ip_not_whitelisted",
        403,
        Category.PERMISSION,
        retryable=False,
        description="The calling IP address is not on the key's allow-list.",
        resolution="Add Sendwatch's outbound IP addresses to the key's allow-list.",
    ),
    # -- account & subscription
    CatalogueEntry(
        "account_suspended",
        402,
        Category.BALANCE,
        retryable=False,
        description="The subscription is suspended because an invoice is overdue.",
        resolution="Pay the outstanding invoice in the Rackwave portal.",
    ),
    CatalogueEntry(
        "account_expired",
        402,
        Category.BALANCE,
        retryable=False,
        description="The trial or subscription has ended.",
        resolution="Renew or upgrade the subscription.",
    ),
    CatalogueEntry(
        "quota_exceeded",
        402,
        Category.QUOTA,
        retryable=False,
        description="This month's sending quota is used up.",
        resolution="Upgrade the plan or wait for the quota to reset with the next billing cycle.",
    ),
    CatalogueEntry(
        "daily_limit_reached",
        429,
        Category.QUOTA,
        retryable=True,
        description="The plan's daily sending limit has been reached.",
        resolution="Hold sends until midnight in the account's timezone, or upgrade the plan.",
    ),
    CatalogueEntry(
        "hourly_limit_reached",
        429,
        Category.QUOTA,
        retryable=True,
        description="The plan's hourly sending limit has been reached.",
        resolution="Queue sends and retry once the next hour starts, or upgrade the plan.",
    ),
    # -- validation
    CatalogueEntry(
        "missing_required_field",
        422,
        Category.VALIDATION,
        retryable=False,
        description="A field the endpoint requires was not sent.",
        resolution="The error's field (param) names the missing field; add it.",
    ),
    CatalogueEntry(
        "invalid_email_address",
        422,
        Category.VALIDATION,
        retryable=False,
        description="An email address (to, from or reply_to) is not valid; MigoSMTP only.",
        resolution="Send RFC 5321 addresses.",
    ),
    CatalogueEntry(
        "invalid_phone_number",
        422,
        Category.VALIDATION,
        retryable=False,
        description="The phone number is not in E.164 international form.",
        resolution="Write numbers as +<country code><number>, e.g. +919876543210.",
    ),
    CatalogueEntry(
        "invalid_json",
        400,
        Category.VALIDATION,
        retryable=False,
        description="The request body is not valid JSON.",
        resolution="A Sendwatch bug if it repeats; keep the raw body for the developers.",
    ),
    CatalogueEntry(
        "field_too_long",
        422,
        Category.VALIDATION,
        retryable=False,
        description="A field is longer than Telnxo allows.",
        resolution="Shorten the field named in param.",
    ),
    CatalogueEntry(
        "invalid_template_id",
        422,
        Category.VALIDATION,
        retryable=False,
        description="The template id does not exist or the template is inactive.",
        resolution="Use the id of a published, active template.",
    ),
    CatalogueEntry(
        "missing_template_variable",
        422,
        Category.VALIDATION,
        retryable=False,
        description="A variable the template uses was given no value.",
        resolution="Supply every template variable, or give the template fallback values.",
    ),
    CatalogueEntry(
        "domain_not_verified",
        422,
        Category.COMPLIANCE,
        retryable=False,
        description="The sending domain has not been verified (MigoSMTP email).",
        resolution="Finish domain verification in the dashboard's domain management.",
    ),
    CatalogueEntry(
        "sender_id_not_registered",
        422,
        Category.COMPLIANCE,
        retryable=False,
        description="The SMS sender id is not registered on the account.",
        resolution="Register the sender id in Telnxo (SMS, Sender IDs) before using it.",
    ),
    # -- resources
    CatalogueEntry(
        "resource_not_found",
        404,
        Category.NOT_FOUND,
        retryable=False,
        description="No resource has the requested id.",
        resolution="Check the id for typos or stale references.",
    ),
    CatalogueEntry(
        "duplicate_resource",
        409,
        Category.CONFLICT,
        retryable=False,
        description="Something with the same identifier was created before.",
        resolution="Use another identifier or update the existing resource.",
    ),
    CatalogueEntry(
        "duplicate_idempotency_key",
        409,
        Category.CONFLICT,
        retryable=False,
        description="The X-Idempotency-Key was already used in the last 24 hours.",
        resolution="If this is a resend, check whether the first attempt went out; otherwise use a new key.",
    ),
    CatalogueEntry(
        "resource_limit_reached",
        409,
        Category.QUOTA,
        retryable=False,
        description="The plan allows no more resources of this type (domains, SMTP accounts, ...).",
        resolution="Delete an unused resource or upgrade the plan.",
    ),
    # -- sending policy
    CatalogueEntry(
        "recipient_suppressed",
        422,
        Category.COMPLIANCE,
        retryable=False,
        description="The recipient is on the account's suppression list.",
        resolution="Do not send; remove the entry only if it was suppressed by mistake.",
    ),
    CatalogueEntry(
        "dnd_number",
        422,
        Category.COMPLIANCE,
        retryable=False,
        description="The number is on India's Do Not Disturb registry, which bars promotional SMS.",
        resolution="Send only transactional messages to this number.",
    ),
    CatalogueEntry(
        "dlt_scrubbed",
        422,
        Category.COMPLIANCE,
        retryable=False,
        description="The text matched no DLT-registered template (India).",
        resolution="Register the exact template on DLT and map its PE ID and Template ID.",
    ),
    CatalogueEntry(
        "whatsapp_template_not_approved",
        422,
        Category.COMPLIANCE,
        retryable=False,
        description="Meta has not approved the WhatsApp template used.",
        resolution="Wait for Meta's approval or use an approved template.",
    ),
    CatalogueEntry(
        "session_window_expired",
        422,
        Category.COMPLIANCE,
        retryable=False,
        description="The 24-hour WhatsApp conversation window has closed.",
        resolution="Send an approved template message to reopen the conversation.",
    ),
    # -- rate limits
    CatalogueEntry(
        "rate_limit_exceeded",
        429,
        Category.RATE_LIMIT,
        retryable=True,
        description="Too many API requests in the current one-minute window.",
        resolution="Wait for Retry-After, then retry with exponential backoff.",
    ),
    # -- server
    CatalogueEntry(
        "internal_error",
        500,
        Category.SERVER,
        retryable=True,
        description="Telnxo failed unexpectedly.",
        resolution="Retry with backoff (same idempotency key); quote X-Request-ID to support if it persists.",
    ),
    CatalogueEntry(
        "service_unavailable",
        503,
        Category.UNAVAILABLE,
        retryable=True,
        description="Telnxo is in maintenance or overloaded.",
        resolution="Retry after a short delay and check Rackwave's status page.",
    ),
    CatalogueEntry(
        "gateway_timeout",
        504,
        Category.TIMEOUT,
        retryable=False,
        description="A carrier or relay behind Telnxo did not answer in time; the message may have been queued.",
        resolution="Check the message logs before resending to avoid a duplicate.",
        ambiguous=True,
    ),
)

DEFAULT_USAGE_PATH = "/account/usage"


class TelnxoAdapter(BaseAdapter):
    kind = "telnxo"
    label = "Telnxo"
    default_base_url = "https://api.telnxo.com/v1"
    errors = ERRORS
    balance_kind = "quota"
    request_id_header = "X-Request-ID"
    idempotent_sends = True

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credential.key}"}

    @classmethod
    def means_already_accepted(cls, error: NormalizedError) -> bool:
        # Assumption (vendors/telnxo.md §8): a 409 on a resend with the same key means the first try went through.
        return error.provider_code == "duplicate_idempotency_key"

    @classmethod
    def extract_error(cls, data: Any) -> ErrorFields | None:
        if not isinstance(data, dict) or data.get("success") is True:
            return None
        if "error" not in data and data.get("success") is not False:
            return None
        return ErrorFields(
            code=as_text(data.get("error")),
            message=as_text(data.get("message")) or "",
            param=as_text(data.get("field")),
        )

    # ---- send (endpoint documented, body assumed) ----

    def build_send_request(self, message: OutgoingMessage) -> HttpRequest:
        (recipient,) = message.recipients
        headers = {"X-Idempotency-Key": message.idempotency_key} if message.idempotency_key else {}
        return HttpRequest(
            "POST",
            "/sms/send",
            json={"to": recipient, "sender_id": message.sender, "message": message.body},
            headers=headers,
        )

    def parse_send_response(self, message: OutgoingMessage, response: HttpResponse, data: Any) -> list[RecipientResult]:
        if not isinstance(data, dict) or data.get("success") is not True:
            raise ResponseShapeError("send answer lacks success: true")
        return [
            RecipientResult(
                recipient=message.recipients[0],
                accepted=True,
                vendor_message_id=as_text(data.get("message_id")),
                vendor_status=as_text(data.get("status")) or "",
            )
        ]

    # ---- plan usage (endpoint assumed) ----

    def build_balance_request(self) -> HttpRequest:
        return HttpRequest("GET", self.options.get("usage_path") or DEFAULT_USAGE_PATH)

    def parse_balance_response(self, response: HttpResponse, data: Any) -> BalanceResult:
        sms = data.get("sms") if isinstance(data, dict) else None
        if not isinstance(sms, dict):
            raise ResponseShapeError("usage answer has no sms object")
        details = {
            name: value
            for name, value in (
                ("plan", as_text(data.get("plan"))),
                ("period_start", as_text(data.get("period_start"))),
                ("period_end", as_text(data.get("period_end"))),
                ("hourly_limit", as_int(sms.get("hourly_limit"))),
                ("daily_limit", as_int(sms.get("daily_limit"))),
            )
            if value is not None
        }
        return BalanceResult(
            http_status=response.status,
            latency_ms=response.latency_ms,
            used=as_int(sms.get("used")),
            limit=as_int(sms.get("monthly_quota")),
            unit="messages",
            details=details,
        )
