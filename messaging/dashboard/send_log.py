"""The send log: search and keyset pagination that stays fast on big tables.

Pages are cut by the (created_at, id) of the last row shown, never by OFFSET,
so the thousandth page costs what the first does (index send_created_idx).
Search is exact on the indexed keys: recipient, vendor message id, request id.
A page's rows are formatted once in Python (:func:`rows`): per-row ``{% url %}``,
``|date`` and ``get_FOO_display`` in the template cost more than the query.
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

from messaging.models import Channel, Provider, Send, SendStatus

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
                http_status=str(send.http_status) if send.http_status else "—",
                latency=f"{send.latency_ms} ms" if send.latency_ms is not None else "—",
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
        yield [
            str(send.pk),
            send.created_at.isoformat(),
            send.provider.slug,
            send.channel,
            send.recipient,
            send.status,
            send.error_code,
            send.error_category,
            str(send.http_status or ""),
            str(send.latency_ms or ""),
            str(send.attempts),
            send.vendor_message_id,
            send.request_id,
        ]
