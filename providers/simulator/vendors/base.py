"""What every simulated vendor shares: the request context, the response, routing and the Vendor base.

Each :class:`Vendor` subclass (one module per vendor, next to this one) renders
errors in exactly that vendor's documented envelope and answers its send and
balance calls with the documented (or, where the notes say so, the
documented-assumption) success shape. Handlers run with the state lock held,
so check-balance / drain / record is atomic.

A Vendor is built around its adapter class (``providers.registry`` pairs them):
its kind, label, error catalogue and whether accounts hold money or a quota
all come from the adapter, so the two cannot drift apart.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from providers.base import BaseAdapter
    from providers.simulator.state import Account, SimulatorState
    from providers.types import CatalogueEntry

E164 = re.compile(r"^\+[1-9]\d{6,14}$")

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


def bearer(headers: Mapping[str, str]) -> str | None:
    value = headers.get("authorization", "")
    if not value.startswith("Bearer "):
        return None
    return value[len("Bearer ") :].strip() or None


class Vendor:
    """One simulated vendor; subclasses set the routes, envelopes and handlers of theirs."""

    # The vendor's path below ``/{kind}/{account}`` (the adapter's base URL ends with it).
    prefix: str = ""
    routes: tuple[Route, ...] = ()
    # Documented HTTP status and wording per error code (from the seeds).
    doc_statuses: dict[str, int] = {}
    doc_messages: dict[str, str] = {}
    per_recipient_codes: frozenset[str] = frozenset()
    # Whether this vendor sends Retry-After on its 429s.
    sends_retry_after: bool = True
    # What a new account of this vendor starts with (AccountConfig fields; the rest keep theirs).
    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, adapter: type[BaseAdapter]) -> None:
        self.adapter = adapter

    @property
    def kind(self) -> str:
        return self.adapter.kind

    @property
    def label(self) -> str:
        return self.adapter.label

    @property
    def catalogue(self) -> Mapping[str, CatalogueEntry]:
        return self.adapter.errors

    @property
    def quota_based(self) -> bool:
        """Plan-cap vendor: "balance" is messages used out of a limit, not money."""
        return self.adapter.balance_kind == "quota"

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
        entry = self.catalogue.get(code)
        if entry is not None:
            return int(entry.http_status)
        if code in self.doc_statuses:
            return self.doc_statuses[code]
        found = re.fullmatch(r"http_(\d{3})", code)
        return int(found.group(1)) if found else None

    def message_for(self, code: str) -> str:
        if code in self.doc_messages:
            return self.doc_messages[code]
        entry = self.catalogue.get(code)
        if entry is not None and entry.description:
            return entry.description
        return code.replace("_", " ").capitalize()

    def knows(self, code: str) -> bool:
        return (
            code in self.per_recipient_codes
            or code in self.doc_statuses
            or code in self.catalogue
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


def phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def reason(status: int) -> str:
    """A WSGI status line."""
    return f"{status} {phrase(status)}"
