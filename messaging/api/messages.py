"""The send API over HTTP: thin views around messaging.traffic.messages (see docs/api.md "Send API").

``POST /api/v1/messages`` queues one message (``{"to", "body", "route" | "provider", ...}``)
or a batch (``{"messages": [...]}``, up to MAX_MESSAGES), all or nothing. It checks, in this
order: method (405), failed token attempts from the client's address (429), bearer token
(401), the token's rate limit (429), its ``messages:send`` scope (403), content type (415),
size (413), then the body:

1. shape (400): the pydantic models below, every problem listed;
2. each message's fields (400): ``to`` is a phone number (normalized to E.164, a national
   number read in SENDWATCH_PHONE_REGION) or, on the email channel, an address; exactly one
   of ``route`` and ``provider``; an idempotency key used once in the batch;
3. the token's providers for messages naming a provider (403), before the slug is looked up,
   so a limited token cannot probe which providers exist;
4. routes and providers exist and are enabled (400, naming the slug);
5. the token's providers for messages naming a route (403): a token limited to some providers
   may use a route only when every provider of the route is among them, since a message may
   fail over to any of them;
6. the service (messaging.traffic.messages.submit): a key used before by this token for a
   different message (409), a route none of whose providers can take the message now (503,
   ``Retry-After: 30``).

New messages answer 202; a request whose every message was queued before under the same
idempotency key (same token, same content) answers 200 with the first messages and sends
nothing. ``GET /api/v1/messages/<id>`` reads one message back; a token sees only the messages
it sent (any other id is 404).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

import pydantic_core
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_variables
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from messaging.api.http import authenticate, error_response, method_not_allowed, read_json
from messaging.models import ApiToken, Channel, Provider, Route, Send, SendStatus
from messaging.traffic import numbers
from messaging.traffic.ingest import MAX_REQUEST_BYTES, problem, problems_from
from messaging.traffic.messages import IdempotencyConflict, MessageRequest, NoRoute, submit
from messaging.traffic.sending import EMAIL, MAX_BODY_CHARS
from messaging.vault import tokens
from messaging.vault.actor import client_ip
from messaging.vault.permissions import public

logger = logging.getLogger(__name__)

MAX_MESSAGES = 1000
MAX_METADATA_BYTES = 4096
MAX_SENDER_CHARS = 64
MAX_KEY_CHARS = 128
# How long a caller waits before retrying a message no provider of its route could take.
NO_ROUTE_RETRY_AFTER = 30

if TYPE_CHECKING:
    ChannelName = str
    StatusName = str
else:
    # Literals built from the model's choices, so pydantic checks them and the JSON schema lists them.
    ChannelName = Literal.__getitem__(tuple(Channel.values))
    StatusName = Literal.__getitem__(tuple(SendStatus.values))

Slug = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[-a-zA-Z0-9_]+$")]


# -- the request and response documents -----------------------------------------------


class MessageIn(BaseModel):
    """One message to one recipient, through a route or one provider."""

    model_config = ConfigDict(extra="forbid", strict=True)

    to: Annotated[
        str,
        Field(
            min_length=1,
            max_length=320,
            description=(
                "The recipient's phone number: E.164 (+447911123456) or as typed (07911 123456, read in the "
                "server's default region), a number valid for its country; answered and stored as E.164. On the "
                "email channel, an address."
            ),
            examples=["+447911123456"],
        ),
    ]
    body: Annotated[
        str, Field(min_length=1, max_length=MAX_BODY_CHARS, description="The text.", examples=["Your code is 123456"])
    ]
    route: Slug | None = Field(
        default=None,
        description="A route's slug: Sendwatch picks its provider, with failover. Give route or provider.",
        examples=["uk-otp"],
    )
    provider: Slug | None = Field(
        default=None, description="One provider's slug, instead of a route (no failover).", examples=["23telecom-eu"]
    )
    sender: Annotated[str, Field(max_length=MAX_SENDER_CHARS)] | None = Field(
        default=None, description="The sender id or number; the provider's default sender when absent."
    )
    channel: ChannelName = Field(default="sms", description="The channel.")
    idempotency_key: Annotated[str, Field(min_length=1, max_length=MAX_KEY_CHARS)] | None = Field(
        default=None,
        description=(
            "Your unique id for this message. The same key from the same token returns the first message "
            "(nothing is sent again); with different content it is refused (409)."
        ),
        examples=["order-8812-otp"],
    )
    metadata: dict[str, Any] | None = Field(
        default=None,
        description=f"Your own data, kept with the message and answered back: a JSON object of at most "
        f"{MAX_METADATA_BYTES} bytes serialized.",
        examples=[{"order": 8812}],
    )

    @field_validator("to", "body", "sender", "idempotency_key")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        # PostgreSQL text cannot hold NUL characters.
        if value is not None and "\x00" in value:
            raise PydanticCustomError("nul_character", "must not contain NUL (\\u0000) characters")
        return value

    @field_validator("body")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise PydanticCustomError("blank", "must not be blank")
        return value

    @field_validator("metadata")
    @classmethod
    def _small_object(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        if len(text.encode("utf-8")) > MAX_METADATA_BYTES:
            raise PydanticCustomError(
                "metadata_too_large", "must be at most {limit} bytes serialized", {"limit": MAX_METADATA_BYTES}
            )
        if "\\u0000" in text:  # jsonb cannot hold NUL in a key or a string
            raise PydanticCustomError("nul_character", "must not contain NUL (\\u0000) characters")
        return value


class MessageBatchIn(BaseModel):
    """Several messages, all or nothing."""

    model_config = ConfigDict(extra="forbid", strict=True)

    messages: Annotated[list[MessageIn], Field(min_length=1, max_length=MAX_MESSAGES)]


class MessageQueued(BaseModel):
    """A message as queued (or as first queued, for an idempotent replay)."""

    model_config = ConfigDict(title="MessageQueued")

    id: int = Field(description="The message's id, for GET /api/v1/messages/{id}.")
    status: StatusName = Field(description="queued for a new message; its current status for a replay.")
    provider: str = Field(description="The provider it was handed to (for a route: the one routing chose).")
    route: str | None = Field(description="The route's slug, or null when a provider was named.")
    to: str = Field(description="The recipient, normalized (E.164).")
    created_at: datetime
    created: bool = Field(description="False when the idempotency key returned a message queued before.")


class MessageBatchQueued(BaseModel):
    model_config = ConfigDict(title="MessageBatchQueued")

    messages: list[MessageQueued] = Field(description="One per message of the request, in order.")


class MessageError(BaseModel):
    model_config = ConfigDict(title="MessageError")

    code: str | None = Field(description="The vendor's error code exactly as sent.")
    category: str | None = Field(description="Sendwatch's category (balance, rate_limit, validation, ...).")
    message: str = Field(description="What happened, in words.")


class RoutingEntry(BaseModel):
    model_config = ConfigDict(title="RoutingEntry")

    at: datetime
    words: str = Field(description="The decision and its reasons (providers skipped and why, the one chosen).")
    provider: str | None = Field(default=None, description="The provider chosen, absent when none could be.")


class MessageDetail(BaseModel):
    """A message as it is now."""

    model_config = ConfigDict(title="MessageDetail")

    id: int
    status: StatusName = Field(
        description=(
            "queued (waiting, or waiting to retry), sending, accepted (by the vendor), delivered, failed, "
            "unknown (the vendor may have sent it; being reconciled)."
        )
    )
    provider: str = Field(description="The provider it is with now (after a failover: the new one).")
    route: str | None
    to: str
    attempts: int = Field(description="Vendor calls made so far.")
    error: MessageError | None = Field(description="The last error, or null when none happened.")
    routing: list[RoutingEntry] = Field(description="Routing decisions, oldest first ([] without a route).")
    created_at: datetime
    completed_at: datetime | None = Field(description="When it was accepted or failed for good.")
    metadata: dict[str, Any]


# -- the views ---------------------------------------------------------------------------


class _Refused(Exception):
    def __init__(self, status: int, problems: list[dict[str, str]], **headers: str) -> None:
        super().__init__(status)
        self.status, self.problems, self.headers = status, problems, headers


@public
@csrf_exempt  # token-authenticated, never cookie-authenticated: CSRF does not apply
@sensitive_variables()
def send_messages(request: HttpRequest) -> JsonResponse:
    if request.method != "POST":
        return method_not_allowed(request, "POST")
    token = authenticate(request, tokens.MESSAGES_SEND, logger)
    if isinstance(token, JsonResponse):
        return token
    raw = read_json(request, MAX_REQUEST_BYTES)
    if isinstance(raw, JsonResponse):
        return raw
    try:
        batch, messages = parse(raw)
        requests = _resolve(token, batch, messages, client_ip(request))
        try:
            results = submit(token, requests)
        except IdempotencyConflict as exc:
            message = (
                f"The idempotency_key {exc.key!r} was used before by this token for a different message; "
                "send exactly the same message to get the first one back, or use a new key."
            )
            raise _Refused(409, [problem(_at(batch, exc.index) + "idempotency_key", message)]) from None
        except NoRoute as exc:
            raise _Refused(
                503, [problem(_at(batch, exc.index) + "route", str(exc))], Retry_After=str(NO_ROUTE_RETRY_AFTER)
            ) from None
    except _Refused as exc:
        return error_response(exc.status, exc.problems, **exc.headers)

    route_slugs = {request.route.pk: request.route.slug for request in requests if request.route is not None}
    answers = [_queued(send, is_new, route_slugs) for send, is_new in results]
    status = 202 if any(is_new for _, is_new in results) else 200
    if batch:
        return JsonResponse(MessageBatchQueued(messages=answers).model_dump(mode="json"), status=status)
    return JsonResponse(answers[0].model_dump(mode="json"), status=status)


@public
@csrf_exempt
@sensitive_variables()
def message_detail(request: HttpRequest, pk: int) -> JsonResponse:
    if request.method not in ("GET", "HEAD"):
        return method_not_allowed(request, "GET")
    token = authenticate(request, tokens.MESSAGES_SEND, logger)
    if isinstance(token, JsonResponse):
        return token
    # Another token's message is answered exactly like one that does not exist.
    send = Send.objects.select_related("provider", "route").filter(pk=pk, api_token=token).first()
    if send is None:
        return error_response(404, [problem("", f"No message of this token has the id {pk}.")])
    return JsonResponse(detail(send).model_dump(mode="json"))


# -- parsing and resolving ------------------------------------------------------------------


def parse(raw: bytes | str) -> tuple[bool, list[MessageIn]]:
    """Whether the body is a batch, and its messages; _Refused(400) listing every problem of shape."""
    try:
        document = pydantic_core.from_json(raw, allow_inf_nan=False)
    except ValueError as exc:
        raise _Refused(400, [problem("", f"The request body is not valid JSON: {exc}")]) from None
    batch = isinstance(document, dict) and "messages" in document
    try:
        if batch:
            return True, MessageBatchIn.model_validate(document).messages
        return False, [MessageIn.model_validate(document)]
    except ValidationError as exc:
        raise _Refused(400, problems_from(exc)) from None


def _at(batch: bool, index: int) -> str:
    return f"messages[{index}]." if batch else ""


def _resolve(token: ApiToken, batch: bool, messages: list[MessageIn], ip: str | None) -> list[MessageRequest]:
    """The service's requests: recipients normalized, slugs looked up, the token's providers checked."""
    recipients = _check_fields(batch, messages)
    allowed = None if token.all_providers else set(token.providers.values_list("slug", flat=True))

    # Before any lookup: a limited token learns nothing about providers outside its list.
    if allowed is not None:
        refused = [
            problem(
                _at(batch, index) + "provider",
                f"This token may not act for provider {message.provider!r}; ask a Sendwatch admin for access.",
            )
            for index, message in enumerate(messages)
            if message.provider is not None and message.provider not in allowed
        ]
        _refuse_if_forbidden(token, refused, ip)

    routes = {
        route.slug: route
        for route in Route.objects.filter(slug__in={m.route for m in messages if m.route}).prefetch_related(
            "steps__provider"
        )
    }
    providers = {
        provider.slug: provider
        for provider in Provider.objects.filter(slug__in={m.provider for m in messages if m.provider})
    }
    problems: list[dict[str, str]] = []
    for index, message in enumerate(messages):
        if message.route is not None:
            route = routes.get(message.route)
            if route is None:
                problems.append(problem(_at(batch, index) + "route", f"No route has the slug {message.route!r}."))
            elif not route.enabled:
                problems.append(
                    problem(_at(batch, index) + "route", f"Route {message.route!r} is disabled; enable it to send.")
                )
        elif message.provider is not None:
            provider = providers.get(message.provider)
            if provider is None:
                problems.append(
                    problem(_at(batch, index) + "provider", f"No provider has the slug {message.provider!r}.")
                )
            elif not provider.enabled:
                problems.append(
                    problem(
                        _at(batch, index) + "provider",
                        f"Provider {message.provider!r} is disabled; enable it or send through a route.",
                    )
                )
    if problems:
        raise _Refused(400, problems)

    if allowed is not None:
        refused = []
        for index, message in enumerate(messages):
            if message.route is None:
                continue
            outside = sorted({step.provider.slug for step in routes[message.route].steps.all()} - allowed)
            if outside:
                names = ", ".join(repr(slug) for slug in outside)
                refused.append(
                    problem(
                        _at(batch, index) + "route",
                        f"This token may not send through route {message.route!r}: it may not act for its "
                        f"provider {names}; ask a Sendwatch admin for access.",
                    )
                )
        _refuse_if_forbidden(token, refused, ip)

    return [
        MessageRequest(
            to=to,
            body=message.body,
            route=routes[message.route] if message.route is not None else None,
            provider=providers[message.provider] if message.provider is not None else None,
            sender=message.sender or "",
            channel=message.channel,
            idempotency_key=message.idempotency_key,
            metadata=message.metadata or {},
        )
        for message, to in zip(messages, recipients, strict=True)
    ]


def _check_fields(batch: bool, messages: list[MessageIn]) -> list[str]:
    """Each message's normalized recipient; _Refused(400) for a bad recipient, route/provider or repeated key."""
    problems: list[dict[str, str]] = []
    recipients: list[str] = []
    first_with_key: dict[str, int] = {}
    for index, message in enumerate(messages):
        at = _at(batch, index)
        if message.route is None and message.provider is None:
            problems.append(problem(at + "route", "Give a route (or a provider instead)."))
        elif message.route is not None and message.provider is not None:
            problems.append(problem(at + "provider", "Give a route or a provider, not both."))
        to = message.to.strip()
        if message.channel == Channel.EMAIL:
            if not EMAIL.match(to):
                problems.append(problem(at + "to", f"{to!r} is not an email address."))
        else:
            try:
                to = numbers.to_e164(to)
            except numbers.InvalidNumber as exc:
                problems.append(problem(at + "to", f"{exc}."))
        recipients.append(to)
        key = message.idempotency_key
        if key is not None:
            earlier = first_with_key.setdefault(key, index)
            if earlier != index:
                problems.append(
                    problem(
                        at + "idempotency_key",
                        f"Repeats the idempotency_key of messages[{earlier}]; each message needs its own key.",
                    )
                )
    if problems:
        raise _Refused(400, problems)
    return recipients


def _refuse_if_forbidden(token: ApiToken, refused: list[dict[str, str]], ip: str | None) -> None:
    if not refused:
        return
    # Logged, not audited: a misconfigured caller would fill the audit log one request at a time.
    logger.warning("API token %s from %s refused: %s", token.prefix, ip or "-", refused[0]["message"])
    raise _Refused(403, refused)


# -- answers ---------------------------------------------------------------------------------


def _queued(send: Send, is_new: bool, route_slugs: dict[int, str]) -> MessageQueued:
    route = None
    if send.route_id is not None:
        route = route_slugs.get(send.route_id) or (send.route.slug if send.route else None)
    return MessageQueued(
        id=send.pk,
        status=send.status,
        provider=send.provider.slug,
        route=route,
        to=send.recipient,
        created_at=send.created_at,
        created=is_new,
    )


def detail(send: Send) -> MessageDetail:
    """The GET answer for ``send`` (provider and route selected with it)."""
    error = None
    if send.error_code or (send.status in (SendStatus.FAILED, SendStatus.UNKNOWN) and send.status_reason):
        error = MessageError(
            code=send.error_code or None, category=send.error_category or None, message=send.status_reason
        )
    return MessageDetail(
        id=send.pk,
        status=send.status,
        provider=send.provider.slug,
        route=send.route.slug if send.route else None,
        to=send.recipient,
        attempts=send.attempts,
        error=error,
        routing=[RoutingEntry.model_validate(entry) for entry in send.routing or []],
        created_at=send.created_at,
        completed_at=send.completed_at,
        metadata=send.metadata or {},
    )
