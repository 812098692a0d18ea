"""The simulated Telnxo (seed 003, vendors/telnxo.md; send body and usage endpoint are assumptions).

Bearer auth; ``POST /sms/send`` with ``X-Idempotency-Key`` (reuse within
24 h is a 409), ``GET /account/usage`` against a monthly quota, and
``X-Request-ID`` / ``X-RateLimit-*`` headers on every response.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from providers.simulator.vendors.base import E164, Ctx, Response, Route, Vendor, bearer, json_response, sms_segments


class Telnxo(Vendor):
    prefix = "/v1"
    defaults = {"balance": None, "currency": "", "quota_limit": 50_000, "plan": "growth", "cost_per_message": 0}
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
        return bearer(headers)

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
