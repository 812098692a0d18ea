"""The send log: search and keyset pagination that stays fast on big tables.

Pages are cut by the (created_at, id) of the last row shown, never by OFFSET,
so the thousandth page costs what the first does (index send_created_idx).
Search matches a recipient by its last digits (4 or more, as typed or read by phonenumbers
from a national or spaced form: messaging/traffic/numbers.py) through the reversed-digits
index, or exactly on recipient, vendor message id and request id.
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
from functools import cached_property
from urllib.parse import urlencode

from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import MONTHS_3

from messaging.dashboard.codes import entry_url
from messaging.models import Channel, Provider, Send, SendAttempt, SendStatus
from messaging.traffic import numbers
from messaging.traffic.figures import WINDOWS, preset_window

PAGE_SIZE = 25  # a screen of sends; rendering each row is most of a page's time (docs/performance.md)
URL_SLOT = 987654321  # stands for the send's id in the one reversed detail URL
MONTHS_3_TITLE = [MONTHS_3[n].title() for n in range(1, 13)]  # lazy: translated when a page is formatted
CHANNEL_LABELS = dict(Channel.choices)
STATUS_LABELS = dict(SendStatus.choices)


@dataclass(frozen=True)
class SendSearch:
    """What to look for; the page's form (SendFilterForm in sends.py) reads it from the query string."""

    text: str = ""  # a recipient's last digits, or an exact recipient, vendor message id or request id
    status: str = ""
    provider: Provider | None = None
    since: date | None = None  # first day, in the current time zone
    until: date | None = None  # last day, included

    @cached_property  # the page shows them and the query uses them: phonenumbers reads the text once
    def recipient_endings(self) -> list[str]:
        """The digits a matching recipient ends with (the text as typed, and its E.164 form)."""
        return numbers.search_suffixes(self.text)

    def queryset(self, *, endings_only: bool = False, exact_only: bool = False) -> QuerySet:
        """The matching sends, newest first; ``endings_only`` / ``exact_only`` take one half of the text's match."""
        sends = Send.objects.all()
        if self.text:
            exact = Q(recipient=self.text) | Q(vendor_message_id=self.text) | Q(request_id=self.text)
            endings = Q(pk__in=[])
            for digits in self.recipient_endings:
                endings |= Q(recipient_key__startswith=digits[::-1])
            sends = sends.filter(endings if endings_only else exact if exact_only else exact | endings)
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
    sends: QuerySet
    if search.recipient_endings:
        # A number's endings and the exact ids, each its own newest size + 1 (the endings' from
        # send_recipient_key_idx alone, without reading the table), then those rows: one OR of
        # the four would read every matching row of the table to sort them.
        ids = [
            pk
            for part in (search.queryset(endings_only=True), search.queryset(exact_only=True))
            for pk in _after(part, cursor).values_list("pk", flat=True)[: size + 1]
        ]
        sends = Send.objects.filter(pk__in=ids).order_by("-created_at", "-id")
    else:
        sends = _after(search.queryset(), cursor)
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
class Advice:
    """What support needs about one vendor error code: its meaning, what to do, and where to look next."""

    code: str
    vendor: str
    known: bool  # in the vendor's catalogue
    category: str
    description: str
    resolution: str
    retry: str  # in words: what Sendwatch does about it
    catalogue_url: str
    drilldown_url: str


def advice(provider: Provider, code: str, at: datetime) -> Advice:
    """The catalogue's entry for ``code`` at ``provider``'s vendor, with links to its entry and its drill-down.

    The drill-down opens on the shortest Errors window that holds ``at``, or on the day around it
    when that is older than every preset.
    """
    adapter = provider.adapter_class
    entry = adapter.errors.get(code)
    if entry is None:
        retry = "Not in the vendor's catalogue: Sendwatch classified it by its HTTP status."
    elif entry.ambiguous:
        retry = "Not retried: the vendor may have sent it. Check the vendor's log before sending again."
    elif entry.retryable:
        retry = "Retried automatically (after the vendor's Retry-After when it gives one)."
    else:
        retry = "Not retried: the request itself has to change, or the account; see what to do."
    return Advice(
        code=code,
        vendor=adapter.label,
        known=entry is not None,
        category=str(entry.category) if entry else "",
        description=entry.description if entry else "",
        resolution=entry.resolution if entry else "",
        retry=retry,
        catalogue_url=entry_url(adapter.kind, code),
        drilldown_url=_drilldown_url(provider, code, at),
    )


def _drilldown_url(provider: Provider, code: str, at: datetime) -> str:
    query = urlencode({"provider": provider.slug, "code": code, **_window_around(at)})
    return f"{reverse('messaging:error_code')}?{query}"


def _window_around(at: datetime) -> dict[str, str]:
    """The Errors page parameters of the shortest preset window holding ``at``, else a custom day around it."""
    for key in WINDOWS:
        window = preset_window(key)
        if window.start <= at < window.end:
            return {"window": key}
    local = timezone.localtime(at).replace(minute=0, second=0, microsecond=0)
    return {
        "start": (local - timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M"),
        "end": (local + timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M"),
    }


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
    # One reverse() and the month names once per page, not per row: they were a third of the page's time.
    url = reverse("messaging:send_detail", args=[URL_SLOT]).replace(str(URL_SLOT), "{}")
    months = [str(name) for name in MONTHS_3_TITLE]
    result = []
    for send in sends:
        when = timezone.localtime(send.created_at)
        facts = call_facts(send)
        result.append(
            SendRow(
                url=url.format(send.pk),
                when_iso=when.isoformat(),
                when=f"{when.day} {months[when.month - 1]} {when:%H:%M:%S}",  # "j M H:i:s"
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


def _after(sends: QuerySet, cursor: str | None) -> QuerySet:
    """The sends older than the cursor's (created_at, id); all of them without one."""
    if not cursor:
        return sends
    created_at, pk = decode_cursor(cursor)
    # created_at <= cursor bounds the index scan (the OR alone is only a filter: PostgreSQL
    # would read every newer row first); the OR then drops the rows shown already.
    return sends.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, id__lt=pk), created_at__lte=created_at)


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
