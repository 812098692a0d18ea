"""The simulated Telephony.io (seed 001, vendors/telephonyio.md).

Bearer auth; ``POST /sms/send`` and ``GET /account/balance`` in the shapes the
vendor notes assume (the docs have no generic SMS send); errors as
``{"error", "code"}``, the authentication page's nested shape for 401s, and
code-less ``{"error": "<text>"}`` bodies for 404 / 429 / 500.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from providers.simulator.vendors.base import (
    E164,
    Ctx,
    Response,
    Route,
    Vendor,
    bearer,
    json_response,
    money,
    phrase,
    sms_segments,
)


class TelephonyIo(Vendor):
    prefix = "/api"
    defaults = {"balance": Decimal("100.00"), "currency": "USD", "cost_per_message": Decimal("0.05")}
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
        return bearer(headers)

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
