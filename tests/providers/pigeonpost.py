"""Pigeon Post, a toy sixth vendor for tests: its adapter and its simulated twin, nothing else.

It is what a real new vendor adds (``providers/<name>.py`` and
``providers/simulator/vendors/<name>.py``) squeezed into one test-only module,
and it is known to Sendwatch only while a test registers it
(``providers.registry.registered``). Plan-based: a small monthly quota of
pigeons, so the simulator has to learn "quota, not money" from the adapter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from providers.base import BaseAdapter
from providers.parsing import as_int, as_text
from providers.simulator.vendors.base import E164, Ctx, Response, Route, Vendor, json_response
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

KIND = "pigeonpost"

# ---- the adapter (what providers/pigeonpost.py would hold) ----------------------------------

ERRORS = catalogue(
    CatalogueEntry(
        "wrong_seed",
        401,
        Category.AUTH,
        retryable=False,
        description="The key (the birdseed) was missing or not recognised.",
        resolution="Send the account's key as X-Pigeon-Key.",
    ),
    CatalogueEntry(
        "no_such_loft",
        422,
        Category.VALIDATION,
        retryable=False,
        description="The recipient is not an E.164 number.",
        resolution="Fix the recipient's number.",
    ),
    CatalogueEntry(
        "coop_empty",
        402,
        Category.QUOTA,
        retryable=False,
        description="Every pigeon of this month's plan is out flying.",
        resolution="Wait for the next month or move to a bigger plan.",
    ),
)


class PigeonPostAdapter(BaseAdapter):
    kind = KIND
    label = "Pigeon Post"
    default_base_url = "https://api.pigeonpost.example/v1"
    errors = ERRORS
    balance_kind = "quota"

    def auth_headers(self) -> dict[str, str]:
        return {"X-Pigeon-Key": self.credential.key}

    def build_send_request(self, message: OutgoingMessage) -> HttpRequest:
        return HttpRequest("POST", "/coop/send", json={"to": message.recipients[0], "note": message.body})

    def parse_send_response(self, message: OutgoingMessage, response: HttpResponse, data: Any) -> list[RecipientResult]:
        pigeon = as_text(data.get("pigeon_id")) if isinstance(data, dict) else None
        if pigeon is None:
            raise ResponseShapeError("no pigeon_id in the answer")
        return [RecipientResult(message.recipients[0], True, pigeon, vendor_status="flying")]

    def build_balance_request(self) -> HttpRequest:
        return HttpRequest("GET", "/coop")

    def parse_balance_response(self, response: HttpResponse, data: Any) -> BalanceResult:
        if not isinstance(data, dict):
            raise ResponseShapeError("the coop answer is not an object")
        return BalanceResult(
            response.status, response.latency_ms, used=as_int(data.get("used")), limit=as_int(data.get("limit"))
        )

    @classmethod
    def extract_error(cls, data: Any) -> ErrorFields | None:
        squawk = data.get("squawk") if isinstance(data, dict) else None
        if not isinstance(squawk, dict):
            return None
        return ErrorFields(code=as_text(squawk.get("code")), message=as_text(squawk.get("message")) or "")


# ---- the simulated vendor (what providers/simulator/vendors/pigeonpost.py would hold) -----------


class PigeonPost(Vendor):
    prefix = "/v1"
    defaults = {"balance": None, "currency": "", "quota_limit": 2, "plan": "loft", "cost_per_message": 0}
    routes = (
        Route("POST", re.compile(r"/coop/send/?"), "send", "send"),
        Route("GET", re.compile(r"/coop/?"), "coop", "balance"),
    )

    def credential(self, headers: Mapping[str, str]) -> str | None:
        return headers.get("x-pigeon-key", "").strip() or None

    def error_body(self, ctx: Ctx, code: str, status: int, message: str, extra: Mapping[str, Any]) -> Any:
        return {"squawk": {"code": code, "message": message, **extra}}

    def missing_auth(self, ctx: Ctx) -> Response:
        return self.error(ctx, "wrong_seed")

    def invalid_key(self, ctx: Ctx) -> Response:
        return self.error(ctx, "wrong_seed")

    def rate_limited(self, ctx: Ctx, wait: float) -> Response:
        return self.bare_status(ctx, 429)

    def outage(self, ctx: Ctx) -> Response:
        return self.bare_status(ctx, 503)

    def not_found(self, ctx: Ctx) -> Response:
        return self.error(ctx, "not_found", 404, f"No route for {ctx.method} {ctx.path}")

    def send(self, ctx: Ctx) -> Response:
        ok, data = ctx.json()
        to = data.get("to") if ok and isinstance(data, dict) else None
        if not isinstance(to, str) or not E164.match(to):
            return self.error(ctx, "no_such_loft", message=f"No loft at {to!r}")
        left = ctx.account.quota_left()
        if left is not None and left <= 0:
            return self.error(ctx, "coop_empty")
        ctx.account.drain(Decimal(0), 1)
        pigeon = f"pigeon_{ctx.account.hex(8)}"
        self.record(
            ctx, vendor_message_id=pigeon, recipient=to, sender="", body=data.get("note"), segments=1, cost=None
        )
        response = json_response(200, {"pigeon_id": pigeon})
        response.outcome = "accepted"
        return response

    def coop(self, ctx: Ctx) -> Response:
        config = ctx.account.config
        return json_response(200, {"plan": config.plan, "used": config.quota_used, "limit": config.quota_limit})
