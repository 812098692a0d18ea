"""The ingest API's domain logic: validate a batch of reported vendor responses, record it.

Systems that call a vendor directly report each response here (``POST
/api/v1/events``, see docs/api.md). Each event becomes one ``Send`` with
source ``ingest``: ``accepted`` for a success, ``failed`` for an error, the
error normalized by the provider's adapter and recorded as an ``ErrorEvent``
through :func:`messaging.traffic.writer.build_error_event`.

A batch is all or nothing: any validation problem rejects the whole request and
nothing is written; otherwise every row is written in one transaction with one
insert per table (:func:`messaging.traffic.bulk.insert_returning_ids`), so the number of
queries does not grow with the batch.

No HttpRequest here: :func:`ingest` takes the raw JSON bytes and either returns
the response document or raises :class:`IngestError` with a status and problems.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from messaging.models import Channel, ErrorEvent, Provider, Send, SendStatus
from messaging.traffic import clean
from messaging.traffic.writer import record_batch
from providers import BaseAdapter, NormalizedError, UnknownKind, parse_error
from providers.base import as_headers, load_json

MAX_EVENTS = 1000
MAX_EVENT_BODY_BYTES = 64 * 1024
MAX_REQUEST_BYTES = 8 * 1024 * 1024
FUTURE_TOLERANCE = timedelta(minutes=5)
EARLIEST_OCCURRED_AT = datetime(2000, 1, 1, tzinfo=UTC)
# A pathological request (one event with 100,000 unknown keys) must not answer with
# 100,000 problems: after this many the list ends with a note saying how many more.
MAX_PROBLEMS = 1000

if TYPE_CHECKING:
    ChannelName = str  # a Literal built at run time is opaque to type checkers
else:
    # One of the Channel values, so pydantic validates it and lists them in the JSON schema.
    ChannelName = Literal.__getitem__(tuple(Channel.values))


# -- the request and response documents -----------------------------------------------


def _no_nul(value: str | None) -> str | None:
    # PostgreSQL text cannot hold NUL characters.
    if value is not None and "\x00" in value:
        raise PydanticCustomError("nul_character", "must not contain NUL (\\u0000) characters")
    return value


class IngestEvent(BaseModel):
    """One vendor response, as the reporting system received it."""

    model_config = ConfigDict(extra="forbid", strict=True, title="IngestEvent")

    http_status: Annotated[
        int, Field(ge=100, le=599, description="The HTTP status the vendor answered with.", examples=[402])
    ]
    body: Annotated[
        str,
        Field(
            max_length=MAX_EVENT_BODY_BYTES,
            description=(
                "The vendor's raw response body, exactly as received (JSON, HTML or anything else, as a string; "
                f"'' when empty). At most {MAX_EVENT_BODY_BYTES} bytes UTF-8 encoded."
            ),
        ),
    ]
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Response headers that matter for normalization (Retry-After, X-Request-ID, ...).",
        examples=[{"Retry-After": "15"}],
    )
    recipient: Annotated[str, Field(max_length=320)] | None = Field(
        default=None, description="The recipient (E.164 number, Apple ID, address)."
    )
    occurred_at: AwareDatetime | None = Field(
        default=None,
        description=(
            "When the vendor answered: ISO 8601 with a time zone. Defaults to the time Sendwatch received the "
            "request; at most 5 minutes in the future."
        ),
    )
    message_id: Annotated[str, Field(max_length=128)] | None = Field(
        default=None, description="The vendor's message id from a successful answer."
    )
    channel: ChannelName = Field(default="sms", description="The channel the message went out on.")
    idempotency_key: Annotated[str, Field(min_length=1, max_length=128)] | None = Field(
        default=None,
        description="Your unique id for this event. An event whose key this provider has seen is not recorded again.",
    )

    @field_validator("body")
    @classmethod
    def _body_size(cls, value: str) -> str:
        # max_length above counts characters; the limit is in bytes.
        if len(value) * 4 > MAX_EVENT_BODY_BYTES and len(value.encode("utf-8")) > MAX_EVENT_BODY_BYTES:
            raise PydanticCustomError(
                "body_too_long", "must be at most {limit} bytes (UTF-8)", {"limit": MAX_EVENT_BODY_BYTES}
            )
        return value

    @field_validator("recipient", "message_id", "idempotency_key")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        return _no_nul(value)

    @field_validator("headers")
    @classmethod
    def _header_text(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            _no_nul(name)
            _no_nul(text)
        return value

    @field_validator("occurred_at")
    @classmethod
    def _plausible_time(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        if value is None:
            return None
        now = (info.context or {}).get("now") or timezone.now()
        try:
            value = value.astimezone(UTC)
        except (OverflowError, ValueError):
            raise PydanticCustomError("time_out_of_range", "is out of range") from None
        if value < EARLIEST_OCCURRED_AT:
            raise PydanticCustomError("time_too_early", "must not be before 2000-01-01T00:00:00Z")
        if value > now + FUTURE_TOLERANCE:
            raise PydanticCustomError("time_in_future", "must not be more than 5 minutes in the future")
        return value


class IngestRequest(BaseModel):
    """A batch of vendor responses for one provider."""

    model_config = ConfigDict(extra="forbid", strict=True, title="IngestRequest")

    provider: Annotated[
        str,
        Field(
            min_length=1,
            max_length=50,
            pattern=r"^[-a-zA-Z0-9_]+$",
            description="The Sendwatch provider's slug (an account at a vendor).",
            examples=["23telecom-eu"],
        ),
    ]
    events: Annotated[list[IngestEvent], Field(min_length=1, max_length=MAX_EVENTS)]


class EventResult(BaseModel):
    """What became of one event, in request order."""

    model_config = ConfigDict(title="EventResult")

    index: int = Field(description="The event's position in the request's events array.")
    send_id: int = Field(description="The Send row (for a duplicate: the one recorded the first time).")
    error_event_id: int | None = Field(description="The ErrorEvent row, or null for a success.")
    provider_code: str | None = Field(description="The vendor's error code exactly as sent, or null for a success.")
    category: str | None = Field(description="Sendwatch's error category, or null for a success.")
    duplicate: bool = Field(description="True when the idempotency key had been recorded before.")


class IngestResponse(BaseModel):
    model_config = ConfigDict(title="IngestResponse")

    provider: str
    received: int = Field(description="Events in the request.")
    recorded: int = Field(description="Events recorded now.")
    duplicates: int = Field(description="Events whose idempotency key was already recorded.")
    results: list[EventResult]


class Problem(BaseModel):
    model_config = ConfigDict(title="Problem")

    path: str = Field(description="Where the problem is, e.g. events[3].http_status; '' for the request as a whole.")
    message: str


class ErrorResponse(BaseModel):
    model_config = ConfigDict(title="ErrorResponse")

    errors: list[Problem]


class IngestError(Exception):
    """The request is refused: ``status`` and the problems to answer with."""

    def __init__(self, status: int, problems: list[dict[str, str]]) -> None:
        super().__init__(problems[0]["message"] if problems else str(status))
        self.status = status
        self.problems = problems


def problem(path: str, message: str) -> dict[str, str]:
    return {"path": path, "message": message}


# -- validation ---------------------------------------------------------------------------


def parse(raw: bytes | str, *, now: datetime | None = None) -> IngestRequest:
    """The validated request, or IngestError(400) listing every problem."""
    try:
        return IngestRequest.model_validate_json(raw, context={"now": now or timezone.now()})
    except ValidationError as exc:
        raise IngestError(400, problems_from(exc)) from None


def problems_from(exc: ValidationError) -> list[dict[str, str]]:
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    problems = [problem(format_loc(error["loc"]), _message(error)) for error in errors[:MAX_PROBLEMS]]
    if len(errors) > MAX_PROBLEMS:
        problems.append(problem("", f"... and {len(errors) - MAX_PROBLEMS} more problems"))
    return problems


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "json_invalid":
        return f"The request body is not valid JSON: {error['msg'].removeprefix('Invalid JSON: ')}"
    if kind == "missing":
        return "This field is required."
    if kind == "extra_forbidden":
        return "Unknown field."
    if kind == "model_type" and not error["loc"]:
        return "The request body must be a JSON object."
    if kind == "model_type":
        return "Must be a JSON object."
    if kind in ("int_type", "int_parsing") and error["loc"] and error["loc"][-1] == "http_status":
        return "Must be an integer from 100 to 599 (not a boolean, string or float)."
    return error["msg"]


def format_loc(loc: tuple[int | str, ...]) -> str:
    """('events', 3, 'http_status') -> 'events[3].http_status'; header names in brackets."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif path and not part.isidentifier():
            path += "[" + _quote(part) + "]"
        else:
            path += ("." if path else "") + part
    return path


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# -- classification -----------------------------------------------------------------------


@dataclass
class _Outcome:
    event: IngestEvent
    occurred_at: datetime
    error: NormalizedError | None
    request_id: str


def classify(adapter_class: type[BaseAdapter], event: IngestEvent, now: datetime) -> _Outcome:
    """Success or a NormalizedError for one event, by the provider's adapter. Never raises."""
    occurred_at = event.occurred_at or now
    error: NormalizedError | None = None
    if 200 <= event.http_status < 300:
        # A 2xx may still carry an error in the vendor's shape (23 Telecom {"status": false} with 200),
        # or a body nobody can read: the adapter decides, as it does for Sendwatch's own calls.
        verdict = adapter_class.classify_success_body(load_json(event.body), event.body)
        if verdict != "ok":
            error = parse_error(adapter_class.kind, event.http_status, event.body, event.headers)
    else:
        error = parse_error(adapter_class.kind, event.http_status, event.body, event.headers)
    if error is not None:
        error = clean.error(error)
        return _Outcome(event, occurred_at, error, error.request_id or "")
    request_id = ""
    if adapter_class.request_id_header:
        request_id = clean.text(as_headers(event.headers).get(adapter_class.request_id_header) or "")
    return _Outcome(event, occurred_at, None, request_id)


# -- recording ------------------------------------------------------------------------------


def ingest(raw: bytes | str, *, now: datetime | None = None) -> dict[str, Any]:
    """Validate and record one request body; the response document, or IngestError."""
    now = now or timezone.now()
    return record(parse(raw, now=now), now=now)


def resolve_provider(slug: str) -> tuple[Provider, type[BaseAdapter]]:
    provider = Provider.objects.filter(slug=slug).first()
    if provider is None:
        raise IngestError(404, [problem("provider", f"No provider has the slug {slug!r}.")])
    if not provider.enabled:
        raise IngestError(409, [problem("provider", f"Provider {slug!r} is disabled; enable it to record events.")])
    try:
        adapter_class = provider.adapter_class
    except UnknownKind:
        raise IngestError(
            409, [problem("provider", f"Provider {slug!r} has kind {provider.kind!r}, which has no adapter.")]
        ) from None
    return provider, adapter_class


def record(payload: IngestRequest, *, now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    provider, adapter_class = resolve_provider(payload.provider)
    outcomes = [classify(adapter_class, event, now) for event in payload.events]

    # Within the request, the first event with a key is the one recorded.
    first_with_key: dict[str, int] = {}
    for index, event in enumerate(payload.events):
        if event.idempotency_key is not None:
            first_with_key.setdefault(event.idempotency_key, index)

    try:
        results = _write(provider, outcomes, first_with_key)
    except IntegrityError:
        if not first_with_key:
            raise
        # A concurrent request recorded one of our keys between our read and our insert:
        # the transaction rolled back; once more, re-reading the keys (now committed).
        results = _write(provider, outcomes, first_with_key)

    recorded = sum(1 for result in results if not result["duplicate"])
    return {
        "provider": provider.slug,
        "received": len(results),
        "recorded": recorded,
        "duplicates": len(results) - recorded,
        "results": results,
    }


def _write(provider: Provider, outcomes: list[_Outcome], first_with_key: dict[str, int]) -> list[dict[str, Any]]:
    results: list[dict[str, Any] | None] = [None] * len(outcomes)
    with transaction.atomic():
        seen = _recorded_keys(provider, list(first_with_key))
        fresh: list[int] = []
        for index, outcome in enumerate(outcomes):
            key = outcome.event.idempotency_key
            if key is None or (key not in seen and first_with_key[key] == index):
                fresh.append(index)
        send_rows = [_send_row(provider, outcomes[i]) for i in fresh]
        failures = [
            (position, outcome_error, outcomes[i].event.channel, outcomes[i].occurred_at)
            for position, i in enumerate(fresh)
            if (outcome_error := outcomes[i].error) is not None
        ]
        send_ids, error_ids = record_batch(provider, send_rows, failures, source=ErrorEvent.Source.INGEST)
    failed = [(fresh[position], send_ids[position]) for position, *_ in failures]
    error_id_of = {i: error_id for (i, _), error_id in zip(failed, error_ids, strict=True)}
    for i, send_id in zip(fresh, send_ids, strict=True):
        error = outcomes[i].error
        result: dict[str, Any] = {
            "index": i,
            "send_id": send_id,
            "error_event_id": error_id_of.get(i),
            "provider_code": error.provider_code[:100] if error else None,
            "category": str(error.category) if error else None,
            "duplicate": False,
        }
        results[i] = result
        key = outcomes[i].event.idempotency_key
        if key is not None:
            seen[key] = {k: v for k, v in result.items() if k != "index"}
    for index, outcome in enumerate(outcomes):
        key = outcome.event.idempotency_key
        if results[index] is None and key is not None:  # a key recorded before, or earlier in this request
            results[index] = {"index": index, **seen[key], "duplicate": True}
    return [result for result in results if result is not None]  # every index is filled by now


def _recorded_keys(provider: Provider, keys: list[str]) -> dict[str, dict[str, Any]]:
    """Results of the sends already recorded under ``keys`` for this provider (one query)."""
    if not keys:
        return {}
    first_error = ErrorEvent.objects.filter(send=OuterRef("pk")).order_by("id").values("id")[:1]
    rows = (
        Send.objects.filter(provider=provider, idempotency_key__in=keys)
        .annotate(first_error_id=Subquery(first_error))
        .values_list("idempotency_key", "pk", "first_error_id", "error_code", "error_category")
    )
    return {
        key: {
            "send_id": pk,
            "error_event_id": error_id,
            "provider_code": code or None,
            "category": category or None,
        }
        for key, pk, error_id, code, category in rows
        if key is not None  # always: filtered on idempotency_key__in
    }


def _send_row(provider: Provider, outcome: _Outcome) -> dict[str, Any]:
    """The Send's column values (a plain dict: building 1,000 model instances costs more than writing them)."""
    event, error = outcome.event, outcome.error
    row = {
        "provider_id": provider.pk,
        "channel": event.channel,
        "source": Send.Source.INGEST,
        "recipient": event.recipient or "",
        "idempotency_key": event.idempotency_key,
        "vendor_message_id": event.message_id or "",
        "request_id": outcome.request_id[:128],
        "http_status": event.http_status,
        "attempts": 1,
        "created_at": outcome.occurred_at,
        "completed_at": outcome.occurred_at,
    }
    if error is None:
        row["status"] = SendStatus.ACCEPTED
        return row
    reason = f"{error.provider_code}: {error.message}" if error.message else error.provider_code
    if error.ambiguous:
        reason += " (the vendor may have acted on it anyway)"
    row.update(
        status=SendStatus.FAILED,
        error_code=error.provider_code[:100],
        error_category=str(error.category),
        status_reason=reason[:300],
    )
    return row
