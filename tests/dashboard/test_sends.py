from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from messaging.dashboard.csv_export import safe_cell
from messaging.dashboard.middleware import TIMEZONE_COOKIE
from messaging.dashboard.send_log import PAGE_SIZE, SendSearch, page
from messaging.dashboard.sends import SendFilterForm
from messaging.models import Send, SendAttempt, SendStatus

pytestmark = pytest.mark.django_db


def search(**params) -> SendSearch:
    form = SendFilterForm(params)
    assert form.is_valid(), form.errors
    return form.search()


def test_keyset_pages_cover_every_send_once_newest_first(traffic):
    seen, cursor = [], None
    while True:
        current = page(search(), cursor, size=37)
        seen.extend(s.pk for s in current.sends)
        if current.next_cursor is None:
            break
        cursor = current.next_cursor
    assert len(seen) == len(set(seen)) == Send.objects.count()
    ordered = list(Send.objects.order_by("-created_at", "-id").values_list("pk", flat=True))
    assert seen == ordered


@pytest.mark.parametrize("field", ["recipient", "vendor_message_id"])
def test_search_by_recipient_or_vendor_id(traffic, field):
    target = Send.objects.filter(provider=traffic["apac"]).first()
    found = page(search(q=getattr(target, field))).sends
    assert target in found and all(getattr(s, field) == getattr(target, field) for s in found)


def test_search_by_request_id(traffic):
    target = Send.objects.first()
    Send.objects.filter(pk=target.pk).update(request_id="req_0123456789abcdef")
    assert [s.pk for s in page(search(q="req_0123456789abcdef")).sends] == [target.pk]


@pytest.mark.parametrize(
    "params",
    [{"status": "lost"}, {"provider": "nope"}, {"from": "yesterday"}, {"from": "2026-11-20", "to": "2026-11-01"}],
)
def test_bad_search_values_are_refused(traffic, params):
    assert not SendFilterForm(params).is_valid()


def test_a_damaged_page_link_is_a_clear_400(client, viewer, traffic):
    client.force_login(viewer)
    response = client.get(reverse("messaging:sends"), {"after": "not-a-cursor"})
    assert response.status_code == 400 and b"page link is damaged" in response.content


def test_the_log_pages_with_a_fixed_number_of_queries(client, viewer, traffic):
    client.force_login(viewer)
    client.get(reverse("overview"))  # the session's renewal (a write, once a minute) is not the log's
    with CaptureQueriesContext(connection) as first:
        response = client.get(reverse("messaging:sends"))
    assert response.status_code == 200 and b"Older sends" in response.content
    cursor = response.context["page"].next_cursor
    with CaptureQueriesContext(connection) as later:
        assert client.get(reverse("messaging:sends"), {"after": cursor}).status_code == 200
    assert len(later) == len(first)


def test_a_row_shows_the_send_in_the_readers_time_zone_with_its_labels(client, viewer, traffic):
    send, plain = Send.objects.filter(provider=traffic["apac"])[:2]
    Send.objects.filter(pk=send.pk).update(
        created_at=datetime(2099, 1, 15, 12, 0, tzinfo=UTC),
        channel="whatsapp",
        recipient="+44<b>7700</b>",
        status="failed",
        error_code="INVALID_TO",
        http_status=400,
        latency_ms=123,
    )
    Send.objects.filter(pk=plain.pk).update(created_at=datetime(2099, 1, 15, 11, 0, tzinfo=UTC))
    client.force_login(viewer)
    client.cookies[TIMEZONE_COOKIE] = "Asia/Tokyo"
    body = client.get(reverse("messaging:sends")).content.decode()
    newest, second = body.split("<tbody>")[1].split("</tr>")[:2]
    assert f'<a href="{reverse("messaging:send_detail", args=[send.pk])}">' in newest
    assert '<time datetime="2099-01-15T21:00:00+09:00">15 Jan 21:00:00</time>' in newest
    assert "<td>+44&lt;b&gt;7700&lt;/b&gt;</td>" in newest and "<td>8x8 APAC</td><td>WhatsApp</td>" in newest
    assert '<span class="send-status send-failed">Failed</span>' in newest and "<code>INVALID_TO</code>" in newest
    assert '<td class="num" data-figure="http-status">400</td>' in newest
    assert '<td class="num" data-figure="latency">123 ms</td>' in newest
    assert '<span class="send-status send-accepted">Accepted by vendor</span>' in second
    assert second.count('">—</td>') == 2 and "<code>" not in second


def test_a_search_takes_as_many_queries_for_one_match_as_for_a_full_page(
    client, viewer, traffic, django_assert_max_num_queries
):
    client.force_login(viewer)
    wanted = {"q": "+447700911111"}
    Send.objects.filter(pk=Send.objects.first().pk).update(recipient=wanted["q"])
    with django_assert_max_num_queries(10) as one:
        body = client.get(reverse("messaging:sends"), wanted).content.decode()
    assert body.count('class="send-status') == 1
    Send.objects.filter(provider=traffic["eu"]).update(recipient=wanted["q"])
    with django_assert_max_num_queries(len(one.captured_queries)):
        body = client.get(reverse("messaging:sends"), wanted).content.decode()
    assert body.count('class="send-status') == PAGE_SIZE and "Older sends" in body


def test_send_detail_lists_attempts_and_errors(client, viewer, traffic):
    send = Send.objects.filter(error_events__isnull=False).first()
    SendAttempt.objects.create(
        send=send,
        number=1,
        started_at=send.created_at,
        latency_ms=123,
        http_status=400,
        outcome="failed",
        error_code="INVALID_TO",
    )
    client.force_login(viewer)
    body = client.get(reverse("messaging:send_detail", args=[send.pk])).content.decode()
    assert "123 ms" in body and "INVALID_TO" in body and "vendor says no" in body


def test_csv_export_streams_every_match_and_defuses_formulas(client, viewer, traffic):
    Send.objects.filter(pk=Send.objects.first().pk).update(recipient="=HYPERLINK(1)")
    client.force_login(viewer)
    response = client.get(reverse("messaging:sends_export"), {"provider": "e8"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:5] == ["id", "created_at", "provider", "channel", "recipient"]
    assert len(rows) == 1 + 50


@pytest.mark.parametrize(
    "value, safe",
    [
        ("=1+2", "'=1+2"),
        ("@cmd", "'@cmd"),
        ("+447700900001", "+447700900001"),
        ("-12.5", "-12.5"),
        ("+cmd", "'+cmd"),
        ("plain", "plain"),
    ],
)
def test_spreadsheet_formulas_are_defused(value, safe):
    assert safe_cell(value) == safe


# -- the filter form: SendFilterForm ----------------------------------------------------------------

REFUSED = '<div class="error" role="alert">'  # templates/messaging/filter_errors.html, the same on every page


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"status": "lost"}, f"status must be one of {', '.join(SendStatus.values)}"),
        ({"provider": "nope"}, "unknown provider: nope"),
        ({"from": "yesterday"}, "'from' must be a date such as 2026-11-20"),
        ({"to": "2026-02-30"}, "'to' must be a date such as 2026-11-20"),
        ({"from": "2026-11-20", "to": "2026-11-01"}, "'to' must not be before 'from'"),
        ({"to": "9999-12-31"}, "9999-12-31 is out of range: choose a date from 1970 to 9000"),
        ({"q": "+4477\x00"}, "q must not hold null characters"),
        ({"after": "not-a-cursor"}, "the page link is damaged; start from the first page"),
    ],
)
def test_a_refused_filter_is_a_400_that_shows_the_page_and_why(client, viewer, traffic, params, message):
    assert message in SendFilterForm(params).problems
    client.force_login(viewer)
    page = client.get(reverse("messaging:sends"), params)
    body = page.content.decode()
    assert page.status_code == 400 and "<html" in body and 'role="search"' in body
    assert escape(message) in body.split(REFUSED)[1]
    partial = client.get(reverse("messaging:sends"), params, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in partial and escape(message) in partial.split(REFUSED)[1]
    export = client.get(reverse("messaging:sends_export"), params)
    if "after" in params:  # the CSV has every match: no pages, so no cursor to check
        assert export.status_code == 200
    else:
        assert export.status_code == 400 and message in export.content.decode()


def test_the_form_keeps_what_was_asked_and_cleans_to_a_search(client, viewer, traffic):
    params = {
        "q": "  +447700900001 ",
        "status": "accepted",
        "provider": "t23",
        "from": "2026-11-01",
        "to": "2026-11-30",
    }
    assert search(**params) == SendSearch(
        "+447700900001", "accepted", traffic["eu"], date(2026, 11, 1), date(2026, 11, 30)
    )
    assert search(q="x" * 400).text == "x" * 320
    client.force_login(viewer)
    body = client.get(reverse("messaging:sends"), params).content.decode()
    assert 'value="  +447700900001 "' in body and '<option value="accepted" selected>' in body
    assert '<option value="t23" selected>' in body
    assert 'name="from" value="2026-11-01"' in body and 'name="to" value="2026-11-30"' in body


def test_the_log_and_the_send_page_say_the_same_about_the_calls(client, viewer, traffic):
    """A send reported through the ingest API has its HTTP status and latency but no attempt rows."""
    reported = Send.objects.create(
        provider=traffic["apac"],
        source=Send.Source.INGEST,
        recipient="+447700900999",
        status=SendStatus.FAILED,
        error_code="1002",
        http_status=500,
        latency_ms=288,
        attempts=1,
        created_at=datetime(2099, 1, 15, 12, 0, tzinfo=UTC),
    )
    client.force_login(viewer)
    listed = client.get(reverse("messaging:sends"), {"status": "failed"}).content.decode()
    row = listed.split("<tbody>")[1].split("</tr>")[0]
    assert reverse("messaging:send_detail", args=[reported.pk]) in row
    assert '<td class="num" data-figure="http-status">500</td>' in row
    assert '<td class="num" data-figure="latency">288 ms</td>' in row
    page = client.get(reverse("messaging:send_detail", args=[reported.pk])).content.decode()
    assert 'HTTP <span data-figure="http-status">500</span> · latency <span data-figure="latency">288 ms</span>' in page
    assert "Reported through the ingest API: HTTP 500 after 288 ms." in page
    assert "No calls to the vendor recorded" not in page
    exported = list(
        csv.reader(io.StringIO(b"".join(client.get(reverse("messaging:sends_export")).streaming_content).decode()))
    )
    header, line = exported[0], next(r for r in exported if r[0] == str(reported.pk))
    assert (line[header.index("http_status")], line[header.index("latency_ms")]) == ("500", "288")

    # A send with attempt rows lists them; one without anything known says so.
    plain = Send.objects.filter(provider=traffic["eu"], http_status__isnull=True).first()
    assert (
        "No calls to the vendor recorded."
        in client.get(reverse("messaging:send_detail", args=[plain.pk])).content.decode()
    )
