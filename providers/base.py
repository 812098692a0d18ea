"""The shared base every vendor adapter stands on.

Plain Python on ``requests``: importable without Django.

The shape follows django-anymail's backends: the base class owns a fixed
pipeline (build request -> call -> classify -> parse) and each vendor module
fills in a few hooks plus a declarative catalogue of its error codes. Errors
are normalized in exactly one place, :meth:`BaseAdapter.parse_error`, and the
raw response body is always kept (capped, with the credential scrubbed).
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, ClassVar

import requests
from requests.structures import CaseInsensitiveDict

# Raw bodies are kept for support, but never unbounded: a 10 MB HTML page
# from a misbehaving proxy must not end up in the database.
RAW_BODY_LIMIT = 8 * 1024
# Bodies larger than this are not even handed to the JSON parser.
PARSE_LIMIT = 256 * 1024

DEFAULT_TIMEOUT = (3.05, 15.0)  # (connect, read) seconds


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
    method: str
    path: str
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] | None = None


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes
    headers: CaseInsensitiveDict
    latency_ms: int


class ResponseShapeError(ValueError):
    """A 2xx body that does not have the shape the vendor documents."""


# -- small helpers shared by every adapter ------------------------------------

# "Retry after 15 seconds" (texting.blue), "Please try again in 1 second(s)" (8x8).
_RETRY_AFTER_IN_TEXT = re.compile(
    r"(?:re)?try\s+(?:again\s+)?(?:after|in)\s+(\d+(?:\.\d+)?)\s*(?:s\b|sec|second)", re.I
)


def decode_body(body: bytes | str | None, limit: int = RAW_BODY_LIMIT) -> str:
    """Text of a body for storage: never raises, replaces undecodable bytes, capped."""
    if body is None:
        return ""
    if isinstance(body, bytes):
        body = body[: limit * 4].decode("utf-8", errors="replace")
    elif not isinstance(body, str):
        body = str(body)
    return body[:limit]


def load_json(body: bytes | str | None) -> Any:
    """Parsed JSON, or None when the body is empty, too large or not JSON."""
    if body is None:
        return None
    if len(body) > PARSE_LIMIT:
        return None
    try:
        return json.loads(body)
    except (ValueError, TypeError, RecursionError):
        return None


def as_text(value: Any) -> str | None:
    """A scalar from a vendor body as text; None for missing, containers and bools."""
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def as_decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() else None


def as_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    # No vendor count needs 18+ digits, and int() of "1e99999999" would stall the worker.
    if not number.is_finite() or number.adjusted() >= 18:
        return None
    return int(number)


def parse_retry_after(headers: Mapping[str, str], message: str = "") -> float | None:
    """Seconds to wait: the Retry-After header wins, then a wait stated in the message."""
    raw = headers.get("Retry-After") if headers else None
    if raw is not None:
        raw = str(raw).strip()
        try:
            seconds = float(raw)
            if seconds >= 0 and seconds == seconds and seconds != float("inf"):
                return seconds
        except ValueError:
            parsed = None
            try:
                parsed = email.utils.parsedate_to_datetime(raw)
            except (TypeError, ValueError, IndexError, OverflowError):
                parsed = None
            if parsed is not None and parsed.tzinfo is not None:
                return max(0.0, parsed.timestamp() - time.time())
    if message:
        match = _RETRY_AFTER_IN_TEXT.search(message)
        if match:
            return float(match.group(1))
    return None


def as_headers(headers: Mapping[str, Any] | None) -> CaseInsensitiveDict:
    """Any header mapping as a case-insensitive dict of strings; junk is skipped."""
    result: CaseInsensitiveDict = CaseInsensitiveDict()
    if not headers:
        return result
    try:
        items = list(headers.items())
    except (AttributeError, TypeError):
        return result
    for name, value in items:
        if isinstance(name, bytes):
            name = name.decode("latin-1")
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if isinstance(name, str) and value is not None:
            result[name] = str(value)
    return result


def scrub(text: str, secrets: tuple[str | None, ...]) -> str:
    """Remove anything that echoes a credential from text kept for support."""
    for secret in secrets:
        if secret and len(secret) >= 4 and secret in text:
            text = text.replace(secret, "[REDACTED]")
    return text


# -- the adapter base ----------------------------------------------------------


class BaseAdapter:
    """One configured vendor account. Subclasses set the class attributes and hooks."""

    kind: ClassVar[str]
    label: ClassVar[str]
    default_base_url: ClassVar[str]
    errors: ClassVar[Mapping[str, CatalogueEntry]]
    # "money" (amount + currency) or "quota" (used / limit).
    balance_kind: ClassVar[str] = "money"
    max_recipients: ClassVar[int] = 1
    # Options a provider must configure (8x8 account and sub-account ids).
    required_options: ClassVar[tuple[str, ...]] = ()
    # Header that carries a vendor request id on every response, if any.
    request_id_header: ClassVar[str | None] = None
    # The vendor dedupes resends that carry the same idempotency key (Telnxo
    # X-Idempotency-Key), so a send whose worker died mid-call may be resent.
    idempotent_sends: ClassVar[bool] = False

    def __init__(
        self,
        base_url: str,
        credential: ApiCredential,
        *,
        options: Mapping[str, Any] | None = None,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.credential = credential
        self.options = dict(options or {})
        self.session = session or requests.Session()
        self.timeout = timeout

    # ---- hooks each vendor module implements ----

    def auth_headers(self) -> dict[str, str]:
        raise NotImplementedError

    def build_send_request(self, message: OutgoingMessage) -> HttpRequest:
        raise NotImplementedError

    def parse_send_response(self, message: OutgoingMessage, response: HttpResponse, data: Any) -> list[RecipientResult]:
        """Per-recipient results from a 2xx body; raise ResponseShapeError on a wrong shape."""
        raise NotImplementedError

    def build_balance_request(self) -> HttpRequest:
        raise NotImplementedError

    def parse_balance_response(self, response: HttpResponse, data: Any) -> BalanceResult:
        """Balance from a 2xx body; raise ResponseShapeError on a wrong shape."""
        raise NotImplementedError

    @classmethod
    def extract_error(cls, data: Any) -> ErrorFields | None:
        """The vendor's error fields from a parsed body, or None if it is not an error body."""
        raise NotImplementedError

    @classmethod
    def means_already_accepted(cls, error: NormalizedError) -> bool:
        """Whether this error, answering a resend, says the first attempt was accepted."""
        return False

    # ---- the fixed pipeline ----

    def send(self, message: OutgoingMessage) -> SendOutcome:
        if len(message.recipients) > self.max_recipients:
            raise ValueError(f"{self.kind} takes at most {self.max_recipients} recipients per request")
        request = self.build_send_request(message)
        response = self._call(request, sends_message=True)
        if isinstance(response, NormalizedError):
            return SendOutcome(http_status=None, latency_ms=self._last_latency_ms, error=response)
        raw = self.keep_raw(response.body)
        request_id = self._request_id(response.headers)
        data = load_json(response.body)
        error = self._error_in(response, data, sends_message=True)
        if error is not None:
            return SendOutcome(response.status, response.latency_ms, error=error, raw_body=raw, request_id=request_id)
        try:
            results = self.parse_send_response(message, response, data)
        except (ResponseShapeError, KeyError, TypeError, AttributeError, ValueError) as exc:
            error = self._invalid_response(response, str(exc), ambiguous=True)
            return SendOutcome(response.status, response.latency_ms, error=error, raw_body=raw, request_id=request_id)
        return SendOutcome(response.status, response.latency_ms, results=results, raw_body=raw, request_id=request_id)

    def fetch_balance(self) -> BalanceResult:
        response = self._call(self.build_balance_request(), sends_message=False)
        if isinstance(response, NormalizedError):
            return BalanceResult(http_status=None, latency_ms=self._last_latency_ms, error=response)
        raw = self.keep_raw(response.body)
        data = load_json(response.body)
        error = self._error_in(response, data, sends_message=False)
        if error is None:
            try:
                result = self.parse_balance_response(response, data)
            except (ResponseShapeError, KeyError, TypeError, AttributeError, ValueError) as exc:
                error = self._invalid_response(response, str(exc))
            else:
                result.raw_body = raw
                return result
        return BalanceResult(http_status=response.status, latency_ms=response.latency_ms, error=error, raw_body=raw)

    # ---- error normalization: the one place ----

    @classmethod
    def parse_error(
        cls,
        http_status: int | None,
        body: bytes | str | None,
        headers: Mapping[str, Any] | None = None,
        *,
        secrets: tuple[str | None, ...] = (),
    ) -> NormalizedError:
        """Normalize any vendor response into a NormalizedError. Never raises."""
        if not isinstance(http_status, int) or isinstance(http_status, bool):
            http_status = None
        header_map = as_headers(headers)
        raw = scrub(decode_body(body), secrets)
        data = load_json(body) if isinstance(body, (bytes, str)) else None
        try:
            fields = cls.extract_error(data) if data is not None else None
            if fields is not None:
                # Scrubbed here so both paths below (known code, status-only) are covered.
                fields = replace(
                    fields,
                    message=scrub(fields.message or "", secrets),
                    param=scrub(fields.param, secrets) if fields.param else fields.param,
                    details={k: scrub(v, secrets) if isinstance(v, str) else v for k, v in fields.details.items()},
                )
        except Exception:  # a vendor hook must never take the caller down
            fields = None
        request_id = (fields.request_id if fields else None) or cls._request_id(header_map)
        if fields is None or fields.code is None:
            return cls._unparsed_error(http_status, raw, header_map, request_id, data, fields)
        entry = cls.errors.get(fields.code)
        message = fields.message
        retry_after = parse_retry_after(header_map, message)
        if entry is not None:
            retryable, ambiguous = entry.retryable, entry.ambiguous
            category = entry.category
        else:
            category = category_for_status(http_status)
            retryable = http_status in RETRYABLE_STATUSES
            ambiguous = http_status in AMBIGUOUS_STATUSES
        if retry_after is not None and category is Category.RATE_LIMIT:
            retryable = True
        return NormalizedError(
            kind=cls.kind,
            provider_code=fields.code,
            category=category,
            http_status=http_status,
            retryable=retryable,
            retry_after=retry_after,
            message=message,
            param=fields.param,
            request_id=request_id,
            details=fields.details,
            known=entry is not None,
            description=entry.description if entry else "",
            resolution=entry.resolution if entry else "",
            ambiguous=ambiguous,
            raw_body=raw,
        )

    @classmethod
    def _unparsed_error(cls, http_status, raw, headers, request_id, data, fields) -> NormalizedError:
        """No vendor code in the body: an error status decides, otherwise the body is invalid."""
        message = (fields.message if fields else "") or ""
        details: dict[str, Any] = {"body_format": _body_format(raw, data)}
        if http_status is not None and http_status >= 400:
            code = status_code(http_status)
            entry = cls.errors.get(code)
            category = entry.category if entry else category_for_status(http_status)
            retryable = entry.retryable if entry else http_status in RETRYABLE_STATUSES
            ambiguous = entry.ambiguous if entry else http_status in AMBIGUOUS_STATUSES
            retry_after = parse_retry_after(headers, message)
            if retry_after is not None and category is Category.RATE_LIMIT:
                retryable = True
            return NormalizedError(
                kind=cls.kind,
                provider_code=code,
                category=category,
                http_status=http_status,
                retryable=retryable,
                retry_after=retry_after,
                message=message or f"HTTP {http_status} without a {cls.label} error body",
                request_id=request_id,
                details=details,
                known=entry is not None,
                description=entry.description if entry else "",
                resolution=entry.resolution if entry else "",
                ambiguous=ambiguous,
                raw_body=raw,
            )
        return NormalizedError(
            kind=cls.kind,
            provider_code="invalid_response",
            category=Category.INVALID_RESPONSE,
            http_status=http_status,
            retryable=False,
            message=message or f"{cls.label} answered with a body Sendwatch cannot read",
            request_id=request_id,
            details=details,
            known=False,
            description="The vendor's response did not have the documented shape.",
            resolution="Check the provider's base URL; if it is right, keep the raw body for the vendor's support.",
            ambiguous=http_status is not None and 200 <= http_status < 300,
            raw_body=raw,
        )

    # ---- plumbing ----

    _last_latency_ms: int = 0

    def keep_raw(self, body: bytes | str | None) -> str:
        return scrub(decode_body(body), (self.credential.key, self.credential.secret))

    @classmethod
    def _request_id(cls, headers: Mapping[str, str]) -> str | None:
        if cls.request_id_header and headers:
            value = headers.get(cls.request_id_header)
            return str(value)[:200] if value else None
        return None

    @classmethod
    def classify_success_body(cls, data: Any, body: bytes | str | None) -> str:
        """What a 2xx answer's body is: "ok", "error" (a vendor error body sent with a 2xx,
        e.g. 23 Telecom's ``{"status": false, ...}``) or "unreadable" (not empty, not JSON).

        ``data`` is the parsed body (``load_json(body)``). Never raises.
        """
        try:
            fields = cls.extract_error(data) if data is not None else None
        except Exception:  # a vendor hook must never take the caller down
            fields = None
        if fields is not None and fields.code is not None:
            return "error"
        if data is None and body is not None and body.strip():
            return "unreadable"
        return "ok"

    def _error_in(self, response: HttpResponse, data: Any, *, sends_message: bool) -> NormalizedError | None:
        """An error for a non-2xx status, or for a 2xx that carries an error body."""
        if 200 <= response.status < 300:
            verdict = self.classify_success_body(data, response.body)
            if verdict == "unreadable":
                # A 2xx to a send may mean it went out, whatever the body says.
                return self._invalid_response(response, "body is not JSON", ambiguous=sends_message)
            if verdict == "ok":
                return None
        return self.parse_error(
            response.status,
            response.body,
            response.headers,
            secrets=(self.credential.key, self.credential.secret),
        )

    def _invalid_response(self, response: HttpResponse, reason: str, *, ambiguous: bool = False) -> NormalizedError:
        return NormalizedError(
            kind=self.kind,
            provider_code="invalid_response",
            category=Category.INVALID_RESPONSE,
            http_status=response.status,
            retryable=False,
            message=f"{self.label} answered with an unexpected body: {reason}"[:500],
            request_id=self._request_id(response.headers),
            details={"body_format": _body_format(self.keep_raw(response.body), load_json(response.body))},
            description="The vendor's response did not have the documented shape.",
            resolution="Keep the raw body and ask the vendor; for a send, reconcile before resending.",
            ambiguous=ambiguous,
            raw_body=self.keep_raw(response.body),
        )

    def _call(self, request: HttpRequest, *, sends_message: bool) -> HttpResponse | NormalizedError:
        """Perform one HTTP call. Transport failures become NormalizedErrors here."""
        headers = {"Accept": "application/json", **self.auth_headers(), **dict(request.headers)}
        url = f"{self.base_url}{request.path}"
        started = time.perf_counter()
        try:
            with self.session.request(
                request.method,
                url,
                json=request.json,
                params=request.params,
                headers=headers,
                timeout=self.timeout,
                stream=True,
                allow_redirects=False,
            ) as raw_response:
                body = _read_capped(raw_response)
                status, response_headers = raw_response.status_code, CaseInsensitiveDict(raw_response.headers)
        except requests.exceptions.ConnectTimeout:
            return self._transport_error(
                started, "connect_timeout", Category.TIMEOUT, "Timed out connecting", ambiguous=False
            )
        except (requests.exceptions.ReadTimeout, requests.exceptions.Timeout):
            # The request may have reached the vendor: a resend could duplicate.
            return self._transport_error(
                started, "read_timeout", Category.TIMEOUT, "Timed out waiting for the answer", ambiguous=sends_message
            )
        except requests.exceptions.SSLError:
            return self._transport_error(
                started, "tls_error", Category.NETWORK, "TLS handshake failed", ambiguous=False
            )
        except requests.exceptions.ConnectionError as exc:
            # Refused / DNS failures never reached the vendor; a dropped connection mid-answer may have.
            dropped = _is_dropped_connection(exc)
            return self._transport_error(
                started,
                "connection_dropped" if dropped else "connection_failed",
                Category.NETWORK,
                "Connection dropped before the answer" if dropped else "Could not connect",
                ambiguous=dropped and sends_message,
            )
        except requests.exceptions.RequestException:
            return self._transport_error(
                started, "request_failed", Category.NETWORK, "The request failed", ambiguous=sends_message
            )
        latency_ms = int((time.perf_counter() - started) * 1000)
        self._last_latency_ms = latency_ms
        return HttpResponse(status=status, body=body, headers=response_headers, latency_ms=latency_ms)

    def _transport_error(
        self, started: float, code: str, category: Category, message: str, *, ambiguous: bool
    ) -> NormalizedError:
        self._last_latency_ms = int((time.perf_counter() - started) * 1000)
        return NormalizedError(
            kind=self.kind,
            provider_code=code,
            category=category,
            http_status=None,
            # An ambiguous failure is reconciled, not retried.
            retryable=not ambiguous,
            message=f"{message} ({self.label})",
            known=True,
            description=message + ".",
            resolution=(
                "Check the send with the vendor before resending: it may have gone out."
                if ambiguous
                else "Sendwatch retries with backoff; if it persists, check the base URL and the vendor's status page."
            ),
            ambiguous=ambiguous,
        )


def _read_capped(response: requests.Response) -> bytes:
    """Read at most PARSE_LIMIT bytes (plus one, so oversize is visible) of a body."""
    chunks, size = [], 0
    for chunk in response.iter_content(chunk_size=64 * 1024):
        chunks.append(chunk)
        size += len(chunk)
        if size > PARSE_LIMIT:
            break
    return b"".join(chunks)


def _is_dropped_connection(exc: requests.exceptions.ConnectionError) -> bool:
    text = repr(exc)
    return any(
        marker in text for marker in ("RemoteDisconnected", "ProtocolError", "Connection aborted", "IncompleteRead")
    )


def _body_format(raw: str, data: Any) -> str:
    if not raw.strip():
        return "empty"
    if data is not None:
        return "json"
    if raw.lstrip()[:1] == "<":
        return "html"
    return "text"
