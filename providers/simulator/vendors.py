"""The five simulated vendors: routes, auth, validation, success bodies and error envelopes.

Each :class:`Vendor` renders errors in exactly that vendor's documented envelope
(seeds 000-004) and answers its send and balance calls with the documented (or,
where the notes say so, the documented-assumption) success shape. Handlers run
with the state lock held, so check-balance / drain / record is atomic.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from http import HTTPStatus
from typing import Any

from providers.simulator.state import Account, SimulatorState

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
MSISDN_8X8 = re.compile(r"^\+?[1-9][0-9]{6,14}$")
SUB_ACCOUNT_8X8 = re.compile(r"^[A-Za-z0-9\-._&]{3,50}$")
SENDER_23 = re.compile(r"^(?:[A-Za-z][A-Za-z0-9 ]{2,10}|\+?[1-9]\d{6,14})$")

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")


def sms_segments(text: str) -> tuple[int, str]:
    """(segments, encoding): GSM-7 160/153 chars, UCS-2 70/67 (one non-GSM char switches all)."""
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        units = sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        units = sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)
        single, multi, encoding = 70, 67, "UCS-2"
    if units <= single:
        return 1, encoding
    return math.ceil(units / multi), encoding


def iso(ts: float, *, fraction_digits: int = 0) -> str:
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts))
    if fraction_digits:
        base = f"{base}.{int(ts % 1 * 10**fraction_digits):0{fraction_digits}d}"
    return base + "Z"


def money(value: Decimal | None) -> float | None:
    if value is None:
        return None
    return float(value.quantize(Decimal("0.000001")))


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(data: Any) -> bytes:
    return json.dumps(data, default=_json_default, separators=(", ", ": ")).encode()


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    # Decorate with the vendor's every-response headers (a proxy page is not the vendor).
    vendor: bool = True
    # Sleep this long before answering (the "timeout" fault: processed, answer too late).
    delay: float = 0.0
    # Close the connection instead of answering (after processing).
    disconnect: bool = False
    outcome: str = ""

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


def json_response(status: int, data: Any, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, dumps(data), [("Content-Type", "application/json; charset=utf-8"), *(headers or [])])


@dataclass
class Ctx:
    """One vendor request as the handlers see it."""

    state: SimulatorState
    account: Account
    method: str
    path: str
    params: dict[str, str]
    headers: Mapping[str, str]  # lower-cased names
    body: bytes
    now: float
    window_count: int = 0
    # A forced per-recipient status (23 Telecom blocked_country / queue_error / config_error).
    recipient_status: str | None = None
    request_id: str = ""

    def json(self) -> tuple[bool, Any]:
        try:
            return True, json.loads(self.body.decode("utf-8")) if self.body.strip() else None
        except (ValueError, UnicodeDecodeError):
            return False, None

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("x-idempotency-key") or self.headers.get("idempotency-key") or None


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: str
    scope: str  # "send" or "balance"


def catalogue(kind: str) -> Mapping[str, Any]:
    """The adapter's catalogue for ``kind`` ({} while the adapter modules are not importable)."""
    try:
        from providers.registry import get_adapter_class
    except ImportError:
        return {}
    try:
        return get_adapter_class(kind).errors
    except (KeyError, AttributeError):
        return {}


def _bearer(headers: Mapping[str, str]) -> str | None:
    value = headers.get("authorization", "")
    if not value.startswith("Bearer "):
        return None
    return value[len("Bearer ") :].strip() or None


class Vendor:
    kind: str = ""
    label: str = ""
    prefix: str = ""
    routes: tuple[Route, ...] = ()
    # Documented HTTP status and wording per error code (from the seeds).
    doc_statuses: dict[str, int] = {}
    doc_messages: dict[str, str] = {}
    per_recipient_codes: frozenset[str] = frozenset()
    # Whether this vendor sends Retry-After on its 429s.
    sends_retry_after: bool = True

    # ---- routing ----

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        if not path.startswith(self.prefix):
            return None
        rest = path[len(self.prefix) :] or "/"
        for route in self.routes:
            found = route.pattern.fullmatch(rest)
            if found and route.method == method:
                return route, found.groupdict()
        return None

    def handle(self, route: Route, ctx: Ctx) -> Response:
        handler: Callable[[Ctx], Response] = getattr(self, route.handler)
        return handler(ctx)

    # ---- codes ----

    def status_for(self, code: str) -> int | None:
        entry = catalogue(self.kind).get(code)
        if entry is not None:
            return int(entry.http_status)
        if code in self.doc_statuses:
            return self.doc_statuses[code]
        found = re.fullmatch(r"http_(\d{3})", code)
        return int(found.group(1)) if found else None

    def message_for(self, code: str) -> str:
        if code in self.doc_messages:
            return self.doc_messages[code]
        entry = catalogue(self.kind).get(code)
        if entry is not None and entry.description:
            return entry.description
        return code.replace("_", " ").capitalize()

    def knows(self, code: str) -> bool:
        return (
            code in self.per_recipient_codes
            or code in self.doc_statuses
            or code in catalogue(self.kind)
            or re.fullmatch(r"http_\d{3}", code) is not None
        )

    # ---- rendering ----

    def error_body(self, ctx: Ctx, code: str, status: int, message: str, extra: Mapping[str, Any]) -> Any:
        raise NotImplementedError

    def error(
        self,
        ctx: Ctx,
        code: str,
        status: int | None = None,
        message: str | None = None,
        extra: Mapping[str, Any] | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> Response:
        status = status or self.status_for(code) or 400
        body = self.error_body(ctx, code, status, message or self.message_for(code), extra or {})
        response = json_response(status, body, headers)
        response.outcome = code
        return response

    def bare_status(self, ctx: Ctx, status: int) -> Response:
        """A status with no body (a status-derived code such as ``http_429``)."""
        headers = []
        if status == 429 and self.sends_retry_after:
            headers.append(("Retry-After", "1"))
        return Response(status, b"", headers, outcome=f"http_{status}")

    def forced(self, ctx: Ctx, code: str, status: int | None) -> Response:
        """Render one catalogue / documented code as the vendor sends it."""
        if re.fullmatch(r"http_\d{3}", code) and code not in self.doc_statuses:
            return self.bare_status(ctx, status or int(code[5:]))
        status = status or self.status_for(code) or 400
        extra, headers, message = self.forced_details(ctx, code, status)
        if status == 429 and self.sends_retry_after and not any(h[0] == "Retry-After" for h in headers):
            headers.append(("Retry-After", "1"))
        return self.error(ctx, code, status, message, extra, headers)

    def forced_details(
        self, ctx: Ctx, code: str, status: int
    ) -> tuple[dict[str, Any], list[tuple[str, str]], str | None]:
        """Extra body fields, headers and message for a forced code (vendor hook)."""
        return {}, [], None

    def missing_auth(self, ctx: Ctx) -> Response:
        raise NotImplementedError

    def invalid_key(self, ctx: Ctx) -> Response:
        raise NotImplementedError

    def expired_key(self, ctx: Ctx) -> Response:
        return self.invalid_key(ctx)

    def rate_limited(self, ctx: Ctx, wait: float) -> Response:
        raise NotImplementedError

    def outage(self, ctx: Ctx) -> Response:
        raise NotImplementedError

    def not_found(self, ctx: Ctx) -> Response:
        raise NotImplementedError

    def credential(self, headers: Mapping[str, str]) -> str | None:
        raise NotImplementedError

    def check_auth(self, ctx: Ctx) -> Response | None:
        key = self.credential(ctx.headers)
        config = ctx.account.config
        if not key:
            return self.missing_auth(ctx)
        if key in config.expired_keys:
            return self.expired_key(ctx)
        if config.valid_keys and key not in config.valid_keys:
            return self.invalid_key(ctx)
        return None

    def decorate(self, ctx: Ctx, response: Response) -> None:
        """Headers the vendor puts on every response."""

    # ---- shared pieces ----

    def record(self, ctx: Ctx, **fields: Any) -> dict[str, Any]:
        message = {
            "kind": self.kind,
            "account": ctx.account.name,
            "idempotency_key": ctx.idempotency_key,
            "accepted_at": iso(ctx.now),
            "request_id": ctx.request_id or None,
            **fields,
        }
        ctx.account.record(message)
        return message

    def cost(self, ctx: Ctx, segments: int, messages: int = 1) -> Decimal:
        return ctx.account.config.cost_per_message * segments * messages

    @staticmethod
    def retry_seconds(wait: float) -> int:
        return max(1, math.ceil(wait))


# ---------------------------------------------------------------------------
# 23 Telecom — seed 000, vendors/23telecom.md
# ---------------------------------------------------------------------------


class Telecom23(Vendor):
    kind = "23telecom"
    label = "23 Telecom"
    prefix = "/api/v1"
    routes = (
        Route("POST", re.compile(r"/sms/send/?"), "send", "send"),
        Route("GET", re.compile(r"/user/balance/?"), "balance", "balance"),
    )
    sends_retry_after = False  # only the login brute-force limiter sends Retry-After
    per_recipient_codes = frozenset({"blocked_country", "queue_error", "config_error"})
    doc_statuses = {
        "UNAUTHORIZED": 401, "INVALID_TOKEN": 401, "TOKEN_EXPIRED": 401, "INVALID_API_KEY": 401,
        "API_KEY_INACTIVE": 401, "API_KEY_EXPIRED": 401, "INVALID_CREDENTIALS": 401, "USER_NOT_ACTIVE": 401,
        "IP_NOT_ALLOWED": 401, "SIGNATURE_REQUIRED": 401, "INVALID_SIGNATURE": 401, "FORBIDDEN": 403,
        "NO_SMS_ACCESS": 403, "CONFIG_ERROR": 403, "CROSS_TENANT_WORKSPACE": 403, "NO_MAIN_WORKSPACE": 403,
        "WORKSPACE_NOT_AVAILABLE": 403, "INVALID_BODY": 400, "INVALID_PARAMS": 400, "INVALID_TO": 400,
        "INVALID_MESSAGE": 400, "INVALID_SENDER": 400, "TOO_MANY_RECIPIENTS": 400, "INVALID_WORKSPACE_HEADER": 400,
        "INSUFFICIENT_BALANCE": 402, "RATE_LIMIT_EXCEEDED": 429, "TOO_MANY_ATTEMPTS": 429, "NOT_FOUND": 404,
        "INTERNAL_ERROR": 500, "DB_ERROR": 500, "SANDBOX_UNAVAILABLE": 503,
    }  # fmt: skip
    doc_messages = {
        "UNAUTHORIZED": "Missing or unrecognized credentials",
        "INVALID_TOKEN": "JWT invalid, malformed or revoked",
        "TOKEN_EXPIRED": "JWT past expiry",
        "INVALID_API_KEY": "API key not found or hash mismatch",
        "API_KEY_INACTIVE": "API key disabled",
        "API_KEY_EXPIRED": "API key expired",
        "INVALID_CREDENTIALS": "Wrong username/password",
        "USER_NOT_ACTIVE": "Account suspended or inactive",
        "IP_NOT_ALLOWED": "Client IP not in the allowed list",
        "SIGNATURE_REQUIRED": "Key requires HMAC but signature headers missing",
        "INVALID_SIGNATURE": "HMAC signature failed verification",
        "FORBIDDEN": "Authenticated, but route or permission denied",
        "NO_SMS_ACCESS": "SMS not configured on the account",
        "CONFIG_ERROR": "Credentials incomplete — contact support",
        "CROSS_TENANT_WORKSPACE": "X-Workspace-ID names a workspace you don't own (or deleted)",
        "NO_MAIN_WORKSPACE": "No live main workspace — contact support",
        "WORKSPACE_NOT_AVAILABLE": "Target workspace deleted — use a live workspace",
        "INVALID_BODY": "Malformed JSON body",
        "INVALID_PARAMS": "Invalid query or path parameters",
        "INVALID_TO": "Missing/empty recipients",
        "INVALID_MESSAGE": "Missing/empty message",
        "INVALID_SENDER": "Missing/empty sender_id",
        "TOO_MANY_RECIPIENTS": "Over 100 recipients",
        "INVALID_WORKSPACE_HEADER": "X-Workspace-ID is not a positive integer",
        "INSUFFICIENT_BALANCE": "Balance too low for this request",
        "RATE_LIMIT_EXCEEDED": "Per-account rate limit hit",
        "TOO_MANY_ATTEMPTS": "Too many attempts, try again later",
        "NOT_FOUND": "Message or resource not found",
        "INTERNAL_ERROR": "Server-side error",
        "DB_ERROR": "Send request could not be queued — nothing was sent, safe to retry",
        "SANDBOX_UNAVAILABLE": "Sandbox simulator unavailable",
    }
    max_recipients = 100

    def credential(self, headers: Mapping[str, str]) -> str | None:
        return headers.get("x-api-key", "").strip() or None

    def error_body(self, ctx: Ctx, code: str, status: int, message: str, extra: Mapping[str, Any]) -> Any:
        return {"status": False, "error_code": code, "description": message, **extra}

    def missing_auth(self, ctx: Ctx) -> Response:
        return self.error(ctx, "UNAUTHORIZED")

    def invalid_key(self, ctx: Ctx) -> Response:
        return self.error(ctx, "INVALID_API_KEY")

    def expired_key(self, ctx: Ctx) -> Response:
        return self.error(ctx, "API_KEY_EXPIRED")

    def rate_limited(self, ctx: Ctx, wait: float) -> Response:
        style = ctx.account.config.rate_limit_style
        if style == "ip":  # per-IP general limiter: 429 with no JSON body, no Retry-After
            return Response(429, b"", [("Content-Length", "0")], outcome="http_429")
        if style == "edge":  # edge proxy: an HTML page
            page = (
                "<html>\r\n<head><title>429 Too Many Requests</title></head>\r\n<body>\r\n"
                "<center><h1>429 Too Many Requests</h1></center>\r\n<hr><center>nginx</center>\r\n"
                "</body>\r\n</html>\r\n"
            )
            return Response(429, page.encode(), [("Content-Type", "text/html")], vendor=False, outcome="http_429")
        return self.error(ctx, "RATE_LIMIT_EXCEEDED")

    def outage(self, ctx: Ctx) -> Response:
        return self.error(ctx, "INTERNAL_ERROR")

    def not_found(self, ctx: Ctx) -> Response:
        return self.error(ctx, "NOT_FOUND", 404, f"No route for {ctx.method} {ctx.path}")

    def _estimate(self, ctx: Ctx) -> dict[str, Any]:
        """The cost breakdown of the request in ``ctx`` (best effort for a forced 402)."""
        ok, data = ctx.json()
        to = data.get("to") if ok and isinstance(data, dict) else None
        recipients = [r for r in to if isinstance(r, str)] if isinstance(to, list) else []
        text = data.get("message") if ok and isinstance(data, dict) else None
        segments = sms_segments(text)[0] if isinstance(text, str) and text else 1
        billable = len(recipients)
        config = ctx.account.config
        return {
            "balance": money(config.balance),
            "estimated_cost": money(self.cost(ctx, segments, billable)),
            "currency": config.currency,
            "total_recipients": len(recipients),
            "billable_recipients": billable,
            "segments": segments * billable,
        }

    def forced_details(self, ctx, code, status):
        if code == "INSUFFICIENT_BALANCE":
            estimate = self._estimate(ctx)
            return estimate, [], self._insufficient_message(estimate)
        if code == "TOO_MANY_ATTEMPTS":
            return {}, [("Retry-After", "30")], None
        return {}, [], None

    @staticmethod
    def _insufficient_message(estimate: Mapping[str, Any]) -> str:
        return (
            f"Insufficient balance: estimated cost {estimate['estimated_cost']} {estimate['currency']}, "
            f"balance {estimate['balance']} {estimate['currency']}"
        )

    def send(self, ctx: Ctx) -> Response:
        ok, data = ctx.json()
        if not ok or not isinstance(data, dict):
            return self.error(ctx, "INVALID_BODY")
        to = data.get("to")
        if to is None or to == [] or to == "":
            return self.error(ctx, "INVALID_TO")
        if not isinstance(to, list):
            return self.error(ctx, "INVALID_TO", message="to must be an array of E.164 numbers")
        if len(to) > self.max_recipients:
            return self.error(ctx, "TOO_MANY_RECIPIENTS", message=f"Over 100 recipients ({len(to)})")
        for recipient in to:
            if not isinstance(recipient, str) or not E164.match(recipient):
                return self.error(ctx, "INVALID_TO", message=f"Invalid recipient {recipient!r}: must be E.164")
        text = data.get("message")
        if not isinstance(text, str) or not text.strip():
            return self.error(ctx, "INVALID_MESSAGE")
        sender = data.get("sender_id")
        if not isinstance(sender, str) or not sender.strip():
            return self.error(ctx, "INVALID_SENDER")
        if not SENDER_23.match(sender):
            return self.error(
                ctx,
                "INVALID_SENDER",
                message="sender_id must be 3-11 alphanumeric characters not starting with a digit, or a phone number",
            )
        segments, encoding = sms_segments(text)
        account, config = ctx.account, ctx.account.config
        statuses = []
        for recipient in to:
            if ctx.recipient_status:
                statuses.append(ctx.recipient_status)
            elif any(recipient.startswith(prefix) for prefix in config.blocked_prefixes):
                statuses.append("blocked_country")
            else:
                statuses.append("accepted")
        billable = statuses.count("accepted")
        cost = self.cost(ctx, segments, billable)
        balance = config.balance if config.balance is not None else Decimal(0)
        if billable and (balance <= 0 or cost > balance):
            estimate = {
                "balance": money(balance),
                "estimated_cost": money(cost),
                "currency": config.currency,
                "total_recipients": len(to),
                "billable_recipients": billable,
                "segments": segments * billable,
            }
            return self.error(ctx, "INSUFFICIENT_BALANCE", message=self._insufficient_message(estimate), extra=estimate)
        account.drain(cost, billable)
        results, messages = [], []
        for recipient, status in zip(to, statuses, strict=True):
            item: dict[str, Any] = {"dnis": recipient}
            if status in ("accepted", "blocked_country"):  # ASSUMPTION: no message_id on queue/config errors
                item["message_id"] = f"api_{config.user_id}_{account.nanoseconds()}_{account.hex(16)}"
            item.update(segments=segments, status=status)
            results.append(item)
            if status == "accepted":
                messages.append({"dnis": recipient, "message_id": item["message_id"], "segment_num": segments})
                self.record(
                    ctx,
                    vendor_message_id=item["message_id"],
                    recipient=recipient,
                    sender=sender,
                    body=text,
                    segments=segments,
                    cost=money(self.cost(ctx, segments)),
                )
        summary = {
            "total_recipients": len(to),
            "total_segments": segments * len(to),
            "total_cost": money(cost),
            "encoding": encoding,
            "accepted_count": billable,
            "blocked_count": statuses.count("blocked_country"),
            "queue_error_count": statuses.count("queue_error"),
            "config_error_count": statuses.count("config_error"),
            "db_error_count": 0,
        }
        response = json_response(200, {"status": True, "messages": messages, "results": results, "summary": summary})
        response.outcome = "accepted" if billable == len(to) else "partial"
        return response

    def balance(self, ctx: Ctx) -> Response:
        config = ctx.account.config
        if config.setup_in_progress:
            return json_response(200, {"status": False, "error": "Account is in setup process"})
        if config.degraded_balance:
            return json_response(
                200,
                {"balance": 0, "currency": config.currency, "unavailable": True, "reason": "cache_miss_refresh_failed"},
                [("X-Sms-Gateway-Status", "unavailable"), ("X-Sms-Gateway-Reason", "cache_miss_refresh_failed")],
            )
        balance = config.balance if config.balance is not None else Decimal(0)
        body: dict[str, Any] = {
            "balance": money(balance),
            "currency": config.currency,
            "updated": time.strftime("%Y.%m.%d %H:%M:%S", time.gmtime(ctx.now)),
        }
        if balance <= 0:
            body["credit_blocked"] = True
        return json_response(200, body)


# ---------------------------------------------------------------------------
# Telephony.io — seed 001, vendors/telephonyio.md (SMS send + balance schema are assumptions)
# ---------------------------------------------------------------------------


class TelephonyIo(Vendor):
    kind = "telephonyio"
    label = "Telephony.io"
    prefix = "/api"
    routes = (
        Route("POST", re.compile(r"/sms/send/?"), "send", "send"),
        Route("GET", re.compile(r"/account/balance/?"), "balance", "balance"),
    )
    doc_statuses = {"invalid_parameter": 400, "unauthorized": 401, "insufficient_balance": 402}
    doc_messages = {
        "invalid_parameter": "Invalid phone number format",
        "unauthorized": "Invalid API key",
        "insufficient_balance": "Insufficient credits to complete this request",
    }

    def credential(self, headers: Mapping[str, str]) -> str | None:
        return _bearer(headers)

    def error_body(self, ctx: Ctx, code: str, status: int, message: str, extra: Mapping[str, Any]) -> Any:
        if code == "unauthorized":  # the authentication page's nested shape
            return {"error": {"code": code, "message": message}}
        return {"error": message, "code": code, **extra}

    def missing_auth(self, ctx: Ctx) -> Response:
        return self.error(ctx, "unauthorized", 401, "Missing API key. Include 'Authorization: Bearer <key>'.")

    def invalid_key(self, ctx: Ctx) -> Response:
        return self.error(ctx, "unauthorized", 401, "Invalid API key")

    def expired_key(self, ctx: Ctx) -> Response:
        return self.error(ctx, "unauthorized", 401, "API key has been revoked")

    # 429 / 500 (and 404) have no documented code: the body is {"error": "<text>"} with no "code"
    # (ASSUMPTION: "all error responses include a JSON body", seed 001), read as http_<status>.
    def uncoded(self, status: int, message: str, headers: list[tuple[str, str]] | None = None) -> Response:
        return json_response(status, {"error": message}, headers) if message else Response(status, b"")

    def bare_status(self, ctx: Ctx, status: int) -> Response:
        headers = [("Retry-After", "1")] if status == 429 else []
        response = self.uncoded(status, phrase(status), headers)
        response.outcome = f"http_{status}"
        return response

    def rate_limited(self, ctx: Ctx, wait: float) -> Response:
        seconds = self.retry_seconds(wait)
        response = self.uncoded(
            429, "Rate limit exceeded. Please wait before retrying.", [("Retry-After", str(seconds))]
        )
        response.outcome = "http_429"
        return response

    def outage(self, ctx: Ctx) -> Response:
        response = self.uncoded(500, "Internal server error")
        response.outcome = "http_500"
        return response

    def not_found(self, ctx: Ctx) -> Response:
        return self.uncoded(404, f"No route for {ctx.method} {ctx.path}")

    def forced_details(self, ctx, code, status):
        if code == "insufficient_balance":
            config = ctx.account.config
            return (
                {
                    "required_credits": money(config.cost_per_message),
                    "current_balance": money(config.balance or Decimal(0)),
                },
                [],
                None,
            )
        return {}, [], None

    def send(self, ctx: Ctx) -> Response:
        ok, data = ctx.json()
        if not ok or not isinstance(data, dict):
            return self.error(ctx, "invalid_parameter", message="Request body must be valid JSON")
        to = data.get("to")
        if to is None or to == "":
            return self.error(ctx, "invalid_parameter", message="Missing required parameter: to")
        if not isinstance(to, str) or not E164.match(to):
            return self.error(ctx, "invalid_parameter", message="Invalid phone number format")
        text = data.get("message")
        if not isinstance(text, str) or not text.strip():
            return self.error(ctx, "invalid_parameter", message="Missing required parameter: message")
        sender = data.get("from")
        if sender is not None and not isinstance(sender, str):
            return self.error(ctx, "invalid_parameter", message="Invalid parameter: from")
        segments, _ = sms_segments(text)
        cost = self.cost(ctx, segments)
        config = ctx.account.config
        balance = config.balance if config.balance is not None else Decimal(0)
        if cost > balance or balance <= 0:
            return self.error(
                ctx,
                "insufficient_balance",
                extra={"required_credits": money(cost), "current_balance": money(balance)},
            )
        ctx.account.drain(cost, 1)
        message_id = f"sms_{ctx.account.hex(16)}"
        self.record(
            ctx,
            vendor_message_id=message_id,
            recipient=to,
            sender=sender or "",
            body=text,
            segments=segments,
            cost=money(cost),
        )
        response = json_response(
            200, {"success": True, "messageId": message_id, "status": "queued", "creditsUsed": money(cost)}
        )
        response.outcome = "accepted"
        return response

    def balance(self, ctx: Ctx) -> Response:
        config = ctx.account.config
        return json_response(200, {"balance": money(config.balance or Decimal(0)), "currency": config.currency})


# ---------------------------------------------------------------------------
# 8x8 — seed 002, vendors/8x8.md
# ---------------------------------------------------------------------------


class EightByEight(Vendor):
    kind = "8x8"
    label = "8x8"
    prefix = "/api/v1"
    routes = (
        Route("POST", re.compile(r"/subaccounts/(?P<sub>[^/]+)/messages/?"), "send", "send"),
        Route("POST", re.compile(r"/subaccounts/(?P<sub>[^/]+)/messages/batch/?"), "send_batch", "send"),
        Route("GET", re.compile(r"/accounts/(?P<account_id>[^/]+)/balance/?"), "balance", "balance"),
    )
    # Only these statuses are documented; other codes take the catalogue's status (400 if none).
    doc_statuses = {"1200": 401, "1201": 403, "1300": 404, "2000": 500, "429": 429}
    # A per-message status inside a 200 answer.
    per_recipient_codes = frozenset({"REJECTED"})
    doc_messages = {
        "1000": "Invalid parameter", "1001": "Illegal SubAccountId", "1002": "Invalid MSISDN",
        "1003": "Invalid Encoding", "1004": "Invalid Text", "1005": "Invalid Source", "1006": "Invalid Expiry",
        "1007": "Invalid SMS Template", "1008": "Invalid ID", "1009": "Invalid Country Code",
        "1010": "Parameter out of range", "1011": "Invalid Schedule Time", "1012": "Invalid Ip Address",
        "1100": "Bulk limit reached", "1200": "Unauthorized Access", "1201": "Access forbidden",
        "1300": "Not found", "1400": "Resending interval violation", "2000": "Internal Error",
        "2001": "Function not implemented", "2002": "Unsupported API version", "2003": "Unsupported product",
        "3012": "Missed messages", "3013": "Too much messages", "3014": "Too long ClientBatchId",
        "429": "Quota exceeded. Please try again in 1 second(s).",
    }  # fmt: skip
    max_batch = 10_000

    def credential(self, headers: Mapping[str, str]) -> str | None:
        return _bearer(headers)

    def error_body(self, ctx: Ctx, code: str, status: int, message: str, extra: Mapping[str, Any]) -> Any:
        return {
            "code": int(code) if code.isdigit() else code,
            "message": message,
            "errorId": ctx.account.uuid(),
            "timestamp": iso(ctx.now, fraction_digits=2),
            **extra,
        }

    def missing_auth(self, ctx: Ctx) -> Response:
        return self.error(ctx, "1200", 401)

    def invalid_key(self, ctx: Ctx) -> Response:
        return self.error(ctx, "1200", 401)

    def rate_limited(self, ctx: Ctx, wait: float) -> Response:
        seconds = self.retry_seconds(wait)
        return self.error(
            ctx,
            "429",
            429,
            f"Quota exceeded. Please try again in {seconds} second(s).",
            headers=[("Retry-After", str(seconds))],
        )

    def outage(self, ctx: Ctx) -> Response:
        return self.error(ctx, "2000", 500)

    def not_found(self, ctx: Ctx) -> Response:
        return self.error(ctx, "1300", 404)

    def _check_sub(self, ctx: Ctx) -> Response | None:
        sub = ctx.params.get("sub", "")
        allowed = ctx.account.config.sub_accounts
        if not SUB_ACCOUNT_8X8.match(sub) or (allowed and sub not in allowed):
            return self.error(ctx, "1001", self.status_for("1001") or 400)
        return None

    def _message(self, ctx: Ctx, item: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
        """(normalized message, None) or (None, error code) for one single-send object."""
        destination = item.get("destination")
        if not isinstance(destination, str) or not MSISDN_8X8.match(destination):
            return None, "1002"
        text = item.get("text")
        if not isinstance(text, str) or not text:
            return None, "1004"
        source = item.get("source")
        if source is not None and (not isinstance(source, str) or len(source) > 16):
            return None, "1005"
        encoding = item.get("encoding", "AUTO")
        if encoding not in ("AUTO", "GSM7", "UCS2"):
            return None, "1003"
        country = item.get("country")
        if country is not None and (not isinstance(country, str) or not re.fullmatch(r"[A-Za-z]{2}", country)):
            return None, "1009"
        segments, detected = sms_segments(text)
        if encoding == "AUTO":
            encoding = "GSM7" if detected == "GSM-7" else "UCS2"
        return {
            "destination": destination if destination.startswith("+") else f"+{destination}",
            "text": text,
            "source": source or "",
            "encoding": encoding,
            "segments": segments,
            "clientMessageId": item.get("clientMessageId"),
        }, None

    def _accept(self, ctx: Ctx, message: dict[str, Any], batch_id: str | None = None) -> dict[str, Any]:
        """Charge and record one message, or reject it for lack of funds (balance is prepaid)."""
        account, config = ctx.account, ctx.account.config
        umid = account.uuid()
        out = {
            "umid": umid,
            "clientMessageId": message["clientMessageId"],
            "destination": message["destination"],
            "encoding": message["encoding"],
        }
        if ctx.recipient_status:  # forced per-message status
            out["status"] = {"code": ctx.recipient_status, "description": "Rejected by the route (simulated)"}
            return out
        cost = self.cost(ctx, message["segments"])
        balance = config.balance if config.balance is not None else Decimal(0)
        if not config.postpaid and (balance <= 0 or cost > balance):
            # ASSUMPTION (undocumented): an empty prepaid wallet rejects the message.
            out["status"] = {"code": "REJECTED", "description": "Insufficient balance"}
            return out
        account.drain(cost if not config.postpaid else Decimal(0), 1)
        self.record(
            ctx,
            vendor_message_id=umid,
            recipient=message["destination"],
            sender=message["source"],
            body=message["text"],
            segments=message["segments"],
            cost=money(cost),
            client_reference=message["clientMessageId"],
            batch_id=batch_id,
        )
        out["status"] = {"code": "QUEUED", "description": "SMS is accepted and queued for processing"}
        return out

    def send(self, ctx: Ctx) -> Response:
        problem = self._check_sub(ctx)
        if problem:
            return problem
        ok, data = ctx.json()
        if not ok or not isinstance(data, dict):
            return self.error(ctx, "1000", self.status_for("1000") or 400, "Invalid parameter: malformed JSON body")
        message, code = self._message(ctx, data)
        if code:
            return self.error(ctx, code, self.status_for(code) or 400)
        out = self._accept(ctx, message)
        response = json_response(200, out)
        response.outcome = "accepted" if out["status"]["code"] == "QUEUED" else "rejected"
        return response

    def send_batch(self, ctx: Ctx) -> Response:
        problem = self._check_sub(ctx)
        if problem:
            return problem
        ok, data = ctx.json()
        if not ok or not isinstance(data, dict):
            return self.error(ctx, "1000", self.status_for("1000") or 400, "Invalid parameter: malformed JSON body")
        messages, destinations = data.get("messages"), data.get("destinations")
        template = data.get("template") or {}
        if messages is not None and destinations is not None:
            return self.error(ctx, "1000", self.status_for("1000") or 400, "Use either messages or destinations")
        items = messages if messages is not None else destinations
        if not isinstance(items, list) or not items or not isinstance(template, dict):
            return self.error(ctx, "3012", self.status_for("3012") or 400)
        if len(items) > self.max_batch:
            return self.error(ctx, "3013", self.status_for("3013") or 400)
        client_batch_id = data.get("clientBatchId")
        if client_batch_id is not None and (not isinstance(client_batch_id, str) or len(client_batch_id) > 50):
            return self.error(ctx, "3014", self.status_for("3014") or 400)
        batch_id = ctx.account.uuid()
        results = []
        for item in items:
            merged = {**template, **(item if isinstance(item, dict) else {"destination": item})}
            message, code = self._message(ctx, merged)
            if code:
                destination = merged.get("destination")
                results.append(
                    {
                        "umid": ctx.account.uuid(),
                        "clientMessageId": merged.get("clientMessageId"),
                        "destination": destination if isinstance(destination, str) else None,
                        "encoding": merged.get("encoding", "AUTO"),
                        "status": {"code": "REJECTED", "description": self.doc_messages.get(code, code)},
                    }
                )
                continue
            results.append(self._accept(ctx, message, batch_id))
        accepted = sum(1 for r in results if r["status"]["code"] == "QUEUED")
        body = {
            "batchId": batch_id,
            "clientBatchId": client_batch_id,
            "acceptedCount": accepted,
            "rejectedCount": len(results) - accepted,
            "messages": results if data.get("includeMessagesInResponse") is True else None,
        }
        response = json_response(200, body)
        response.outcome = "accepted" if accepted == len(results) else "partial"
        return response

    def balance(self, ctx: Ctx) -> Response:
        config = ctx.account.config
        if config.postpaid:
            return self.error(ctx, "1201", 403, "Account not in prepaid mode")
        return json_response(200, {"balance": money(config.balance or Decimal(0)), "currency": config.currency})


# ---------------------------------------------------------------------------
# Telnxo — seed 003, vendors/telnxo.md (send body and usage endpoint are assumptions)
# ---------------------------------------------------------------------------


class Telnxo(Vendor):
    kind = "telnxo"
    label = "Telnxo"
    prefix = "/v1"
    routes = (
        Route("POST", re.compile(r"/sms/send/?"), "send", "send"),
        Route("GET", re.compile(r"/account/usage/?"), "usage", "balance"),
    )
    doc_statuses = {
        "authentication_required": 401, "invalid_api_key": 401, "api_key_expired": 401, "insufficient_scope": 403,
        "ip_not_whitelisted": 403, "account_suspended": 402, "account_expired": 402, "quota_exceeded": 402,
        "daily_limit_reached": 429, "hourly_limit_reached": 429, "missing_required_field": 422,
        "invalid_email_address": 422, "invalid_phone_number": 422, "invalid_json": 400, "field_too_long": 422,
        "invalid_template_id": 422, "missing_template_variable": 422, "domain_not_verified": 422,
        "sender_id_not_registered": 422, "resource_not_found": 404, "duplicate_resource": 409,
        "duplicate_idempotency_key": 409, "resource_limit_reached": 409, "recipient_suppressed": 422,
        "dnd_number": 422, "dlt_scrubbed": 422, "whatsapp_template_not_approved": 422,
        "session_window_expired": 422, "rate_limit_exceeded": 429, "internal_error": 500,
        "service_unavailable": 503, "gateway_timeout": 504,
    }  # fmt: skip
    doc_messages = {
        "authentication_required": "Authorization header missing from request",
        "invalid_api_key": "API key is incorrect, malformed, or revoked",
        "api_key_expired": "API key has passed its configured expiry date",
        "insufficient_scope": "Key does not have the required scope for this endpoint",
        "ip_not_whitelisted": "Request IP not in the key's allowed IP list",
        "account_suspended": "Subscription is suspended; invoice overdue",
        "account_expired": "Trial or subscription has expired",
        "quota_exceeded": "Monthly sending quota fully consumed",
        "daily_limit_reached": "Daily sending limit reached for this plan",
        "hourly_limit_reached": "Hourly sending limit reached",
        "missing_required_field": "A required request field is absent",
        "invalid_phone_number": "Phone number not in E.164 international format",
        "invalid_json": "Request body is not valid JSON",
        "field_too_long": "A field value exceeds maximum allowed length",
        "invalid_template_id": "The specified template ID does not exist or is inactive",
        "missing_template_variable": "A variable defined in the template has no value in the request",
        "sender_id_not_registered": "The Sender ID used in SMS is not registered on the account",
        "resource_not_found": "The requested resource ID does not exist",
        "duplicate_resource": "A resource with this identifier already exists",
        "duplicate_idempotency_key": "An X-Idempotency-Key was reused within 24 hours",
        "resource_limit_reached": "Plan limit reached for this resource type",
        "recipient_suppressed": "Recipient phone number is on the suppression list",
        "dnd_number": "Phone number is registered on the DND (Do Not Disturb) registry",
        "dlt_scrubbed": "SMS content did not match any registered DLT template",
        "rate_limit_exceeded": "Too many API requests in the current rate limit window",
        "internal_error": "Unexpected platform-side error",
        "service_unavailable": "Platform is under maintenance or temporarily overloaded",
        "gateway_timeout": "Upstream service (carrier, relay) did not respond in time",
    }
    field_codes = {
        "missing_required_field": "to", "invalid_phone_number": "to", "field_too_long": "message",
        "invalid_template_id": "template_id", "missing_template_variable": "variables",
        "sender_id_not_registered": "sender_id", "invalid_email_address": "to",
    }  # fmt: skip
    max_message_length = 1600  # ASSUMPTION: not documented
    send_limit_per_minute = 300
    other_limit_per_minute = 60

    def credential(self, headers: Mapping[str, str]) -> str | None:
        return _bearer(headers)

    def check_auth(self, ctx: Ctx) -> Response | None:
        value = ctx.headers.get("authorization", "")
        if value and not value.startswith("Bearer "):
            return self.error(ctx, "invalid_api_key", message="Authorization scheme must be exactly 'Bearer <key>'")
        return super().check_auth(ctx)

    def error_body(self, ctx: Ctx, code: str, status: int, message: str, extra: Mapping[str, Any]) -> Any:
        body = {"success": False, "error": code, "message": message, "code": status}
        body.update(extra)
        return body

    def missing_auth(self, ctx: Ctx) -> Response:
        return self.error(ctx, "authentication_required")

    def invalid_key(self, ctx: Ctx) -> Response:
        return self.error(ctx, "invalid_api_key")

    def expired_key(self, ctx: Ctx) -> Response:
        return self.error(ctx, "api_key_expired")

    def rate_limited(self, ctx: Ctx, wait: float) -> Response:
        seconds = self.retry_seconds(wait)
        return self.error(ctx, "rate_limit_exceeded", headers=[("Retry-After", str(seconds))])

    def outage(self, ctx: Ctx) -> Response:
        return self.error(ctx, "service_unavailable")

    def not_found(self, ctx: Ctx) -> Response:
        return self.error(ctx, "resource_not_found", 404, f"No route for {ctx.method} {ctx.path}")

    def forced_details(self, ctx, code, status):
        extra: dict[str, Any] = {}
        headers: list[tuple[str, str]] = []
        if code in self.field_codes:
            extra["field"] = self.field_codes[code]
        if status == 429:
            now = time.gmtime(ctx.now)
            if code == "hourly_limit_reached":
                wait = 3600 - (now.tm_min * 60 + now.tm_sec)
            elif code == "daily_limit_reached":
                wait = 86400 - (now.tm_hour * 3600 + now.tm_min * 60 + now.tm_sec)
            else:
                wait = 1
            headers.append(("Retry-After", str(max(1, wait))))
        return extra, headers, None

    def decorate(self, ctx: Ctx, response: Response) -> None:
        is_send = ctx.path.rstrip("/").endswith("/sms/send")
        limit = self.send_limit_per_minute if is_send else self.other_limit_per_minute
        rate = ctx.account.config.rate_limit_per_second
        if rate:
            limit = max(1, int(rate * 60))
        remaining = max(0, limit - ctx.window_count)
        forced_zero = response.status == 429  # any 429 means the window is spent
        response.headers += [
            ("X-Request-ID", ctx.request_id),
            ("X-RateLimit-Limit", str(limit)),
            ("X-RateLimit-Remaining", "0" if forced_zero else str(remaining)),
            ("X-RateLimit-Reset", str(ctx.account.window_reset(ctx.now))),
        ]

    def send(self, ctx: Ctx) -> Response:
        key = ctx.idempotency_key
        account, config = ctx.account, ctx.account.config
        if key is not None:
            seen = account.idempotency.get(key)
            if seen is not None and ctx.now - seen[0] < 24 * 3600:
                return self.error(ctx, "duplicate_idempotency_key")
        ok, data = ctx.json()
        if not ok or not isinstance(data, dict):
            return self.error(ctx, "invalid_json")
        for name in ("to", "sender_id", "message"):
            value = data.get(name)
            if value is None or value == "":
                return self.error(
                    ctx, "missing_required_field", message=f"The '{name}' field is required", extra={"field": name}
                )
        to, sender, text = data["to"], data["sender_id"], data["message"]
        if not isinstance(to, str) or not E164.match(to):
            return self.error(
                ctx,
                "invalid_phone_number",
                message="Phone number must be in E.164 format, e.g. +919876543210",
                extra={"field": "to"},
            )
        if not isinstance(sender, str):
            return self.error(
                ctx, "missing_required_field", message="The 'sender_id' field is required", extra={"field": "sender_id"}
            )
        if not isinstance(text, str):
            return self.error(
                ctx, "missing_required_field", message="The 'message' field is required", extra={"field": "message"}
            )
        if len(text) > self.max_message_length:
            return self.error(
                ctx,
                "field_too_long",
                message=f"The 'message' field exceeds {self.max_message_length} characters",
                extra={"field": "message"},
            )
        if config.senders and sender not in config.senders:
            return self.error(ctx, "sender_id_not_registered", extra={"field": "sender_id"})
        left = account.quota_left()
        if left is not None and left <= 0:
            return self.error(ctx, "quota_exceeded")
        segments, _ = sms_segments(text)
        account.drain(Decimal(0), 1)
        message_id = f"msg_{account.hex(16)}"
        if key is not None:
            account.idempotency[key] = (ctx.now, message_id)
        self.record(
            ctx, vendor_message_id=message_id, recipient=to, sender=sender, body=text, segments=segments, cost=None
        )
        response = json_response(200, {"success": True, "message_id": message_id, "status": "queued"})
        response.outcome = "accepted"
        return response

    def usage(self, ctx: Ctx) -> Response:
        config = ctx.account.config
        now = time.gmtime(ctx.now)
        start = f"{now.tm_year:04d}-{now.tm_mon:02d}-01"
        next_month = (now.tm_year + (now.tm_mon == 12), now.tm_mon % 12 + 1)
        last_day = time.gmtime(time.mktime((*next_month, 1, 12, 0, 0, 0, 0, -1)) - 86400).tm_mday
        end = f"{now.tm_year:04d}-{now.tm_mon:02d}-{last_day:02d}"
        body = {
            "plan": config.plan or "growth",
            "period_start": start,
            "period_end": end,
            "sms": {
                "monthly_quota": config.quota_limit,
                "used": config.quota_used,
                "hourly_limit": 2000,
                "daily_limit": 20000,
            },
        }
        return json_response(200, body)


# ---------------------------------------------------------------------------
# texting.blue — seed 004, vendors/textingblue.md
# ---------------------------------------------------------------------------


class TextingBlue(Vendor):
    kind = "textingblue"
    label = "texting.blue"
    prefix = "/v1"
    routes = (
        Route("POST", re.compile(r"/messages/send/?"), "send", "send"),
        Route("GET", re.compile(r"/team/?"), "team", "balance"),
    )
    doc_statuses = {
        "invalid_request": 400, "unauthorized": 401, "plan_limit_exceeded": 402, "forbidden": 403,
        "not_found": 404, "conflict": 409, "rate_limited": 429, "internal_error": 500,
    }  # fmt: skip
    doc_messages = {
        "invalid_request": "The 'to' field must be a valid E.164 phone number",
        "unauthorized": "Missing or invalid API key",
        "forbidden": "Valid API key but insufficient permissions",
        "not_found": "Resource not found",
        "conflict": "Resource already exists",
        "internal_error": "Server error",
    }
    plan_requests_per_minute = {"free": 60, "starter": 300, "pro": 1000, "enterprise": 5000}
    upgrade_url = "https://app.texting.blue/billing"

    def credential(self, headers: Mapping[str, str]) -> str | None:
        return headers.get("x-api-key", "").strip() or None

    def error_body(self, ctx: Ctx, code: str, status: int, message: str, extra: Mapping[str, Any]) -> Any:
        return {"error": {"code": code, "message": message, **extra}}

    def missing_auth(self, ctx: Ctx) -> Response:
        return self.error(ctx, "unauthorized", message="Missing API key. Include it in the x-api-key header.")

    def invalid_key(self, ctx: Ctx) -> Response:
        return self.error(ctx, "unauthorized", message="Invalid API key")

    def expired_key(self, ctx: Ctx) -> Response:
        return self.error(ctx, "unauthorized", message="API key has been revoked")

    def _rate_limited(self, ctx: Ctx, seconds: int) -> Response:
        response = self.error(
            ctx,
            "rate_limited",
            message=f"Rate limit exceeded. Retry after {seconds} seconds.",
            headers=[("Retry-After", str(seconds))],
        )
        return response

    def rate_limited(self, ctx: Ctx, wait: float) -> Response:
        return self._rate_limited(ctx, self.retry_seconds(wait))

    def outage(self, ctx: Ctx) -> Response:
        return self.error(ctx, "internal_error")

    def not_found(self, ctx: Ctx) -> Response:
        return self.error(ctx, "not_found")

    def _plan_limit(self, ctx: Ctx) -> Response:
        config = ctx.account.config
        limit = config.quota_limit or 0
        current = max(config.quota_used, limit)
        return self.error(
            ctx,
            "plan_limit_exceeded",
            message=f"Monthly message limit reached ({current}/{limit}). Upgrade your plan.",
            extra={"limit": limit, "current": current, "upgrade_url": self.upgrade_url},
        )

    def forced(self, ctx: Ctx, code: str, status: int | None) -> Response:
        if code == "plan_limit_exceeded" and status in (None, 402):
            return self._plan_limit(ctx)
        if code == "rate_limited" and status in (None, 429):
            return self._rate_limited(ctx, 15)
        return super().forced(ctx, code, status)

    def forced_details(self, ctx, code, status):
        if code == "invalid_request":
            return {"param": "to"}, [], None
        return {}, [], None

    def decorate(self, ctx: Ctx, response: Response) -> None:
        limit = self.plan_requests_per_minute.get(ctx.account.config.plan, 1000)
        forced_zero = response.status == 429  # any 429 means the window is spent
        remaining = 0 if forced_zero else max(0, limit - ctx.window_count)
        response.headers.append(("x-ratelimit-remaining", str(remaining)))

    def _invalid(self, ctx: Ctx, param: str, message: str) -> Response:
        return self.error(ctx, "invalid_request", message=message, extra={"param": param})

    def send(self, ctx: Ctx) -> Response:
        ok, data = ctx.json()
        if not ok or not isinstance(data, dict):
            return self.error(ctx, "invalid_request", message="Request body must be valid JSON")
        to, sender, content = data.get("to"), data.get("from"), data.get("content")
        if not isinstance(to, str) or not E164.match(to):
            return self._invalid(ctx, "to", "The 'to' field must be a valid E.164 phone number")
        if not isinstance(sender, str) or not E164.match(sender):
            return self._invalid(ctx, "from", "The 'from' field must be a valid E.164 phone number")
        config = ctx.account.config
        if config.senders and sender not in config.senders:
            return self._invalid(ctx, "from", 'The "from" number is not registered or verified for this team')
        if sender in config.paused_senders:
            return self._invalid(ctx, "from", 'The "from" number is currently paused')
        if not isinstance(content, str) or not content.strip():
            return self._invalid(ctx, "content", "The 'content' field is required")
        if len(content) > 5000:
            return self._invalid(ctx, "content", "The 'content' field must be at most 5000 characters")
        media_url = data.get("media_url")
        if media_url is not None and (not isinstance(media_url, str) or not media_url.startswith("https://")):
            return self._invalid(ctx, "media_url", "The 'media_url' field must be an HTTPS URL")
        left = ctx.account.quota_left()
        if left is not None and left <= 0:
            return self._plan_limit(ctx)
        ctx.account.drain(Decimal(0), 1)
        message_id = f"msg_{ctx.account.hex(12)}"
        self.record(ctx, vendor_message_id=message_id, recipient=to, sender=sender, body=content, segments=1, cost=None)
        body = {
            "id": message_id,
            "status": "queued",
            "to": to,
            "from": sender,
            "content": content,
            "media_url": media_url,
            "created_at": iso(ctx.now),
        }
        response = json_response(202, body)
        response.outcome = "accepted"
        return response

    def team(self, ctx: Ctx) -> Response:
        account = ctx.account
        body = {
            "id": "team_" + hashlib.sha256(account.name.encode()).hexdigest()[:6],
            "name": account.name,
            "plan": account.config.plan or "pro",
            "monthly_message_limit": account.config.quota_limit,
            "created_at": iso(account.created_at),
        }
        return json_response(200, body)


VENDORS: dict[str, Vendor] = {v.kind: v for v in (Telecom23(), TelephonyIo(), EightByEight(), Telnxo(), TextingBlue())}


def phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def reason(status: int) -> str:
    """A WSGI status line."""
    return f"{status} {phrase(status)}"


def render_error_body(kind: str, code: str) -> str:
    """The body the simulated vendor answers with for one catalogue code (demo data reuses it).

    Per-recipient statuses (23 Telecom ``blocked_country``) have no error body of their own: "".
    """
    if code in VENDORS[kind].per_recipient_codes:
        return ""
    state = SimulatorState(clock=lambda: 1_767_258_000.0)  # a fixed time: stable, repeatable bodies
    with state.lock:
        account = state.account(kind, "render")
        ctx = Ctx(
            state=state,
            account=account,
            method="POST",
            path="",
            params={},
            headers={},
            body=b"",
            now=state.clock(),
            request_id=f"req_{account.hex(16)}",
        )
        response = VENDORS[kind].forced(ctx, code, None)
    return response.body.decode("utf-8", errors="replace")
