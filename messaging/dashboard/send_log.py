"""The send log: search and keyset pagination that stays fast on big tables.

Pages are cut by the (created_at, id) of the last row shown, never by OFFSET,
so the thousandth page costs what the first does (index send_created_idx).
Search is exact on the indexed keys: recipient, vendor message id, request id.
A page's rows are formatted once in Python (:func:`rows`): per-row ``{% url %}``,
``|date`` and ``get_FOO_display`` in the template cost more than the query.

What the log, its CSV and a send's own page say about the calls to the vendor all
come from :func:`call_facts`, so they cannot disagree: a send reported through the
ingest API (or loaded in bulk) carries its HTTP status and latency on the Send row
with no SendAttempt rows, and its page says so rather than "no calls".
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import dateformat, timezone

from messaging.models import Channel, Provider, Send, SendAttempt, SendStatus

PAGE_SIZE = 50
CHANNEL_LABELS = dict(Channel.choices)
STATUS_LABELS = dict(SendStatus.choices)


@dataclass(frozen=True)
class SendSearch:
    """What to look for; the page's form (SendFilterForm in sends.py) reads it from the query string."""

    text: str = ""  # exact recipient, vendor message id or request id
    status: str = ""
    provider: Provider | None = None
    since: date | None = None  # first day, in the current time zone
    until: date | None = None  # last day, included

    def queryset(self) -> QuerySet:
        sends = Send.objects.all()
        if self.text:
            sends = sends.filter(Q(recipient=self.text) | Q(vendor_message_id=self.text) | Q(request_id=self.text))
        if self.status:
            sends = sends.filter(status=self.status)
        if self.provider:
            sends = sends.filter(provider=self.provider)
        if self.since:
            sends = sends.filter(created_at__gte=_start_of(self.since))
        if self.until:
            sends = sends.filter(created_at__lt=_start_of(self.until + timedelta(days=1)))
        return sends.order_by("-created_at", "-id")


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


@dataclass(frozen=True)
class Page:
    sends: list[Send]
    next_cursor: str | None


def page(search: SendSearch, cursor: str | None = None, size: int = PAGE_SIZE) -> Page:
    sends = search.queryset()
    if cursor:
        created_at, pk = decode_cursor(cursor)
        # created_at <= cursor bounds the index scan (the OR alone is only a filter: PostgreSQL
        # would read every newer row first); the OR then drops the rows shown already.
        sends = sends.filter(
            Q(created_at__lt=created_at) | Q(created_at=created_at, id__lt=pk), created_at__lte=created_at
        )
    rows = list(sends[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return Page(rows, encode_cursor(rows[-1]) if more else None)


@dataclass(frozen=True)
class CallFacts:
    """What is known of a send's calls to the vendor: the last answer, from the Send row.

    The log's HTTP and Latency columns, the CSV's ``http_status`` and ``latency_ms`` and the
    send page's "Last answer" all read these; ``summary`` is the page's sentence when no
    SendAttempt rows exist.
    """

    http_status: int | None
    latency_ms: int | None
    attempts: int  # the Send row's count of calls
    attempt_rows: int  # SendAttempt rows recorded for it
    reported: bool  # reported through the ingest API, not sent by Sendwatch

    @property
    def http_text(self) -> str:
        return "—" if self.http_status is None else str(self.http_status)

    @property
    def latency_text(self) -> str:
        return "—" if self.latency_ms is None else f"{self.latency_ms} ms"

    @property
    def known(self) -> bool:
        return self.http_status is not None or self.latency_ms is not None

    @property
    def answer(self) -> str:
        """The last answer in words: "HTTP 500 after 288 ms", "HTTP 500", "after 288 ms", or ""."""
        parts = []
        if self.http_status is not None:
            parts.append(f"HTTP {self.http_status}")
        if self.latency_ms is not None:
            parts.append(f"after {self.latency_ms} ms")
        return " ".join(parts)

    @property
    def summary(self) -> str:
        """What the page says about the calls when it has no attempt rows to list."""
        if self.reported:
            if self.known:
                return f"Reported through the ingest API: {self.answer}."
            return "Reported through the ingest API; no call details were reported."
        if self.known:
            calls = f"{self.attempts} call{'s' if self.attempts != 1 else ''}" if self.attempts else "A call"
            return f"{calls} recorded on the send without per-attempt detail; the last answer: {self.answer}."
        return "No calls to the vendor recorded."


def call_facts(send: Send, attempt_rows: list[SendAttempt] | None = None) -> CallFacts:
    """The facts the log and the page share; ``attempt_rows`` (the page has them) only counts the rows."""
    return CallFacts(
        http_status=send.http_status,
        latency_ms=send.latency_ms,
        attempts=send.attempts,
        attempt_rows=len(attempt_rows or ()),
        reported=send.source == Send.Source.INGEST,
    )


@dataclass(frozen=True)
class SendRow:
    """One line of the send log, ready to print (the template still escapes every value)."""

    url: str
    when_iso: str
    when: str  # in the reader's time zone
    provider: str
    channel: str
    recipient: str
    status: str
    status_label: str
    error_code: str
    http_status: str
    latency: str


def rows(sends: list[Send], providers: Iterable[Provider]) -> list[SendRow]:
    """The sends as rows, times in the current time zone.

    ``providers`` holds every provider (the page lists them for its filter anyway), so
    the page's query needs no join.
    """
    names = {provider.pk: provider.name for provider in providers}
    result = []
    for send in sends:
        when = timezone.localtime(send.created_at)
        facts = call_facts(send)
        result.append(
            SendRow(
                url=reverse("messaging:send_detail", args=[send.pk]),
                when_iso=when.isoformat(),
                when=dateformat.format(when, "j M H:i:s"),
                provider=names[send.provider_id],
                channel=CHANNEL_LABELS.get(send.channel, send.channel),
                recipient=send.recipient,
                status=send.status,
                status_label=STATUS_LABELS.get(send.status, send.status),
                error_code=send.error_code,
                http_status=facts.http_text,
                latency=facts.latency_text,
            )
        )
    return result


def encode_cursor(send: Send) -> str:
    raw = f"{send.created_at.isoformat()}|{send.pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """The (created_at, id) a page link carries; ValueError when the link is damaged."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, pk = raw.rsplit("|", 1)
        created_at = datetime.fromisoformat(moment)
        if timezone.is_naive(created_at):
            raise ValueError
        return created_at, int(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValueError("the page link is damaged; start from the first page") from None


def export(search: SendSearch) -> Iterator[list[str]]:
    """Every matching send as CSV rows, read in chunks so memory stays flat."""
    yield [
        "id",
        "created_at",
        "provider",
        "channel",
        "recipient",
        "status",
        "error_code",
        "error_category",
        "http_status",
        "latency_ms",
        "attempts",
        "vendor_message_id",
        "request_id",
    ]
    for send in search.queryset().select_related("provider").iterator(chunk_size=2000):
        facts = call_facts(send)
        yield [
            str(send.pk),
            send.created_at.isoformat(),
            send.provider.slug,
            send.channel,
            send.recipient,
            send.status,
            send.error_code,
            send.error_category,
            "" if facts.http_status is None else str(facts.http_status),
            "" if facts.latency_ms is None else str(facts.latency_ms),
            str(send.attempts),
            send.vendor_message_id,
            send.request_id,
        ]
