"""The send API's service: queue messages by route or provider, once per idempotency key.

A batch is all or nothing (one transaction). A message names a route (the provider is chosen
by messaging.traffic.routing, and the choice is kept in words on the send) or one provider.
The same idempotency key from the same token returns the first message when the request is the
same, and is refused (IdempotencyConflict) when it differs. Each message is its own vendor call
(its own body), dispatched on commit; the outbox and the worker do the rest (sending.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from messaging.models import ApiToken, Provider, Route, Send, SendStatus, recipient_key
from messaging.traffic import rollups, routing
from messaging.traffic.bulk import insert_returning_ids, model_values
from messaging.traffic.sending import dispatch_each


@dataclass(frozen=True)
class MessageRequest:
    to: str  # E.164, normalized by the caller (messaging.traffic.numbers.to_e164)
    body: str
    route: Route | None = None
    provider: Provider | None = None
    sender: str = ""
    channel: str = "sms"
    idempotency_key: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def fingerprint(self) -> str:
        """What "the same request" means for an idempotency key: every field the caller sent."""
        content = {
            "to": self.to,
            "body": self.body,
            "route": self.route.slug if self.route else None,
            "provider": self.provider.slug if self.provider else None,
            "sender": self.sender,
            "channel": self.channel,
            "metadata": self.metadata,
        }
        return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class IdempotencyConflict(Exception):
    """The idempotency key was used before by this token for a different request."""

    def __init__(self, index: int, key: str) -> None:
        super().__init__(f"idempotency_key {key!r} was used for a different message")
        self.index, self.key = index, key


class NoRoute(Exception):
    """No provider of the route can take the message now; the words say why for each."""

    def __init__(self, index: int, words: str) -> None:
        super().__init__(words)
        self.index = index


def submit(token: ApiToken, requests: Sequence[MessageRequest]) -> list[tuple[Send, bool]]:
    """Each request's Send and whether it is new, in request order; nothing is written on an exception."""
    try:
        return _submit(token, requests)
    except IntegrityError:
        # A concurrent request with the same key won the race: its message is now there to be found.
        return _submit(token, requests)


def _submit(token: ApiToken, requests: Sequence[MessageRequest]) -> list[tuple[Send, bool]]:
    now = timezone.now()
    keys = [request.idempotency_key for request in requests if request.idempotency_key]
    with transaction.atomic():
        existing = {
            send.request_key: send
            for send in Send.objects.filter(api_token=token, request_key__in=keys).select_related("provider")
        }
        results: list[tuple[Send, bool] | None] = []
        new: list[Send] = []
        judged = _Judged()
        for index, request in enumerate(requests):
            fingerprint = request.fingerprint()
            earlier = existing.get(request.idempotency_key) if request.idempotency_key else None
            if earlier is not None:
                if earlier.request_sha256 != fingerprint:
                    raise IdempotencyConflict(index, request.idempotency_key or "")
                results.append((earlier, False))
                continue
            send = _new_send(token, request, fingerprint, now, index, judged)
            new.append(send)
            results.append(None)
        # One statement for the batch (bulk_create prepares 30 values a row one by one: bulk.py).
        for send, pk in zip(new, insert_returning_ids(Send, [model_values(send) for send in new]), strict=True):
            send.pk, send._state.adding = pk, False
        created = iter(new)
        done = [result if result is not None else (next(created), True) for result in results]
        fresh = [send for send, is_new in done if is_new]
        rollups.record(sends=fresh)
        if fresh:
            transaction.on_commit(lambda: _dispatch_each(fresh))
    return done


def _dispatch_each(sends: list[Send]) -> None:
    # Every message has its own body, so no two share a vendor call (deliver_each).
    dispatch_each([send.pk for send in sends])


class _Judged:
    """One batch's routes read once and providers judged once (a batch of 1,000 is one decision per provider)."""

    def __init__(self) -> None:
        self.steps: dict[int, list] = {}
        self.verdicts: dict[int, str] = {}

    def choose(self, route: Route, to: str) -> routing.Choice:
        if route.pk not in self.steps:
            self.steps[route.pk] = routing.steps_of(route)
        return routing.choose(route, to, steps=self.steps[route.pk], verdicts=self.verdicts)


def _new_send(token: ApiToken, request: MessageRequest, fingerprint: str, now, index: int, judged: _Judged) -> Send:
    send = Send(
        recipient=request.to,
        recipient_key=recipient_key(request.to),
        body=request.body,
        body_sha256=hashlib.sha256(request.body.encode()).hexdigest(),
        channel=request.channel,
        status=SendStatus.QUEUED,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,  # auto_now is the ORM's save(); this insert is one statement of plain values
        route=request.route,
        api_token=token,
        request_key=request.idempotency_key,
        request_sha256=fingerprint,
        metadata=request.metadata,
    )
    if request.route is not None:
        choice = judged.choose(request.route, request.to)
        if choice.provider is None:
            raise NoRoute(index, choice.words)
        send.provider = choice.provider
        routing.note(send, choice.words, choice.provider, now)
    elif request.provider is not None:
        send.provider = request.provider
    else:
        raise ValueError("a message names a route or a provider")
    send.sender = request.sender or send.provider.default_sender
    return send
