"""The simulated 8x8 (seed 002, vendors/8x8.md).

Bearer auth; single and batch sends under ``/subaccounts/{sub}/messages``
with ``umid`` UUIDs and ``QUEUED`` / ``REJECTED`` per message; the prepaid
balance (post-paid accounts answer 1201); numeric error codes with an
``errorId`` and a centisecond timestamp.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from providers.simulator.vendors.base import (
    Ctx,
    Response,
    Route,
    Vendor,
    bearer,
    iso,
    json_response,
    money,
    sms_segments,
)

MSISDN_8X8 = re.compile(r"^\+?[1-9][0-9]{6,14}$")
SUB_ACCOUNT_8X8 = re.compile(r"^[A-Za-z0-9\-._&]{3,50}$")


class EightByEight(Vendor):
    prefix = "/api/v1"
    defaults = {"balance": Decimal("100.00"), "currency": "USD", "cost_per_message": Decimal("0.045")}
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
        return bearer(headers)

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
        assert message is not None  # _message gives a message exactly when it gives no code
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
            assert message is not None  # _message gives a message exactly when it gives no code
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
