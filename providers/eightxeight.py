"""8x8 CPaaS (Connect) — SMS API.

Base URL:  https://sms.8x8.com/api/v1 (regional hosts: sms.us.8x8.com, sms.8x8.uk, sms.8x8.id)
Auth:      ``Authorization: Bearer <apiKey>``
Options:   ``account_id`` (balance) and ``subaccount_id`` (sending), both required
Send:      one recipient  -> ``POST /subaccounts/{subAccountId}/messages``
           several        -> ``POST /subaccounts/{subAccountId}/messages/batch`` (≤ 10,000) with
           ``includeMessagesInResponse: true`` so every message's status comes back
Balance:   ``GET /accounts/{accountId}/balance`` -> ``balance``, ``currency`` (prepaid accounts only)
Errors:    ``{"code": <int>, "message", "errorId", "timestamp"}`` (seed 002); ``errorId`` is the id
           8x8 support asks for. A 429 carries ``"code": 429``, so the HTTP-status table of seed 002 is
           catalogued too, keyed by the status as a string.

Assumptions, where shared/vendors/8x8.md and seed 002 are silent:
- Seed 002 gives no HTTP status per numeric code; each is chosen by code family: 10xx/30xx request
  validation -> 400, 1200 -> 401, 1201/2003/3035 -> 403 (account or product access), 1300 -> 404,
  1100/1400 -> 429, 2000 -> 500, 2001 -> 501, 2002 -> 410 (seed 002 ties 410 to retired API versions).
- 1100 "Bulk limit reached" is read as a cap on bulk volume (quota), not as a short rate limit.
- 1400 "Resending interval violation" is not retried: the guard exists to stop repeat sends.
- The single-send answer has the shape of a batch ``messages[]`` item (8x8.md §3a).
- A message whose ``status.code`` is neither QUEUED nor REJECTED is reported as not accepted and
  ambiguous, so it is reconciled rather than resent (§3).
- ``REJECTED`` is catalogued as a per-message status: 8x8 refused the message at submission (§3a).
- A balance call on a post-paid account answers 1201 "Account not in prepaid mode" (§5, status
  assumed 403); it stays an error, and its catalogue text says post-paid has no balance to show.
- Codes arriving as strings ("1002") or floats (1002.0) are normalised to "1002".
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from providers.base import BaseAdapter
from providers.parsing import as_decimal, as_text
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


def _request_error(code: str, description: str, resolution: str) -> CatalogueEntry:
    """A request-validation code: 8x8 refused the request as sent; resending it unchanged cannot help."""
    return CatalogueEntry(
        code, 400, Category.VALIDATION, retryable=False, description=description, resolution=resolution
    )


ERRORS = catalogue(
    # -- SMS API / Messaging API codes (seed 002)
    _request_error(
        "1000",
        "A request parameter has a value 8x8 does not accept.",
        "Read the message for the parameter and correct it.",
    ),
    _request_error(
        "1001",
        "The sub-account id is not one of this account's sub-accounts.",
        "Correct the subaccount_id option of this provider.",
    ),
    _request_error(
        "1002",
        "The destination is not a valid phone number.",
        "Send the number in international form, e.g. +6591234567.",
    ),
    _request_error("1003", "The encoding value is not one 8x8 knows.", "Use AUTO, GSM7 or UCS2."),
    _request_error("1004", "The message text is not acceptable.", "Check that the text is present and not too long."),
    _request_error(
        "1005",
        "The sender id (source) is not valid.",
        "Use a sender of at most 16 characters that the destination allows.",
    ),
    _request_error("1006", "The expiry time is malformed or already past.", "Send a future ISO 8601 time or omit it."),
    _request_error("1007", "The batch template is not valid.", "Check the template object of the batch request."),
    _request_error("1008", "An identifier in the request is malformed.", "Check the message, batch and client ids."),
    _request_error(
        "1009",
        "The country code is not a valid ISO 3166-1 alpha-2 code.",
        "Send a two-letter country code or leave it out.",
    ),
    _request_error("1010", "A parameter lies outside its allowed range.", "Check the limits in 8x8's API reference."),
    _request_error("1011", "The scheduled send time is malformed or not allowed.", "Send a future ISO 8601 time."),
    _request_error(
        "1012",
        "The end-client IP address given for rate limiting is not a valid address.",
        "Send a valid IPv4 or IPv6 address, or leave the field out.",
    ),
    CatalogueEntry(
        "1100",
        429,
        Category.QUOTA,
        retryable=False,
        description="A bulk-sending limit on the account was reached, so the batch was refused.",
        resolution="Hold further batches until the limit clears, or ask 8x8 to raise it.",
    ),
    CatalogueEntry(
        "1200",
        401,
        Category.AUTH,
        retryable=False,
        description="The API key was missing or not accepted.",
        resolution="Check the API key in the provider settings (Connect portal, Developer Tools, API Keys).",
    ),
    CatalogueEntry(
        "1201",
        403,
        Category.PERMISSION,
        retryable=False,
        description="The key may not use this resource; the balance call also answers this for post-paid accounts.",
        resolution="Check the key's access and IP allow-list; a post-paid account simply has no balance to show.",
    ),
    CatalogueEntry(
        "1300",
        404,
        Category.NOT_FOUND,
        retryable=False,
        description="The object does not exist or has already expired.",
        resolution="Check the id; lookups of old messages expire.",
    ),
    CatalogueEntry(
        "1400",
        429,
        Category.RATE_LIMIT,
        retryable=False,
        description="The same message was sent again before 8x8's minimum resending interval had passed.",
        resolution="Do not resend automatically; if a repeat is really wanted, wait for the interval.",
    ),
    CatalogueEntry(
        "2000",
        500,
        Category.SERVER,
        retryable=True,
        description="8x8 failed internally.",
        resolution="Retry with backoff; quote the errorId to 8x8 support if it persists.",
    ),
    CatalogueEntry(
        "2001",
        501,
        Category.SERVER,
        retryable=False,
        description="The called function is not implemented by 8x8.",
        resolution="Check the endpoint path; retrying will not help.",
    ),
    CatalogueEntry(
        "2002",
        410,
        Category.NOT_FOUND,
        retryable=False,
        description="The API version in the URL is no longer served.",
        resolution="Point the base URL at a supported version (currently /api/v1).",
    ),
    CatalogueEntry(
        "2003",
        403,
        Category.PERMISSION,
        retryable=False,
        description="The product requested is not available to this account or sub-account.",
        resolution="Ask 8x8 to enable the product on the sub-account.",
    ),
    _request_error("3001", "The user the message is addressed to is missing.", "Provide the recipient user."),
    _request_error("3002", "No destination number was given.", "Provide the destination MSISDN."),
    _request_error(
        "3003", "The destination number is not valid for this channel.", "Send the number in international form."
    ),
    _request_error("3004", "The message content is missing.", "Provide the content object."),
    _request_error("3005", "The message text is missing.", "Provide non-empty text."),
    _request_error("3006", "The message text is longer than allowed.", "Shorten the text."),
    _request_error("3007", "A media message came without its media URL.", "Provide the media URL."),
    _request_error("3008", "The media URL is not acceptable.", "Use a reachable HTTPS media URL."),
    _request_error("3009", "clientMessageId is longer than allowed.", "Keep clientMessageId to 50 characters."),
    _request_error(
        "3010", "The content type is not one the channel accepts.", "Use a content type the channel supports."
    ),
    _request_error("3011", "The SMS sender id is too long.", "Shorten the sender id."),
    _request_error("3012", "The batch carried no messages.", "Send at least one message or destination."),
    _request_error("3013", "The batch carried more messages than allowed.", "Split into batches of at most 10,000."),
    _request_error("3014", "clientBatchId is longer than allowed.", "Shorten clientBatchId."),
    _request_error("3015", "The user id is missing.", "Provide the recipient's user id."),
    _request_error("3016", "The WeChat user id is missing.", "Provide the WeChat user id."),
    _request_error("3017", "The fallback text is longer than allowed.", "Shorten the fallback text."),
    _request_error("3018", "The country code is not valid.", "Send a two-letter ISO country code."),
    _request_error("3019", "The Facebook user id is missing.", "Provide the Facebook user id."),
    _request_error("3020", "The delivery-receipt callback URL is not valid.", "Use a valid absolute callback URL."),
    _request_error("3021", "The location is empty or malformed.", "Provide a complete location."),
    _request_error("3022", "The fallback channel is not valid.", "Name a supported fallback channel."),
    _request_error(
        "3023", "The fallback delay is outside the allowed range.", "Use a fallback delay within the limits."
    ),
    _request_error("3024", "The fallback status is not valid.", "Use a supported fallback status."),
    _request_error("3025", "The 'delivered' fallback status setting is not valid.", "Correct the fallback settings."),
    _request_error("3026", "The 'read' fallback status setting is not valid.", "Correct the fallback settings."),
    _request_error(
        "3027",
        "The sub-account has no usable channel for the fallback.",
        "Pick a fallback channel configured on the sub-account.",
    ),
    _request_error("3028", "The Zalo user id is missing.", "Provide the Zalo user id."),
    _request_error("3029", "The message id (UMID) is missing.", "Provide the UMID."),
    _request_error("3030", "The template is empty.", "Provide the template content."),
    _request_error("3031", "The template name has an invalid length.", "Use a template name of allowed length."),
    _request_error("3032", "The template name is not valid.", "Use the exact name of an existing template."),
    _request_error(
        "3033", "More template parameters were sent than the template takes.", "Send only the template's parameters."
    ),
    _request_error("3034", "The template components do not go together.", "Use a valid combination of components."),
    CatalogueEntry(
        "3035",
        403,
        Category.PERMISSION,
        retryable=False,
        description="The sub-account has no channel that supports templates.",
        resolution="Ask 8x8 to add a template-capable channel to the sub-account.",
    ),
    _request_error("3036", "The template language is empty.", "Provide the template language."),
    _request_error("3037", "The template language is not valid.", "Use a language the template is approved in."),
    _request_error("3038", "The named template does not exist.", "Check the template name and language."),
    _request_error("3039", "A template component type is not valid.", "Use a supported component type."),
    _request_error("3040", "The template parameters are empty.", "Provide the template parameters."),
    _request_error("3041", "A template parameter is not valid.", "Correct the template parameter."),
    _request_error("3042", "A template parameter has the wrong type.", "Send each parameter with its expected type."),
    _request_error("3043", "A template text parameter is too long.", "Shorten the text parameter."),
    _request_error("3044", "A template location parameter is empty.", "Provide the location parameter."),
    _request_error("3045", "A template parameter is not allowed here.", "Remove the parameter."),
    _request_error("3046", "A template URL parameter is not valid.", "Use a valid URL."),
    _request_error("3047", "The WhatsApp user id is missing.", "Provide the WhatsApp user id."),
    _request_error("3048", "A chat group id and a user id were both given.", "Address either a group or a user."),
    _request_error("3049", "A button parameter is not valid.", "Correct the button parameter."),
    _request_error("3050", "The Kakao id is missing.", "Provide the Kakao id."),
    _request_error("3051", "The fallback channel id is not valid.", "Use a channel id of the sub-account."),
    _request_error("3052", "A template component subtype is not valid.", "Use a supported component subtype."),
    _request_error("3053", "An index in the request is not valid.", "Correct the index value."),
    # -- HTTP-status table of seed 002, for bodies whose code is the status itself (the 429)
    _request_error(
        "400", "8x8 found the request syntax invalid.", "Correct the request; the message names the problem."
    ),
    CatalogueEntry(
        "401",
        401,
        Category.AUTH,
        retryable=False,
        description="No valid API key was presented.",
        resolution="Check the API key in the provider settings.",
    ),
    CatalogueEntry(
        "403",
        403,
        Category.PERMISSION,
        retryable=False,
        description="The key is valid but has no access to this resource.",
        resolution="Check the key's access and IP allow-list.",
    ),
    CatalogueEntry(
        "404",
        404,
        Category.NOT_FOUND,
        retryable=False,
        description="The resource does not exist.",
        resolution="Check the account and sub-account ids and the URL.",
    ),
    CatalogueEntry(
        "410",
        410,
        Category.NOT_FOUND,
        retryable=False,
        description="The resource, usually an old API version, was removed for good.",
        resolution="Point the base URL at a supported API version.",
    ),
    CatalogueEntry(
        "422",
        422,
        Category.VALIDATION,
        retryable=False,
        description="The request was well-formed but its content made no sense to 8x8.",
        resolution="Correct the request; the message names the problem.",
    ),
    CatalogueEntry(
        "429",
        429,
        Category.RATE_LIMIT,
        retryable=True,
        description="Too many requests for the sub-account or source IP.",
        resolution="Wait for the Retry-After period (usually a second) and retry.",
    ),
    CatalogueEntry(
        "500",
        500,
        Category.SERVER,
        retryable=True,
        description="8x8 hit an error it could not handle.",
        resolution="Retry with backoff; quote the errorId to 8x8 support.",
    ),
    # -- per-message status inside a 200 send answer (8x8.md §3a)
    CatalogueEntry(
        "REJECTED",
        200,
        Category.VALIDATION,
        retryable=False,
        description="8x8 refused this message at submission and will not process it; the reason is in the message.",
        resolution="Fix the cause given in the reason before sending again.",
    ),
)

_ACCEPTED = "QUEUED"
# "1002.0" and 1002.0 are the same code as 1002.
_INTEGRAL = re.compile(r"([+-]?\d+)\.0*")


def _normalized_code(value: Any) -> str | None:
    text = as_text(value)
    if text is None:
        return None
    integral = _INTEGRAL.fullmatch(text)
    return integral.group(1) if integral else text


class EightByEightAdapter(BaseAdapter):
    kind = "8x8"
    label = "8x8"
    default_base_url = "https://sms.8x8.com/api/v1"
    errors = ERRORS
    max_recipients = 10_000
    required_options = ("account_id", "subaccount_id")

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credential.key}"}

    @classmethod
    def extract_error(cls, data: Any) -> ErrorFields | None:
        if not isinstance(data, dict) or ("code" not in data and "errorId" not in data):
            return None
        timestamp = as_text(data.get("timestamp"))
        return ErrorFields(
            code=_normalized_code(data.get("code")),
            message=as_text(data.get("message")) or "",
            request_id=as_text(data.get("errorId")),
            details={"timestamp": timestamp} if timestamp else {},
        )

    def _option_path(self, name: str) -> str:
        value = as_text(self.options.get(name))
        if value is None:
            raise ValueError(f"the 8x8 provider needs the {name!r} option")
        return quote(value, safe="")

    # ---- send ----

    def build_send_request(self, message: OutgoingMessage) -> HttpRequest:
        base = f"/subaccounts/{self._option_path('subaccount_id')}/messages"
        common = {"text": message.body}
        if message.sender:
            common["source"] = message.sender
        if len(message.recipients) == 1:
            body = {"destination": message.recipients[0], **common}
            if message.client_reference:
                body["clientMessageId"] = message.client_reference
            return HttpRequest("POST", base, json=body)
        batch: dict[str, Any] = {
            "destinations": list(message.recipients),
            "template": common,
            "includeMessagesInResponse": True,
        }
        if message.client_reference:
            batch["clientBatchId"] = message.client_reference
        return HttpRequest("POST", f"{base}/batch", json=batch)

    def parse_send_response(self, message: OutgoingMessage, response: HttpResponse, data: Any) -> list[RecipientResult]:
        if not isinstance(data, dict):
            raise ResponseShapeError("send answer is not an object")
        if len(message.recipients) == 1:
            return [self._message_result(data, response.status)]
        items = data.get("messages")
        if not isinstance(items, list) or not items:
            raise ResponseShapeError("batch answer lists no messages")
        return [self._message_result(item, response.status) for item in items]

    def _message_result(self, item: Any, http_status: int) -> RecipientResult:
        status = item.get("status") if isinstance(item, dict) else None
        state = as_text(status.get("code")) if isinstance(status, dict) else None
        recipient = as_text(item.get("destination")) if isinstance(item, dict) else None
        if state is None or recipient is None or not isinstance(status, dict):
            raise ResponseShapeError("message item lacks destination or status.code")
        accepted = state == _ACCEPTED
        reason = as_text(status.get("description")) or ""
        return RecipientResult(
            recipient=recipient,
            accepted=accepted,
            vendor_message_id=as_text(item.get("umid")),
            vendor_status=state,
            error=None if accepted else self._message_error(state, reason, http_status, item),
        )

    def _message_error(self, state: str, reason: str, http_status: int, item: dict[str, Any]) -> NormalizedError:
        entry = self.errors.get(state)
        return NormalizedError(
            kind=self.kind,
            provider_code=state,
            # An unlisted state says nothing about whether the message left: reconcile, don't resend.
            category=entry.category if entry else Category.UNKNOWN,
            http_status=http_status,
            retryable=entry.retryable if entry else False,
            message=reason or f"{self.label} did not accept this message: {state}",
            known=entry is not None,
            description=entry.description if entry else "",
            resolution=entry.resolution if entry else "",
            ambiguous=entry.ambiguous if entry else True,
            raw_body=self.keep_raw(json.dumps(item)),
        )

    # ---- balance ----

    def build_balance_request(self) -> HttpRequest:
        return HttpRequest("GET", f"/accounts/{self._option_path('account_id')}/balance")

    def parse_balance_response(self, response: HttpResponse, data: Any) -> BalanceResult:
        amount = as_decimal(data.get("balance")) if isinstance(data, dict) else None
        if amount is None:
            raise ResponseShapeError("balance answer has no numeric balance")
        return BalanceResult(
            http_status=response.status,
            latency_ms=response.latency_ms,
            amount=amount,
            currency=as_text(data.get("currency")) or "",
        )
