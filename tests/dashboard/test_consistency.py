"""Every number on every page agrees with every other, and with the raw rows (issue "Trust").

Eight days of traffic for three providers are written through the writers, so the rollups are
filled as in production: ``record_batch`` for sends reported through the ingest API and their
errors, ``record_errors`` for errors of sends and of balance polls (which count nowhere), and
rows exactly on bucket and window edges. Then, as a Support user, every figure is read from the
rendered HTML (``data-figure`` attributes; the window each states in ``data-window-start`` and
``data-window-end``) and from the CSV (its window is in its file name), never from the functions
behind them, and compared with SQL over ``messaging_errorevent`` and ``messaging_send`` over that
same half-open window ``[start, end)``:

- the Errors page — summary, every table row (errors, share, rate, change), the chart's numbers,
  and the CSV — for 15 min (a custom window: the menu has no 15 min), 1 h, 24 h, 7 d and a custom
  range, for each provider and all together, by code and by category, and for one channel;
- the Overview's card and each provider's page (errors, sends and rate in the last 24 h);
- the Error codes page's live counts;
- a spike alert: its evidence equals the raw counts and the Errors page its own link opens;
- the send log and each send's page say the same about the calls to the vendor.

Errors are errors of sends: source ``send`` or ``ingest``. PostgreSQL only.
"""

from __future__ import annotations

import csv
import html
import io
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from messaging.alerts.spikes import evaluate_spikes
from messaging.dashboard.codes import PAGE_SIZE as CODES_PAGE_SIZE
from messaging.dashboard.send_log import PAGE_SIZE as SEND_PAGE_SIZE
from messaging.models import Alert, Provider, Send, SendAttempt, SendStatus
from messaging.traffic import rollups
from messaging.traffic.writer import record_batch, record_errors
from messaging.vault.roles import SUPPORT
from providers import ADAPTERS, Category, NormalizedError
from tests.vault import conftest as vault_fixtures

pytestmark = pytest.mark.django_db

roles = vault_fixtures.roles
users = vault_fixtures.users

MICRO = timedelta(microseconds=1)
FIVE_MINUTES, HOUR, DAY = timedelta(minutes=5), timedelta(hours=1), timedelta(days=1)
PROVIDERS = [("23 EU", "eu", "23telecom"), ("8x8 APAC", "apac", "8x8"), ("Blue US", "us", "textingblue")]
UNKNOWN_CODE = "NOT_IN_ANY_CATALOGUE"


@pytest.fixture(autouse=True)
def _postgresql():
    if connection.vendor != "postgresql":
        pytest.fail(f"the consistency test needs PostgreSQL (COPY, timestamptz); this run uses {connection.vendor}")


# -- reading the pages ----------------------------------------------------------------------------


@dataclass
class Figure:
    name: str
    attrs: dict[str, str]  # the data- attributes of the element and of its ancestors (nearest wins)
    text: str = ""

    @property
    def number(self) -> int:
        return int(self.text)

    def window(self) -> tuple[datetime, datetime]:
        return parse_moment(self.attrs["data-window-start"]), parse_moment(self.attrs["data-window-end"])


class FigureParser(HTMLParser):
    """Every element with a ``data-figure`` attribute, its text and the data- attributes around it."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.open: list[tuple[int, Figure]] = []
        self.figures: list[Figure] = []

    def handle_starttag(self, tag, attrs):
        own = {name: value or "" for name, value in attrs if name.startswith("data-")}
        context = {**(self.stack[-1][1] if self.stack else {}), **own}
        if tag in self.VOID:
            return
        self.stack.append((tag, context))
        if "data-figure" in own:
            figure = Figure(own["data-figure"], context)
            self.figures.append(figure)
            self.open.append((len(self.stack), figure))

    def handle_startendtag(self, tag, attrs):
        pass  # <polyline …/>, <line …/>: no figures there

    def handle_endtag(self, tag):
        while self.stack:
            depth = len(self.stack)
            name, _ = self.stack.pop()
            while self.open and self.open[-1][0] >= depth:
                self.open.pop()
            if name == tag:
                return

    def handle_data(self, data):
        for _, figure in self.open:
            figure.text += data


def figures_in(page: str) -> list[Figure]:
    parser = FigureParser()
    parser.feed(page)
    parser.close()
    for figure in parser.figures:
        figure.text = " ".join(figure.text.split())
    return parser.figures


def named(figures: list[Figure], name: str) -> list[Figure]:
    return [figure for figure in figures if figure.name == name]


def only(figures: list[Figure], name: str) -> Figure:
    [figure] = named(figures, name)
    return figure


def chart_series(figures: list[Figure]) -> list[Figure]:
    return named(figures, "bucket-series-errors")


def parse_moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None, f"{text} names no time zone"
    return moment


def get(client, url: str, params=None) -> str:
    response = client.get(url, params or {})
    assert response.status_code == 200, (url, params, response.content[:500])
    return response.content.decode()


# -- the raw side: SQL over the send and error tables, [start, end) -------------------------------------


def raw(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def raw_error_count(start, end, provider_ids=None) -> int:
    """The brief's count: errors of sends of the providers in [start, end)."""
    where, params = _scope("e", provider_ids)
    sql = (
        "SELECT count(*) FROM messaging_errorevent e WHERE e.source IN ('send', 'ingest') "
        f"AND e.occurred_at >= %s AND e.occurred_at < %s{where}"
    )
    return raw(sql, [start, end, *params])[0][0]


def raw_send_count(start, end, provider_ids=None) -> int:
    where, params = _scope("s", provider_ids)
    sql = f"SELECT count(*) FROM messaging_send s WHERE s.created_at >= %s AND s.created_at < %s{where}"
    return raw(sql, [start, end, *params])[0][0]


def raw_errors(bounds: list[datetime], provider_ids=None, channel=None) -> Counter:
    """Errors of sends per (slice, provider slug, kind, code, category); slice i is [bounds[i-1], bounds[i])."""
    where, params = _scope("e", provider_ids, channel)
    sql = (
        "SELECT width_bucket(e.occurred_at, %s::timestamptz[]), p.slug, p.kind, e.error_code, e.category, count(*) "
        "FROM messaging_errorevent e JOIN messaging_provider p ON p.id = e.provider_id "
        f"WHERE e.source IN ('send', 'ingest') AND e.occurred_at >= %s AND e.occurred_at < %s{where} "
        "GROUP BY 1, 2, 3, 4, 5"
    )
    rows = raw(sql, [bounds, bounds[0], bounds[-1], *params])
    return Counter({tuple(row[:-1]): row[-1] for row in rows})


def raw_sends(bounds: list[datetime], provider_ids=None, channel=None) -> Counter:
    """Sends per (slice, provider slug)."""
    where, params = _scope("s", provider_ids, channel)
    sql = (
        "SELECT width_bucket(s.created_at, %s::timestamptz[]), p.slug, count(*) "
        "FROM messaging_send s JOIN messaging_provider p ON p.id = s.provider_id "
        f"WHERE s.created_at >= %s AND s.created_at < %s{where} GROUP BY 1, 2"
    )
    rows = raw(sql, [bounds, bounds[0], bounds[-1], *params])
    return Counter({tuple(row[:-1]): row[-1] for row in rows})


def _scope(alias: str, provider_ids, channel=None) -> tuple[str, list]:
    where, params = "", []
    if provider_ids is not None:
        where += f" AND {alias}.provider_id = ANY(%s)"
        params.append(list(provider_ids))
    if channel:
        where += f" AND {alias}.channel = %s"
        params.append(channel)
    return where, params


def total(counts: Counter, keep=lambda key: True) -> int:
    return sum(n for key, n in counts.items() if keep(key))


def per(counts: Counter, *positions: int) -> Counter:
    """``counts`` summed per the key positions given."""
    result: Counter = Counter()
    for key, n in counts.items():
        result[tuple(key[i] for i in positions)] += n
    return result


# -- numbers as the pages round them ------------------------------------------------------------


def assert_rounded(shown: str, exact: Decimal, places: int, what: str) -> None:
    """``shown`` is ``exact`` rounded to ``places`` decimals (within half a unit: float formatting may round a tie)."""
    assert abs(Decimal(shown) - exact) <= Decimal(5) * Decimal(10) ** -(places + 1), (what, shown, exact)


def assert_rate(shown: str, errors: int, sends: int, what: str, places: int = 2) -> None:
    if not sends:
        assert shown in ("—", ""), (what, shown)
        return
    assert_rounded(shown, Decimal(100 * errors) / Decimal(sends), places, what)


# -- the data: eight days through the writers ----------------------------------------------------------


@dataclass
class Data:
    now: datetime
    providers: dict[str, Provider]
    window_15: tuple[datetime, datetime]  # a custom 15 min window, in the past
    custom: tuple[datetime, datetime]  # a custom range as typed, not on bucket edges
    spike_at: datetime  # a spike of errors at the "us" provider in the 15 min before this
    reported_500: Send | None = None  # the send of the issue: HTTP 500 after 288 ms, reported by ingest
    attempted: Send | None = None  # a send Sendwatch made, with its attempt rows
    edges: list[datetime] = field(default_factory=list)


def error_of(kind: str, code: str) -> NormalizedError:
    entry = ADAPTERS[kind].errors.get(code)
    if entry is None:
        return NormalizedError(
            kind=kind, provider_code=code, category=Category.UNKNOWN, http_status=500, retryable=False
        )
    return NormalizedError(
        kind=kind,
        provider_code=code,
        category=entry.category,
        http_status=entry.http_status,
        retryable=entry.retryable,
        known=True,
        message=entry.description[:80],
        description=entry.description,
        resolution=entry.resolution,
    )


class Batch:
    """Sends reported through the ingest API (some failed, with their error events), written with record_batch."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self.rows: list[dict] = []
        self.failures: list[tuple[int, NormalizedError, str, datetime]] = []

    def send(self, at, *, channel="sms", code=None, error_at=None, http=None, latency=None) -> None:
        error = error_of(self.provider.kind, code) if code else None
        row = {
            "provider_id": self.provider.pk,
            "channel": channel,
            "source": Send.Source.INGEST,
            "recipient": f"+4477009{len(self.rows):05d}",
            "http_status": http or (error.http_status if error else 200),
            "latency_ms": latency,
            "attempts": 1,
            "status": SendStatus.FAILED if error else SendStatus.ACCEPTED,
            "error_code": code or "",
            "error_category": str(error.category) if error else "",
            "created_at": at,
            "completed_at": at,
        }
        if error is not None:
            self.failures.append((len(self.rows), error, channel, error_at or at))
        self.rows.append(row)

    def write(self) -> list[int]:
        send_ids, _ = record_batch(self.provider, self.rows, self.failures, source="ingest")
        return send_ids


def floor(moment: datetime, step: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return moment - (moment - epoch) % step


@pytest.fixture
def data(db) -> Data:
    rng = random.Random(20261120)
    now = timezone.now().astimezone(UTC)
    providers = {
        slug: Provider.objects.create(name=name, slug=slug, kind=kind, currency="EUR") for name, slug, kind in PROVIDERS
    }
    codes = {slug: [*list(ADAPTERS[provider.kind].errors)[:4], UNKNOWN_CODE] for slug, provider in providers.items()}
    fifteen_start = floor(now - timedelta(hours=26), FIVE_MINUTES)
    spike_at = floor(now - timedelta(hours=3), FIVE_MINUTES) + timedelta(minutes=2, seconds=37)
    result = Data(
        now=now,
        providers=providers,
        window_15=(fifteen_start, fifteen_start + timedelta(minutes=15)),
        custom=(now - timedelta(days=5, minutes=-17, seconds=-13), now - timedelta(days=2, hours=3, minutes=-7)),
        spike_at=spike_at,
    )
    batches = {slug: Batch(provider) for slug, provider in providers.items()}

    # Background: ~700 sends a provider over 8 days, one in five failed, errors a few seconds after their send.
    for slug, batch in batches.items():
        for _ in range(700):
            at = now - timedelta(days=8) + timedelta(seconds=rng.random() * 8 * 86400)
            failed = rng.random() < 0.2
            batch.send(
                at,
                channel="whatsapp" if rng.random() < 0.2 else "sms",
                code=rng.choice(codes[slug]) if failed else None,
                error_at=at + timedelta(seconds=rng.random() * 3) if failed else None,
                latency=int(rng.lognormvariate(5.3, 0.4)),
            )

    # Edges: exactly on, and a microsecond either side of, the windows' starts and ends and every 6 h bucket.
    hours_ago = [floor(now, HOUR) + HOUR - span for span in (HOUR, 24 * HOUR, 7 * DAY)]
    custom_start = floor(result.custom[0], HOUR)
    custom_end = floor(result.custom[1], HOUR) + HOUR
    edges = [*result.window_15, fifteen_start + FIVE_MINUTES, *hours_ago, floor(now, HOUR) + HOUR]
    edges += [floor(now, FIVE_MINUTES) + FIVE_MINUTES - timedelta(hours=1), custom_start, custom_end]
    edges += [floor(now, 6 * HOUR) - n * 6 * HOUR for n in range(33)]
    result.edges = edges
    slugs = list(batches)
    for n, edge in enumerate(edges):
        for offset in (-MICRO, timedelta(0), MICRO):
            slug = slugs[(n + int(offset / MICRO)) % len(slugs)]
            code = codes[slug][n % len(codes[slug])]
            batches[slug].send(edge + offset, code=code, channel="whatsapp" if n % 4 == 0 else "sms", latency=100 + n)

    # The spike: 100 sends and 30 errors at "us" in the 15 minutes before spike_at, the rate on the page.
    us = batches["us"]
    for n in range(100):
        at = spike_at - timedelta(minutes=14) + n * timedelta(seconds=8)
        us.send(at, code=codes["us"][n % 3] if n % 10 < 3 else None, latency=90)
    for edge in (floor(spike_at, FIVE_MINUTES) - timedelta(minutes=15), floor(spike_at, FIVE_MINUTES) + FIVE_MINUTES):
        for offset in (-MICRO, timedelta(0), MICRO):  # on the edges of the window the alert counts and links to
            us.send(edge + offset, code=codes["us"][1], latency=95)
    # The send: listed as failed with HTTP 500 and 288 ms, reported by another system.
    batches["eu"].send(now - timedelta(minutes=1), code=codes["eu"][0], http=500, latency=288)

    ids = {slug: batch.write() for slug, batch in batches.items()}
    result.reported_500 = Send.objects.get(pk=ids["eu"][-1])

    # Errors of sends recorded one at a time (source "send"), and balance-poll errors that count nowhere.
    eu = providers["eu"]
    for n in range(40):
        at = now - timedelta(hours=rng.random() * 190)
        record_errors(eu, [(error_of("23telecom", codes["eu"][n % 3]), None)], source="send", occurred_at=at)
        record_errors(eu, [(error_of("23telecom", codes["eu"][3]), None)], source="balance", occurred_at=at)
    # A send Sendwatch made itself, with an attempt row, counted into the rollups as queue_sends does.
    attempted = Send.objects.create(
        provider=eu,
        recipient="+447700900777",
        status=SendStatus.FAILED,
        http_status=400,
        latency_ms=120,
        attempts=1,
        error_code=codes["eu"][1],
        created_at=now - timedelta(minutes=2),
    )
    rollups.record(sends=[attempted])
    SendAttempt.objects.create(
        send=attempted, number=1, started_at=attempted.created_at, latency_ms=120, http_status=400, outcome="failed"
    )
    result.attempted = attempted
    return result


@pytest.fixture
def support(client, users):
    client.force_login(users[SUPPORT])
    return client


# -- the Errors page and its CSV --------------------------------------------------------------------


def windows(data: Data) -> dict[str, dict[str, str]]:
    """The query parameters of each window the Errors page is checked for."""
    return {
        "15 min": {"window": "custom", "start": data.window_15[0].isoformat(), "end": data.window_15[1].isoformat()},
        "1 h": {"window": "1h"},
        "24 h": {"window": "24h"},
        "7 d": {"window": "7d"},
        "custom": {"window": "custom", "start": data.custom[0].isoformat(), "end": data.custom[1].isoformat()},
    }


def check_errors_page(client, data: Data, params: dict, provider: Provider | None, group="code", channel=None):
    query = {**params, "group": group, "rows": "all"}
    if provider is not None:
        query["provider"] = provider.slug
    if channel:
        query["channel"] = channel
    figures = figures_in(get(client, reverse("messaging:errors"), query))
    ids = None if provider is None else [provider.pk]
    names = {p.slug: p.name for p in data.providers.values()}

    summary = only(figures, "errors-total")
    start, end = summary.window()
    label = f"{group} {query}"
    assert start < end and end - start <= timedelta(days=92), label
    # The pages' window rule: whole buckets, so the rollups can count them exactly.
    chart = [f for f in figures if f.name == "bucket-errors"]
    starts = sorted(parse_moment(f.attrs["data-bucket-start"]) for f in chart)
    bounds = [max(starts[0], start), *starts[1:], end] if starts else [start, end]
    errors = raw_errors(bounds, ids, channel)
    sends = raw_sends(bounds, ids, channel)

    # The summary, and the brief's plain count for the same window.
    assert summary.number == total(errors), label
    assert only(figures, "sends-total").number == total(sends), label
    if channel is None:
        assert summary.number == raw_error_count(start, end, ids), label
        assert only(figures, "sends-total").number == raw_send_count(start, end, ids), label
    if total(sends):
        assert_rate(only(figures, "rate-total").text, total(errors), total(sends), label)
    else:
        assert not named(figures, "rate-total"), label

    # Every row of the table: errors, share, rate per 100 sends, change against the previous window.
    previous = raw_errors([start - (end - start), start], ids, channel)
    if group == "code":
        keyed, before = per(errors, 1, 3, 4), per(previous, 1, 3, 4)  # (slug, code, category)
    else:
        keyed, before = per(errors, 4), per(previous, 4)  # (category,)
    sends_of = per(sends, 1)
    rows: dict[tuple, dict[str, str]] = {}
    for figure in figures:
        if figure.name in ("errors", "share", "rate", "change"):
            a = figure.attrs
            key = (a["data-provider"], a["data-key"], a["data-category"]) if group == "code" else (a["data-key"],)
            rows.setdefault(key, {})[figure.name] = figure.text
    assert set(rows) == set(+keyed), label
    for key, shown in rows.items():
        count = keyed[key]
        assert int(shown["errors"]) == count, (label, key)
        assert shown["share"].endswith("%"), (label, key)
        assert_rounded(shown["share"][:-1], Decimal(100 * count) / Decimal(total(errors)), 1, f"share {label} {key}")
        row_sends = sends_of[(key[0],)] if group == "code" else total(sends)
        assert_rate(shown["rate"], count, row_sends, f"rate {label} {key}")
        if before[key]:
            exact = Decimal(100 * (count - before[key])) / Decimal(before[key])
            assert shown["change"].endswith("%"), (label, key)
            assert abs(Decimal(shown["change"][:-1]) - exact) <= Decimal("0.5"), (label, key, shown["change"], exact)
        else:
            assert shown["change"] == "—", (label, key)

    # The chart's numbers, bucket by bucket, and each stacked series (the top codes, then "other").
    if chart:
        assert sorted(parse_moment(f.attrs["data-window-start"]) for f in chart) == [start] * len(chart)
        # Each series is named after its row ("23 EU: INVALID_TO", or the category); they are the five with most errors.
        series_keys = {(f"{names[key[0]]}: {key[1]}" if group == "code" else key[0]): key for key in rows}
        stacked = {
            series_keys[f.attrs["data-series"]] for f in chart_series(figures) if f.attrs["data-series"] != "other"
        }
        assert len(stacked) == min(5, len(rows)), label
        assert min(keyed[key] for key in stacked) >= max([keyed[key] for key in set(rows) - stacked] or [0]), label
        for index, figure in enumerate(sorted(chart, key=lambda f: parse_moment(f.attrs["data-bucket-start"]))):
            slot = index + 1
            bucket = parse_moment(figure.attrs["data-bucket-start"])
            in_bucket = [f for f in figures if f.attrs.get("data-bucket-start") == figure.attrs["data-bucket-start"]]
            assert figure.number == total(errors, lambda k, s=slot: k[0] == s), (label, bucket)
            assert only(in_bucket, "bucket-sends").number == total(sends, lambda k, s=slot: k[0] == s), (label, bucket)
            top = 0
            for part in named(in_bucket, "bucket-series-errors"):
                series = part.attrs["data-series"]
                if series == "other":
                    assert part.number == figure.number - top, (label, bucket)
                    continue
                key = series_keys[series]
                if group == "code":
                    expected = total(errors, lambda k, s=slot, key=key: k[0] == s and (k[1], k[3], k[4]) == key)
                else:
                    expected = total(errors, lambda k, s=slot, key=key: k[0] == s and (k[4],) == key)
                assert part.number == expected, (label, bucket, series)
                top += part.number
    else:
        assert total(errors) == 0, label

    # The CSV: the same rows, with the sends behind each rate; its file name states its window.
    export = {key: value for key, value in query.items() if key != "rows"}
    response = client.get(reverse("messaging:errors_export"), export)
    assert response.status_code == 200
    name = re.search(r'filename="sendwatch-errors-[a-z0-9]+-(\w+)-(\w+)\.csv"', response["Content-Disposition"])
    csv_start, csv_end = (datetime.strptime(part, "%Y%m%dT%H%MZ").replace(tzinfo=UTC) for part in name.groups())
    lines = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    if (csv_start, csv_end) != (start, end):  # the clock crossed a bucket edge between the two requests
        bounds = [csv_start, csv_end]
        errors, sends = raw_errors(bounds, ids, channel), raw_sends(bounds, ids, channel)
        keyed = per(errors, 1, 3, 4) if group == "code" else per(errors, 4)
        sends_of = per(sends, 1)
    exported = {}
    for line in lines:
        key = (line["provider"], line["error_code"], line["category"]) if group == "code" else (line["category"],)
        exported[key] = line
        assert int(line["errors"]) == keyed[key], (label, key)
        row_sends = sends_of[(key[0],)] if group == "code" else total(sends)
        assert int(line["sends"]) == row_sends, (label, key)
        if row_sends:
            assert_rounded(line["error_rate"], Decimal(keyed[key]) / Decimal(row_sends), 6, f"csv {label} {key}")
        else:
            assert line["error_rate"] == "", (label, key)
    assert set(exported) == set(+keyed), label
    return start, end, total(errors), total(sends)


@pytest.mark.parametrize("window", ["15 min", "1 h", "24 h", "7 d", "custom"])
def test_the_errors_page_and_its_csv_count_what_the_raw_rows_hold(support, data, window):
    params = windows(data)[window]
    seen = {}
    for provider in [None, *data.providers.values()]:
        seen[provider.slug if provider else "all"] = check_errors_page(support, data, params, provider)
    check_errors_page(support, data, params, None, group="category")
    check_errors_page(support, data, params, None, channel="whatsapp")
    # All providers together are the sum of each one, in the same window.
    windows_seen = {(start, end) for start, end, _, _ in seen.values()}
    if len(windows_seen) == 1:
        assert seen["all"][2] == sum(seen[p][2] for p in data.providers)
        assert seen["all"][3] == sum(seen[p][3] for p in data.providers)
    # Rows were placed on this window's edges and inside it: the check was not over an empty window.
    assert seen["all"][2] > 0 and seen["all"][3] > 0
    if window == "15 min":
        assert (seen["all"][0], seen["all"][1]) == data.window_15  # a window of whole buckets is shown as asked


# -- the Overview, a provider's page, the Error codes page --------------------------------------------


def check_provider_figures(figures: list[Figure], provider: Provider, label: str) -> None:
    mine = [f for f in figures if f.attrs.get("data-provider") == provider.slug]
    errors = only(mine, "errors")
    start, end = errors.window()
    assert end - start == timedelta(hours=24) and start.minute == start.second == start.microsecond == 0, label
    count, sent = raw_error_count(start, end, [provider.pk]), raw_send_count(start, end, [provider.pk])
    assert errors.number == count, label
    assert only(mine, "sends").number == sent, label
    if sent:
        assert_rate(only(mine, "rate").text, count, sent, label)
    else:
        assert not named(mine, "rate"), label


def test_the_overview_cards_and_provider_pages_count_the_last_24_hours_as_the_raw_rows_do(support, data):
    overview = figures_in(get(support, reverse("overview")))
    for provider in data.providers.values():
        check_provider_figures(overview, provider, f"overview {provider.slug}")
        page = figures_in(get(support, reverse("messaging:provider_detail", args=[provider.slug])))
        check_provider_figures(page, provider, f"provider page {provider.slug}")
        # The card's link opens the Errors page on the same window, with the same count.
        card = only([f for f in overview if f.attrs.get("data-provider") == provider.slug], "errors")
        errors_page = figures_in(
            get(support, reverse("messaging:errors"), {"provider": provider.slug, "window": "24h"})
        )
        if only(errors_page, "errors-total").window() == card.window():
            assert only(errors_page, "errors-total").number == card.number


def test_the_error_codes_page_counts_errors_of_sends_per_vendor_code_as_the_raw_rows_do(support, data):
    catalogued = sum(len(adapter.errors) for adapter in ADAPTERS.values())
    pages = -(-catalogued // CODES_PAGE_SIZE)
    figures = [
        figure
        for number in range(1, pages + 1)
        for figure in named(figures_in(get(support, f"{reverse('messaging:codes')}?page={number}")), "errors")
    ]
    assert len(figures) == catalogued
    start, end = figures[0].window()
    assert end - start == timedelta(hours=24)
    counts = Counter(
        dict(
            (tuple(row[:2]), row[2])
            for row in raw(
                "SELECT p.kind, e.error_code, count(*) FROM messaging_errorevent e "
                "JOIN messaging_provider p ON p.id = e.provider_id WHERE e.source IN ('send', 'ingest') "
                "AND e.occurred_at >= %s AND e.occurred_at < %s GROUP BY 1, 2",
                [start, end],
            )
        )
    )
    for figure in figures:
        assert figure.window() == (start, end)
        assert figure.number == counts[(figure.attrs["data-kind"], figure.attrs["data-key"])], figure
    shown = sum(figure.number for figure in figures)
    assert shown == total(counts, lambda key: key[1] != UNKNOWN_CODE) and shown > 0


# -- a spike alert ----------------------------------------------------------------------------------


def test_a_spike_alerts_evidence_is_the_raw_count_and_the_errors_page_of_its_window(support, data):
    us = data.providers["us"]
    evaluate_spikes(data.spike_at)
    alert = Alert.objects.get(provider=us, kind=Alert.Kind.ERROR_SPIKE)
    page = get(support, reverse("messaging:alert_detail", args=[alert.pk]))
    evidence = figures_in(page)
    errors, sends = only(evidence, "errors").number, only(evidence, "sends").number
    top_codes = {
        html.unescape(code): int(count)
        for code, count in re.findall(
            r"<tr><td>(?:<a [^>]*>)?<code>([^<]*)</code>(?:</a>)?</td>\s*<td class=\"num\">(\d+)</td></tr>",
            page.split("Top error codes in the window")[1].split("</table>")[0],
        )
    }
    assert errors >= 30 and sends >= 100 and top_codes

    # The alert links to the Errors page for its provider and its window: the same numbers there.
    [link] = re.findall(r'href="(/errors/\?[^"]*window=custom[^"]*)"', page)
    errors_page = figures_in(get(support, html.unescape(link)))
    start, end = only(errors_page, "errors-total").window()
    assert start <= data.spike_at - timedelta(minutes=15) and data.spike_at < end
    assert only(errors_page, "errors-total").number == errors
    assert only(errors_page, "sends-total").number == sends
    assert_rate(only(evidence, "rate").text, errors, sends, "the alert's rate")
    assert_rate(only(errors_page, "rate-total").text, errors, sends, "the alert's Errors page's rate")

    # ... and over the raw rows of that window.
    assert raw_error_count(start, end, [us.pk]) == errors
    assert raw_send_count(start, end, [us.pk]) == sends
    by_code = per(raw_errors([start, end], [us.pk]), 3)
    assert top_codes == {code: by_code[(code,)] for code in top_codes}
    assert sorted(by_code.values(), reverse=True)[: len(top_codes)] == sorted(top_codes.values(), reverse=True)
    shown_rows = {f.attrs["data-key"]: f.number for f in errors_page if f.name == "errors"}
    assert all(shown_rows[code] == count for code, count in top_codes.items())


# -- the send log and a send's page ------------------------------------------------------------------


def test_the_send_log_and_each_sends_page_say_the_same_about_its_calls(support, data):
    eu = data.providers["eu"]
    listed = figures_in(get(support, reverse("messaging:sends"), {"status": "failed", "provider": "eu"}))
    rows: dict[str, dict[str, str]] = {}
    for figure in listed:
        rows.setdefault(figure.attrs["data-send"], {})[figure.name] = figure.text
    assert len(rows) == SEND_PAGE_SIZE  # a full first page
    reported = reverse("messaging:send_detail", args=[data.reported_500.pk])
    attempted = reverse("messaging:send_detail", args=[data.attempted.pk])
    assert reported in rows and attempted in rows
    assert rows[reported] == {"http-status": "500", "latency": "288 ms"}  # the send
    for url in dict.fromkeys([reported, attempted, *list(rows)[:20]]):
        pk = int(url.rstrip("/").rsplit("/", 1)[1])
        [(http_status, latency_ms, source, provider_id)] = raw(
            "SELECT http_status, latency_ms, source, provider_id FROM messaging_send WHERE id = %s", [pk]
        )
        [(attempt_rows,)] = raw("SELECT count(*) FROM messaging_sendattempt WHERE send_id = %s", [pk])
        http_text = "—" if http_status is None else str(http_status)
        latency_text = "—" if latency_ms is None else f"{latency_ms} ms"
        assert provider_id == eu.pk
        assert rows[url] == {"http-status": http_text, "latency": latency_text}, url
        page = get(support, url)
        facts = figures_in(page)
        assert only(facts, "http-status").text == http_text and only(facts, "latency").text == latency_text, url
        if attempt_rows:
            assert not named(facts, "calls") and page.count('<td class="num">') >= 2 * attempt_rows
        elif source == "ingest":
            assert (
                only(facts, "calls").text
                == f"Reported through the ingest API: HTTP {http_status} after {latency_ms} ms."
            )
        assert "No calls to the vendor recorded" not in page, url
