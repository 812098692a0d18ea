"""BaseAdapter: the fixed pipeline every vendor adapter runs.

The shape follows django-anymail's backends: the base class owns the pipeline
(build request -> call -> classify -> parse) and each vendor module fills in a
few hooks plus a declarative catalogue of its error codes. Errors are
normalized in exactly one place, :meth:`BaseAdapter.parse_error`, and the raw
response body is always kept (capped, with the credential scrubbed).

The values it passes around live in :mod:`providers.types`, body and header
reading in :mod:`providers.parsing`, the HTTP call in :mod:`providers.transport`.
Plain Python: importable without Django.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from providers.parsing import as_headers, body_format, decode_body, load_json, parse_retry_after, scrub
from providers.transport import DEFAULT_TIMEOUT, TransportError, new_session, perform
from providers.types import (
    AMBIGUOUS_STATUSES,
    RETRYABLE_STATUSES,
    ApiCredential,
    BalanceResult,
    CatalogueEntry,
    Category,
    ErrorFields,
    HttpRequest,
    HttpResponse,
    NormalizedError,
    OutgoingMessage,
    RecipientResult,
    ResponseShapeError,
    SendOutcome,
    category_for_status,
    status_code,
)

if TYPE_CHECKING:
    import requests

# Only BaseAdapter belongs here. The other names are kept importable from this module for
# callers written before the split (messaging imports scrub, as_headers and load_json, the
# bench HttpResponse); they live in providers.parsing and providers.types.
__all__ = ["BaseAdapter", "HttpResponse", "as_headers", "load_json", "scrub"]


class BaseAdapter:
    """One configured vendor account. Subclasses set the class attributes and hooks."""

    kind: ClassVar[str]
    label: ClassVar[str]
    default_base_url: ClassVar[str]
    errors: ClassVar[Mapping[str, CatalogueEntry]]
    # "money" (amount + currency) or "quota" (used / limit).
    balance_kind: ClassVar[str] = "money"
    max_recipients: ClassVar[int] = 1
    # The shortest balance-poll interval the vendor asks for, and where it says so ("" = none said).
    min_poll_seconds: ClassVar[int] = 60
    poll_guidance: ClassVar[str] = ""
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
        allow_private_hosts: Iterable[str] = (),
    ) -> None:
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.credential = credential
        self.options = dict(options or {})
        # Guarded (providers.outbound): public addresses only, plus the allow-listed hosts.
        # A session passed in (tests' mock transports) is used as it is.
        self.session = session or new_session(allow_private_hosts)
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
        details: dict[str, Any] = {"body_format": body_format(raw, data)}
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
                message=message or f"HTTP {http_status} without an error body in {cls.label}'s format",
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
            details={"body_format": body_format(self.keep_raw(response.body), load_json(response.body))},
            description="The vendor's response did not have the documented shape.",
            resolution="Keep the raw body and ask the vendor; for a send, reconcile before resending.",
            ambiguous=ambiguous,
            raw_body=self.keep_raw(response.body),
        )

    def _call(self, request: HttpRequest, *, sends_message: bool) -> HttpResponse | NormalizedError:
        """Perform one HTTP call. Transport failures become NormalizedErrors here."""
        headers = {"Accept": "application/json", **self.auth_headers(), **dict(request.headers)}
        try:
            response = perform(
                self.session,
                request.method,
                f"{self.base_url}{request.path}",
                headers=headers,
                json=request.json,
                params=request.params,
                timeout=self.timeout,
            )
        except TransportError as failure:
            self._last_latency_ms = failure.latency_ms
            # Only a send can be duplicated by a resend; a balance read that may have arrived is harmless.
            return self._transport_error(failure, ambiguous=failure.may_have_arrived and sends_message)
        self._last_latency_ms = response.latency_ms
        return response

    def _transport_error(self, failure: TransportError, *, ambiguous: bool) -> NormalizedError:
        return NormalizedError(
            kind=self.kind,
            provider_code=failure.code,
            category=failure.category,
            http_status=None,
            # An ambiguous failure is reconciled, not retried.
            retryable=not ambiguous,
            message=f"{failure.message} ({self.label})",
            known=True,
            description=failure.message + ".",
            resolution=(
                "Check the send with the vendor before resending: it may have gone out."
                if ambiguous
                else "Sendwatch retries with backoff; if it persists, check the base URL and the vendor's status page."
            ),
            ambiguous=ambiguous,
        )
