"""The simulated texting.blue (seed 004, vendors/textingblue.md).

``x-api-key`` auth; ``POST /messages/send`` answering 202, registered and
paused ``from`` numbers, the plan's monthly message limit (402 with an
upgrade URL), ``GET /team`` and ``x-ratelimit-remaining`` on every response.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from providers.simulator.vendors.base import E164, Ctx, Response, Route, Vendor, iso, json_response


class TextingBlue(Vendor):
    prefix = "/v1"
    defaults = {"balance": None, "currency": "", "quota_limit": 10_000, "plan": "pro", "cost_per_message": 0}
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
