"""texting.blue — iMessage sent from the customer's own iPhone.

Base URL:  https://api.texting.blue/v1
Auth:      ``x-api-key: <key>`` (``tb_live_…``)
Send:      ``POST /messages/send`` ``{"to", "from", "content"}``, one recipient, ``202`` with ``id`` (``msg_…``)
Balance:   no money balance; ``GET /team`` gives the plan and ``monthly_message_limit``, so
           ``balance_kind`` is "quota"
Errors:    ``{"error": {"code", "message", "param"?}}`` (seed 004); ``plan_limit_exceeded`` adds
           ``limit``, ``current`` and ``upgrade_url``; 429 bodies state the wait in the message text.

Assumptions, where shared/vendors/textingblue.md and seed 004 are silent:
- The team answer has no usage counter, so ``used`` is None: Sendwatch counts its own sends (§5).
- A null ``monthly_message_limit`` (Enterprise "custom" caps) means "no known limit" (§5).
- ``/messages/send`` is used, not the dashboard quick-start's ``/messages`` (§3).
- No request-id header and no idempotency key are documented (§9).
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
    OutgoingMessage,
    RecipientResult,
    ResponseShapeError,
    catalogue,
)

ERRORS = catalogue(
    CatalogueEntry(
        "invalid_request",
        400,
        Category.VALIDATION,
        retryable=False,
        description="The request was malformed or a parameter was wrong, e.g. a bad or unregistered number.",
        resolution="See param: 'to' must be E.164; 'from' must be a verified, active number of the team.",
    ),
    CatalogueEntry(
        "unauthorized",
        401,
        Category.AUTH,
        retryable=False,
        description="The API key is missing or not valid.",
        resolution="Check the key configured for the provider; it is sent as x-api-key.",
    ),
    CatalogueEntry(
        "plan_limit_exceeded",
        402,
        Category.QUOTA,
        retryable=False,
        description="The plan's monthly message cap, or another plan resource cap, has been reached.",
        resolution="Upgrade the plan (details carry the upgrade URL) or wait for the next billing cycle.",
    ),
    CatalogueEntry(
        "forbidden",
        403,
        Category.PERMISSION,
        retryable=False,
        description="The key is valid but lacks the permission this call needs.",
        resolution="Create a key with messages:send, messages:read, numbers:read and team:read.",
    ),
    CatalogueEntry(
        "not_found",
        404,
        Category.NOT_FOUND,
        retryable=False,
        description="The resource does not exist, perhaps because it was deleted.",
        resolution="Verify the id is current; deleted resources cannot be fetched.",
    ),
    CatalogueEntry(
        "conflict",
        409,
        Category.CONFLICT,
        retryable=False,
        description="A resource with the same identifier exists already, such as a duplicate phone number.",
        resolution="Use the existing resource instead of creating it again.",
    ),
    CatalogueEntry(
        "rate_limited",
        429,
        Category.RATE_LIMIT,
        retryable=True,
        description="The plan's request or message rate was exceeded.",
        resolution="Wait for the Retry-After period, then retry with backoff.",
    ),
    CatalogueEntry(
        "internal_error",
        500,
        Category.SERVER,
        retryable=True,
        description="texting.blue failed internally.",
        resolution="Retry; contact texting.blue support if it keeps happening.",
    ),
)

_PLAN_LIMIT_COUNTS = ("limit", "current")


class TextingBlueAdapter(BaseAdapter):
    kind = "textingblue"
    label = "texting.blue"
    default_base_url = "https://api.texting.blue/v1"
    errors = ERRORS
    balance_kind = "quota"

    def auth_headers(self) -> dict[str, str]:
        return {"x-api-key": self.credential.key}

    @classmethod
    def extract_error(cls, data: Any) -> ErrorFields | None:
        error = data.get("error") if isinstance(data, dict) else None
        if not isinstance(error, dict):
            return None
        details: dict[str, Any] = {}
        for name in _PLAN_LIMIT_COUNTS:
            count = as_int(error.get(name))
            if count is not None:
                details[name] = count
        upgrade_url = as_text(error.get("upgrade_url"))
        if upgrade_url is not None:
            details["upgrade_url"] = upgrade_url
        return ErrorFields(
            code=as_text(error.get("code")),
            message=as_text(error.get("message")) or "",
            param=as_text(error.get("param")),
            details=details,
        )

    # ---- send ----

    def build_send_request(self, message: OutgoingMessage) -> HttpRequest:
        (recipient,) = message.recipients
        return HttpRequest(
            "POST", "/messages/send", json={"to": recipient, "from": message.sender, "content": message.body}
        )

    def parse_send_response(self, message: OutgoingMessage, response: HttpResponse, data: Any) -> list[RecipientResult]:
        message_id = as_text(data.get("id")) if isinstance(data, dict) else None
        if message_id is None:
            raise ResponseShapeError("send answer has no message id")
        return [
            RecipientResult(
                recipient=message.recipients[0],
                accepted=True,
                vendor_message_id=message_id,
                vendor_status=as_text(data.get("status")) or "",
            )
        ]

    # ---- plan caps ----

    def build_balance_request(self) -> HttpRequest:
        return HttpRequest("GET", "/team")

    def parse_balance_response(self, response: HttpResponse, data: Any) -> BalanceResult:
        if not isinstance(data, dict) or "monthly_message_limit" not in data:
            raise ResponseShapeError("team answer has no monthly_message_limit")
        details = {"plan": as_text(data.get("plan")) or "", "team": as_text(data.get("name")) or ""}
        return BalanceResult(
            http_status=response.status,
            latency_ms=response.latency_ms,
            used=None,  # not reported by texting.blue; Sendwatch counts its own sends
            limit=as_int(data.get("monthly_message_limit")),
            unit="messages",
            details=details,
        )
