from __future__ import annotations

import csv
import io
import re
from datetime import UTC, timedelta

import pytest
from django.db import connection
from django.http import QueryDict
from django.template import RequestContext, Template
from django.template.defaultfilters import floatformat
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from messaging.dashboard.breakdown import SPARKLINE_ROWS, breakdown, parse_window
from messaging.dashboard.charts import fixed, stacked_bars
from messaging.dashboard.errors import ErrorFilterForm
from messaging.models import Channel, ErrorEvent, Provider
from messaging.templatetags.sendwatch import bar_rects
from messaging.traffic import rollups

pytestmark = pytest.mark.django_db


def rows_by_key(result):
    return {(r.provider.slug if r.provider else None, r.key): r for r in result.rows}


def test_rates_are_errors_over_sends_per_provider(traffic):
    result = breakdown(parse_window("24h"))
    rows = rows_by_key(result)
    invalid = rows[("t23", "INVALID_TO")]
    assert (invalid.errors, invalid.sends) == (8, 120)  # sms + whatsapp at 23 EU
    assert invalid.rate == pytest.approx(100 * 8 / 120)
    assert rows[("e8", "1002")].rate == pytest.approx(100 * 5 / 50)
    assert (result.total_errors, result.total_sends) == (17, 170)
    assert sum(r.share for r in result.rows) == pytest.approx(100)
    # Balance-poll errors are not errors of sends.
    assert ("t23", "INTERNAL_ERROR") not in rows


def test_change_against_the_previous_window_of_the_same_length(traffic):
    rows = rows_by_key(breakdown(parse_window("24h")))
    assert rows[("t23", "INVALID_TO")].previous_errors == 4
    assert rows[("t23", "INVALID_TO")].change == pytest.approx(100.0)
    assert rows[("t23", "RATE_LIMIT_EXCEEDED")].change is None


def test_filters_by_provider_and_channel(traffic):
    only_eu = breakdown(parse_window("24h"), providers=[traffic["eu"]], channel="whatsapp")
    assert [(r.key, r.errors, r.sends) for r in only_eu.rows] == [("INVALID_TO", 2, 20)]


def test_group_by_category_across_vendors(traffic):
    rows = rows_by_key(breakdown(parse_window("24h"), group="category"))
    assert rows[(None, "validation")].errors == 13
    assert rows[(None, "validation")].sends == 170


def test_30_day_window_reaches_further_back(traffic):
    rows = rows_by_key(breakdown(parse_window("30d")))
    assert rows[("t23", "INVALID_TO")].errors == 12  # 40-day-old events stay out


@pytest.mark.parametrize(
    "args", [("2h",), ("custom", None, "2026-11-20"), ("custom", "2026-11-20", "2026-11-19"), ("custom", "x", "y")]
)
def test_bad_windows_are_refused(args):
    with pytest.raises(ValueError):
        parse_window(*args)


def test_the_page_and_its_htmx_partial(client, viewer, traffic):
    client.force_login(viewer)
    page = client.get(reverse("messaging:errors"), {"window": "24h", "provider": "t23"})
    assert page.status_code == 200
    assert b"<html" in page.content and b"INVALID_TO" in page.content and b"<svg" in page.content
    partial = client.get(reverse("messaging:errors"), {"window": "24h"}, headers={"HX-Request": "true"})
    assert partial.status_code == 200
    assert b"<html" not in partial.content and b"1002" in partial.content


def test_a_bad_filter_is_a_clear_400(client, viewer, traffic):
    client.force_login(viewer)
    response = client.get(reverse("messaging:errors"), {"provider": "nope"})
    assert response.status_code == 400
    assert b"unknown provider: nope" in response.content


def test_fixed_number_of_queries_whatever_the_rows(client, viewer, traffic):
    client.force_login(viewer)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("messaging:errors"), {"window": "30d"}).status_code == 200
        return len(captured)

    before = queries()
    more = Provider.objects.create(name="More", slug="more", kind="telnxo")
    for n, code in enumerate(["dnd_number", "dlt_scrubbed", "invalid_phone_number", "internal_error"]):
        events = ErrorEvent.objects.bulk_create(
            ErrorEvent(
                provider=more, error_code=code, category="validation", occurred_at=timezone.now(), http_status=422
            )
            for _ in range(n + 3)
        )
        rollups.record(errors=events)
    assert queries() == before


def test_drill_down_shows_the_vendor_advice_and_raw_response(client, viewer, traffic):
    client.force_login(viewer)
    response = client.get(
        reverse("messaging:error_code"),
        {"provider": "t23", "code": "INVALID_TO", "window": "24h"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "What to do" in body and "vendor says no" in body and "{&quot;raw&quot;: true}" in body
    assert body.count("<tr>") == 8 + 1  # the events, plus the header row


def test_csv_export_has_the_documented_columns(client, viewer, traffic):
    client.force_login(viewer)
    response = client.get(reverse("messaging:errors_export"), {"provider": "t23", "window": "24h"})
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["provider", "error_code", "category", "errors", "sends", "error_rate"]
    assert rows[1] == ["t23", "INVALID_TO", "validation", "8", "120", f"{8 / 120:.6f}"]
    assert len(rows) == 3


def test_a_user_without_the_permission_is_refused(client, django_user_model, traffic):
    client.force_login(django_user_model.objects.create_user("nobody", password="a-long-test-password"))
    assert client.get(reverse("messaging:errors")).status_code == 403
    assert client.get(reverse("messaging:errors_export")).status_code == 403


def test_drill_down_links_are_what_querystring_builds(client, viewer, traffic):
    client.force_login(viewer)
    query = {"group": "code", "channel": "sms", "window": "24h", "provider": ["e8", "t23"], "code": "old"}
    response = client.get(reverse("messaging:errors"), query, headers={"HX-Request": "true"})
    rows = response.context["result"].rows
    expected = Template(
        "{% for row in rows %}{% url 'messaging:error_code' %}"
        "{% querystring provider=row.provider.slug code=row.key group=None %}\n{% endfor %}"
    ).render(RequestContext(response.wsgi_request, {"rows": rows}))
    links = re.findall(r'<a href="([^"]+)"\s+hx-get="\1"', response.content.decode())
    assert links == expected.split()
    assert links[0] == "/errors/code/?channel=sms&amp;window=24h&amp;provider=t23&amp;code=INVALID_TO"


@pytest.mark.parametrize("value", [0.0, -0.0, -0.04, 0.05, 0.25, 2.675, 12.25, 99.995, 1e-7, 100 / 3, 180.0, 1234.5])
@pytest.mark.parametrize("places", [1, 2])
def test_fixed_rounds_as_floatformat_does(value, places):
    assert fixed(value, places) == floatformat(value, places)


def test_chart_bars_escape_their_labels():
    svg = bar_rects(stacked_bars([("<b>23 EU</b>: X", [1.0, 0.0]), ("other", [0.5, 2.0])]), "per 100 sends")
    assert "<b>" not in svg and "&lt;b&gt;23 EU&lt;/b&gt;: X: 1.00 per 100 sends" in svg
    assert svg.count("<rect ") == 3  # no bar for a zero


def test_csv_export_issues_the_same_queries_with_few_and_many_rows(
    client, viewer, traffic, django_assert_max_num_queries
):
    client.force_login(viewer)

    def export():
        response = client.get(reverse("messaging:errors_export"), {"window": "30d"})
        return b"".join(response.streaming_content).decode().splitlines()

    with django_assert_max_num_queries(20) as few:
        assert len(export()) == 1 + 3
    more = Provider.objects.create(name="More", slug="more", kind="telnxo")
    for n in range(60):
        events = ErrorEvent.objects.bulk_create(
            ErrorEvent(provider=more, error_code=f"code_{n}", category="server", occurred_at=traffic["now"])
            for _ in range(2)
        )
        rollups.record(errors=events)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(export()) == 1 + 3 + 60


def test_the_table_shows_the_codes_with_trends_and_links_to_all(client, viewer, many_codes):
    client.force_login(viewer)
    page = client.get(reverse("messaging:errors"), {"window": "24h"}, headers={"HX-Request": "true"}).content.decode()
    assert page.count('<th scope="row">') == SPARKLINE_ROWS
    assert "code_59" in page and "code_10" in page and "code_09" not in page and "INVALID_TO" not in page
    assert "Showing the 50 codes with the most errors" in page and "13 with fewer errors are left out" in page
    assert 'href="/errors/?window=24h&amp;rows=all"' in page and "Show all 63" in page

    everything = client.get(reverse("messaging:errors"), {"window": "24h", "rows": "all"}).content.decode()
    assert everything.count('<th scope="row">') == 63 and "INVALID_TO" in everything
    assert "left out" not in everything
    # The CSV is always complete.
    csv_rows = b"".join(client.get(reverse("messaging:errors_export"), {"window": "24h"}).streaming_content)
    assert len(csv_rows.decode().splitlines()) == 1 + 63


def test_a_bad_rows_value_is_a_clear_400(client, viewer, traffic):
    client.force_login(viewer)
    response = client.get(reverse("messaging:errors"), {"rows": "10"})
    assert response.status_code == 400 and b"rows must be" in response.content


# -- the filter form: ErrorFilterForm ---------------------------------------------------------------

REFUSED = '<div class="error" role="alert">'  # templates/messaging/filter_errors.html, the same on every page


def moment(at) -> str:
    """As <input type="datetime-local"> sends it, in the reader's time zone."""
    return timezone.localtime(at).strftime("%Y-%m-%dT%H:%M")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"window": "2h"}, "window must be one of 1h, 24h, 7d, 30d, custom"),
        ({"provider": ["t23", "nope", "gone"]}, "unknown provider: gone, nope"),
        ({"channel": "fax"}, f"channel must be one of {', '.join(Channel.values)}"),
        ({"group": "vendor"}, "group must be 'code' or 'category'"),
        ({"rows": "10"}, "rows must be 'all', or left out for the codes with the most errors"),
        ({"start": "2026-11-20T08:00", "end": "2026-11-19"}, "the custom window must end after it starts"),
        ({"window": "custom", "start": "2026-01-01", "end": "2026-06-01"}, "a custom window may span at most 92 days"),
        ({"window": "custom"}, "a custom window needs a start"),
        ({"window": "24h", "start": "2026-11-20T08:00"}, "a custom window needs an end"),
        ({"start": "yesterday"}, "start must be a date or date and time, such as 2026-11-20 or 2026-11-20T08:00"),
        ({"start": "0001-01-01", "end": "0001-01-02"}, "0001-01-01 is out of range: choose a date from 1970 to 9000"),
    ],
)
def test_a_refused_filter_is_a_400_that_shows_the_page_and_why(client, viewer, traffic, params, message):
    assert message in ErrorFilterForm(params).problems
    client.force_login(viewer)
    page = client.get(reverse("messaging:errors"), params)
    body = page.content.decode()
    assert page.status_code == 400 and "<html" in body and 'class="filters"' in body
    assert escape(message) in body.split(REFUSED)[1]
    partial = client.get(reverse("messaging:errors"), params, headers={"HX-Request": "true"})
    assert partial.status_code == 400 and "<html" not in partial.content.decode()
    assert escape(message) in partial.content.decode().split(REFUSED)[1]
    export = client.get(reverse("messaging:errors_export"), params)
    assert export.status_code == 400 and message in export.content.decode()


def test_from_and_to_make_the_window_custom_whatever_the_window_menu_says(client, viewer, traffic):
    start, end = traffic["now"] - timedelta(hours=3), traffic["now"]
    params = {"window": "24h", "start": moment(start), "end": moment(end)}
    form = ErrorFilterForm(params)
    assert form.is_valid() and form.window_switched
    window = form.cleaned_data["window"]
    assert window.key == "custom" and window.start <= start.replace(second=0, microsecond=0) and window.end >= end

    client.force_login(viewer)
    page = client.get(reverse("messaging:errors"), params)
    assert page.status_code == 200 and page.context["result"].window.key == "custom"
    assert page.context["result"].total_errors == 17  # the errors 1 hour ago; not those 30 hours ago
    body = page.content.decode()
    assert '<option value="custom" selected>' in body and '<option value="24h" selected>' not in body
    assert f'value="{params["start"]}"' in body and body.count('id="f-window"') == 1
    # The htmx answer sets the window menu too, out of band, since only #results is swapped.
    partial = client.get(reverse("messaging:errors"), params, headers={"HX-Request": "true"}).content.decode()
    assert '<select id="f-window" name="window" data-clears="f-start f-end" hx-swap-oob="true">' in partial
    assert '<option value="custom" selected>' in partial
    # ... but not when the menu already says what is shown: choosing a window keeps the menu (and its focus).
    chosen = client.get(reverse("messaging:errors"), {"window": "7d"}, headers={"HX-Request": "true"})
    assert "hx-swap-oob" not in chosen.content.decode()
    export = client.get(reverse("messaging:errors_export"), params)
    shown = page.context["result"].window
    bounds = "-".join(f"{moment.astimezone(UTC):%Y%m%dT%H%MZ}" for moment in (shown.start, shown.end))
    assert export["Content-Disposition"] == f'attachment; filename="sendwatch-errors-custom-{bounds}.csv"'


def test_from_alone_is_not_ignored(client, viewer, traffic):
    client.force_login(viewer)
    response = client.get(reverse("messaging:errors"), {"window": "7d", "start": moment(traffic["now"])})
    assert response.status_code == 400 and b"a custom window needs an end" in response.content
    assert b'<option value="custom" selected>' in response.content


def test_the_form_cleans_to_what_the_breakdown_takes(traffic):
    form = ErrorFilterForm(QueryDict("provider=t23&provider=&provider=e8&channel=sms&group=category"))
    assert form.is_valid(), form.errors
    data = form.cleaned_data
    assert {p.slug for p in data["provider"]} == {"t23", "e8"}
    assert (data["channel"], data["group"], data["rows"], data["window"].key) == ("sms", "category", "", "24h")
    everything = ErrorFilterForm({})
    assert everything.is_valid() and everything.cleaned_data["provider"] is None


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"provider": "t23", "window": "24h"}, "choose one provider and one error code"),
        ({"provider": ["t23", "e8"], "code": "INVALID_TO"}, "choose one provider and one error code"),
        ({"provider": "t23", "code": "INVALID_TO", "window": "1w"}, "window must be one of"),
    ],
)
def test_a_refused_drill_down_says_why_as_the_pages_do(client, viewer, traffic, params, message):
    client.force_login(viewer)
    response = client.get(reverse("messaging:error_code"), params, headers={"HX-Request": "true"})
    assert response.status_code == 400 and message in response.content.decode().split(REFUSED)[1]


def test_the_drill_down_reads_a_custom_window_from_from_and_to(client, viewer, traffic):
    client.force_login(viewer)
    since = {"start": moment(traffic["now"] - timedelta(minutes=30)), "end": moment(traffic["now"])}
    response = client.get(reverse("messaging:error_code"), {"provider": "t23", "code": "INVALID_TO", **since})
    assert response.status_code == 200 and len(response.context["events"]) == 0  # they were an hour ago


@pytest.mark.parametrize(
    "query",
    [
        "provider=a%00b",
        "channel=a%00b",
        "start=9999-12-31T00:00&end=9999-12-31T23:00",
        "start=0001-01-01T00:00%2B05:00&end=0001-01-02",
        "window=custom&window=1h&start=&end=",
        "group=code&group=" + "x" * 5000,
        "provider=t23&code=x%00",
    ],
)
def test_no_query_string_is_a_500(client, viewer, traffic, query):
    client.force_login(viewer)
    for name in ("messaging:errors", "messaging:errors_export", "messaging:error_code"):
        assert client.get(f"{reverse(name)}?{query}").status_code in (200, 400)
