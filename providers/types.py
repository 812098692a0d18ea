"""The values adapters take and return, and the shared error taxonomy they speak.

Everything here is plain data: the :class:`Category` every vendor code maps
onto, catalogue entries and the fallbacks for a bare HTTP status, the
normalized error, and the request / outcome types that cross the adapter
boundary (credential, outgoing message, send and balance results, the HTTP
request an adapter builds and the response the transport hands back).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from requests.structures import CaseInsensitiveDict


class Category(StrEnum):
    """The shared error taxonomy every vendor code is mapped onto."""

    AUTH = "auth"
    PERMISSION = "permission"
    VALIDATION = "validation"
    BALANCE = "balance"
    QUOTA = "quota"
    RATE_LIMIT = "rate_limit"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    COMPLIANCE = "compliance"
    SERVER = "server"
    UNAVAILABLE = "unavailable"
    TIMEOUT = "timeout"
    NETWORK = "network"
    INVALID_RESPONSE = "invalid_response"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class CatalogueEntry:
    """One documented vendor error code, in the vendor's meaning, our words."""

    code: str
    http_status: int
    category: Category
    retryable: bool
    description: str
    resolution: str
    # The vendor may have acted on the request even though it answered with
    # an error (Telnxo gateway_timeout): never resend blindly.
    ambiguous: bool = False


def catalogue(*entries: CatalogueEntry) -> dict[str, CatalogueEntry]:
    """Build a vendor catalogue keyed by code, refusing duplicate codes."""
    table: dict[str, CatalogueEntry] = {}
    for entry in entries:
        if entry.code in table:
            raise ValueError(f"duplicate catalogue code {entry.code!r}")
        table[entry.code] = entry
    return table


# When a code is not in the vendor's catalogue, the HTTP status decides.
STATUS_CATEGORIES: dict[int, Category] = {
    400: Category.VALIDATION,
    401: Category.AUTH,
    402: Category.BALANCE,
    403: Category.PERMISSION,
    404: Category.NOT_FOUND,
    405: Category.VALIDATION,
    408: Category.TIMEOUT,
    409: Category.CONFLICT,
    410: Category.NOT_FOUND,
    413: Category.VALIDATION,
    415: Category.VALIDATION,
    422: Category.VALIDATION,
    426: Category.VALIDATION,
    429: Category.RATE_LIMIT,
    500: Category.SERVER,
    501: Category.SERVER,
    502: Category.UNAVAILABLE,
    503: Category.UNAVAILABLE,
    504: Category.TIMEOUT,
}
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503})
# A gateway timeout may mean the vendor queued the message after all.
AMBIGUOUS_STATUSES = frozenset({504})


def category_for_status(http_status: int | None) -> Category:
    if http_status is None:
        return Category.UNKNOWN
    if http_status in STATUS_CATEGORIES:
        return STATUS_CATEGORIES[http_status]
    if 500 <= http_status <= 599:
        return Category.SERVER
    if 400 <= http_status <= 499:
        return Category.VALIDATION
    return Category.UNKNOWN


def status_code(http_status: int | None) -> str:
    """The stable code used when a vendor sends nothing but an HTTP status."""
    return f"http_{http_status}" if http_status is not None else "no_status"


@dataclass
class NormalizedError:
    """One vendor error in the shared taxonomy; the vendor's code kept exactly."""

    kind: str
    provider_code: str
    category: Category
    http_status: int | None
    retryable: bool
    retry_after: float | None = None
    message: str = ""
    param: str | None = None
    request_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    known: bool = False
    description: str = ""
    resolution: str = ""
    ambiguous: bool = False
    raw_body: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "provider_code": self.provider_code,
            "category": str(self.category),
            "http_status": self.http_status,
            "retryable": self.retryable,
            "retry_after": self.retry_after,
            "message": self.message,
            "param": self.param,
            "request_id": self.request_id,
            "details": self.details,
            "known": self.known,
            "description": self.description,
            "resolution": self.resolution,
            "ambiguous": self.ambiguous,
            "raw_body": self.raw_body,
        }


@dataclass(frozen=True)
class ErrorFields:
    """What a vendor hook pulls out of an error body; None where absent."""

    code: str | None
    message: str = ""
    param: str | None = None
    request_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


class ResponseShapeError(ValueError):
    """A 2xx body that does not have the shape the vendor documents."""


@dataclass(frozen=True)
class ApiCredential:
    """A key (and optional secret) handed to an adapter; never printed."""

    key: str
    secret: str | None = None

    def __repr__(self) -> str:  # keeps keys out of tracebacks and logs
        return f"ApiCredential(key=…{self.key[-4:] if len(self.key) >= 8 else ''})"

    __str__ = __repr__


@dataclass(frozen=True)
class OutgoingMessage:
    recipients: tuple[str, ...]
    body: str
    sender: str = ""
    channel: str = "sms"
    idempotency_key: str | None = None
    client_reference: str | None = None


@dataclass
class RecipientResult:
    recipient: str
    accepted: bool
    vendor_message_id: str | None = None
    vendor_status: str = ""
    error: NormalizedError | None = None


@dataclass
class SendOutcome:
    """The result of one send request: a request-level error or per-recipient results."""

    http_status: int | None
    latency_ms: int
    results: list[RecipientResult] = field(default_factory=list)
    error: NormalizedError | None = None
    raw_body: str = ""
    request_id: str | None = None


@dataclass
class BalanceResult:
    """Money balance (amount + currency) or plan usage (used / limit + unit)."""

    http_status: int | None
    latency_ms: int
    amount: Decimal | None = None
    currency: str = ""
    used: int | None = None
    limit: int | None = None
    unit: str = ""
    blocked: bool = False
    # Degraded vendor answer (23 Telecom cache miss): the amount is not real.
    unavailable: bool = False
    details: dict[str, Any] = field(default_factory=dict)
    error: NormalizedError | None = None
    raw_body: str = ""


@dataclass(frozen=True)
class HttpRequest:
    """What a vendor hook asks the transport to send; ``path`` is relative to the base URL."""

    method: str
    path: str
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] | None = None


@dataclass(frozen=True)
class HttpResponse:
    """What the transport got back: the body is already capped (see :mod:`providers.transport`)."""

    status: int
    body: bytes
    headers: CaseInsensitiveDict
    latency_ms: int
