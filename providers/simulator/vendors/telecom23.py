"""The simulated 23 Telecom (seed 000, vendors/23telecom.md).

``X-API-Key`` auth; ``POST /sms/send`` with 1-100 recipients, GSM-7 / UCS-2
segment counting, an atomic balance pre-check and per-recipient ``results[]``;
``GET /user/balance`` with ``credit_blocked``, the degraded answer and the
onboarding answer; three kinds of 429 (account JSON, per-IP bodiless, edge HTML).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from providers.simulator.vendors.base import E164, Ctx, Response, Route, Vendor, json_response, money, sms_segments

SENDER_23 = re.compile(r"^(?:[A-Za-z][A-Za-z0-9 ]{2,10}|\+?[1-9]\d{6,14})$")


class Telecom23(Vendor):
    prefix = "/api/v1"
    defaults = {"balance": Decimal("100.00"), "currency": "EUR", "cost_per_message": Decimal("0.035")}
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
