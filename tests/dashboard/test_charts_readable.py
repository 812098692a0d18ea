"""The two charts read at a glance: labelled axes, a value range around the data, honest captions, hover
titles with the time, a palette without near-twins, and a chart whose title follows the grouping."""

from __future__ import annotations

import html
import itertools
import math
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from messaging.dashboard.charts import line_chart, nice_range, stacked_bars, value_range, x_ticks
from messaging.models import BalanceSnapshot, ErrorEvent, Provider, Send
from messaging.traffic import rollups

pytestmark = pytest.mark.django_db

CSS = Path(__file__).resolve().parents[2] / "static" / "sendwatch" / "app.css"
START = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
WEEK = timedelta(days=7)


def texts(svg: str, axis: str) -> list[str]:
    """The <text> labels of one axis group ("x" or "y") of the first chart in ``svg``."""
    group = re.search(rf'<g class="chart-axis chart-axis-{axis}" data-axis="{axis}">(.*?)</g>', svg, re.S)
    assert group, f"no {axis} axis"
    return [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", group.group(1))]


# -- the value axis ---------------------------------------------------------------


def test_a_fall_far_from_zero_gets_a_value_axis_around_the_data_with_round_ticks():
    readings = [(START, 1150.34), (START + timedelta(days=3), 1101.5), (START + WEEK, 1034.00)]
    chart = line_chart(readings, START, START + WEEK, unit="EUR")
    assert (chart.bottom, chart.top) == (1000, 1200)  # not from zero: min 1034 less a tenth of the span, rounded
    assert [tick.label for tick in chart.yticks] == ["1,000 EUR", "1,050 EUR", "1,100 EUR", "1,150 EUR", "1,200 EUR"]
    # The ticks run from the bottom of the plot to its top, evenly.
    ys = [tick.y for tick in chart.yticks]
    assert ys == sorted(ys, reverse=True) and len({round(b - a, 1) for a, b in itertools.pairwise(ys)}) == 1
    # The highest reading is drawn near the top, the lowest near the bottom: the fall fills the height.
    heights = [float(point.split(",")[1]) for point in chart.points.split()]
    assert heights[0] < chart.height * 0.3 and heights[-1] > chart.height * 0.7


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (1034.0, 1150.34, (1000, 1200, 50)),
        (12.0, 12.0, (11, 13, 0.5)),  # flat: 5 % around the value (at least 1)
        (3.0, 95.0, (0, 125, 25)),  # near zero: the padding stops at zero instead of going below it
        (-40.0, 60.0, (-50, 75, 25)),  # the readings cross zero, so does the axis
    ],
)
def test_value_range_pads_the_readings_and_rounds_to_ticks(low, high, expected):
    bottom, top, step = value_range(low, high)
    assert (bottom, top, step) == pytest.approx(expected)
    assert bottom <= low and top >= high


def test_nice_range_steps_are_1_2_25_or_5_times_a_power_of_ten():
    assert nice_range(0, 5.27) == pytest.approx((0, 6, 2))
    assert nice_range(0, 17.24) == pytest.approx((0, 20, 5))
    assert nice_range(0, 0.37) == pytest.approx((0, 0.4, 0.1))


# -- the time axis -----------------------------------------------------------------


def test_a_day_is_labelled_every_three_hours_and_midnight_by_its_date(settings):
    settings.TIME_ZONE = "UTC"
    with timezone.override("UTC"):
        ticks = x_ticks(datetime(2026, 11, 30, 13, 0, tzinfo=UTC), datetime(2026, 12, 1, 13, 0, tzinfo=UTC))
    assert [t.label for t in ticks] == ["15:00", "18:00", "21:00", "1 Dec", "03:00", "06:00", "09:00", "12:00"]
    assert ticks[0].x == "8.33%" and ticks[3].x == "45.83%"
    assert [t.minor for t in ticks] == [False, True] * 4  # every other one hides on a phone


def test_a_week_is_labelled_by_day_in_the_readers_time_zone():
    with timezone.override("Europe/Berlin"):
        ticks = x_ticks(START, START + WEEK)  # 11:00 Berlin time on 24 Nov
    assert [t.label for t in ticks] == ["25 Nov", "26 Nov", "27 Nov", "28 Nov", "29 Nov", "30 Nov", "1 Dec"]
    assert all(timezone.localtime(t.at, timezone.get_fixed_timezone(60)).hour == 0 for t in ticks)


def test_thirty_days_get_weekly_labels_on_mondays():
    with timezone.override("UTC"):
        ticks = x_ticks(START - timedelta(days=23), START + WEEK)
    assert 4 <= len(ticks) <= 8
    assert all(t.at.weekday() == 0 for t in ticks)


# -- the balance chart on the provider's page ---------------------------------------


@pytest.fixture
def falling(db):
    """A money provider whose balance fell from 1,150.34 to 1,034.00 EUR over the last week, a reading a day."""
    provider = Provider.objects.create(name="23 EU", slug="t23", kind="23telecom", currency="EUR")
    now = timezone.now()
    amounts = ["1150.34", "1120.00", "1101.50", "1090.00", "1071.25", "1060.00", "1048.80", "1034.00"]
    BalanceSnapshot.objects.bulk_create(
        BalanceSnapshot(
            provider=provider,
            fetched_at=now - timedelta(days=7 - n, minutes=-1 if n == 0 else 0),
            amount=Decimal(amount),
            currency="EUR",
        )
        for n, amount in enumerate(amounts)
    )
    return provider


def detail_page(client, admin_user, slug: str, **params) -> str:
    client.force_login(admin_user)
    response = client.get(reverse("messaging:provider_detail", args=[slug]), params)
    assert response.status_code == 200
    return response.content.decode()


def test_the_balance_chart_says_how_the_balance_moved_from_the_first_reading_to_the_last(client, admin_user, falling):
    body = detail_page(client, admin_user, "t23")
    caption = re.search(r"<figcaption>(.*?)</figcaption>", body, re.S).group(1)
    words = " ".join(re.sub(r"<[^>]+>", "", caption).split())
    assert words == "Balance, last 7 days: fell from 1,150.34 EUR to 1,034.00 EUR over 7 days."
    assert "from 0.00" not in body


def test_the_balance_chart_has_labelled_ticks_with_the_currency_and_several_dates(client, admin_user, falling):
    body = detail_page(client, admin_user, "t23")
    assert texts(body, "y") == ["1,000 EUR", "1,050 EUR", "1,100 EUR", "1,150 EUR", "1,200 EUR"]
    dates = texts(body, "x")
    assert len(dates) >= 5 and all(re.fullmatch(r"\d{1,2} [A-Z][a-z]{2}", d) for d in dates)
    assert "style=" not in body.split('<figure class="chart line-chart"')[1].split("</figure>")[0]


def test_each_balance_reading_has_a_hover_title_with_its_time_and_value(client, admin_user, falling):
    body = detail_page(client, admin_user, "t23")
    titles = [html.unescape(t) for t in re.findall(r'<rect class="hover"[^>]*><title>([^<]*)</title>', body)]
    assert len(titles) == 8
    first = timezone.localtime(BalanceSnapshot.objects.order_by("fetched_at").first().fetched_at)
    assert titles[0] == f"{first:%-d %b %Y %H:%M} · Balance: 1,150.34 EUR"
    assert titles[-1].endswith(" · Balance: 1,034.00 EUR")


def test_a_top_up_in_between_is_named_with_the_lowest_and_highest(client, admin_user, falling):
    BalanceSnapshot.objects.filter(amount=Decimal("1071.25")).update(amount=Decimal("1500.00"))
    body = detail_page(client, admin_user, "t23")
    assert "fell from 1,150.34 EUR to 1,034.00 EUR over 7 days" in body
    assert "(lowest 1,034.00 EUR, highest 1,500.00 EUR)" in body


def test_a_plan_quota_is_counted_in_whole_messages():
    chart = line_chart(
        [(START, 8500.0), (START + timedelta(hours=20), 8020.0)], START, START + WEEK, unit="messages left"
    )
    assert chart.trend == "fell from 8,500 messages left to 8,020 messages left over 20 hours"
    assert all(re.fullmatch(r"\d,\d{3}", tick.label) for tick in chart.yticks)  # the unit is said once, in the title


# -- the Errors page's chart ----------------------------------------------------------


@pytest.fixture
def many_codes(traffic):
    """Eight codes at one provider on top of the ``traffic`` fixture's three, all within the last 24 h."""
    now = traffic["now"]
    more = Provider.objects.create(name="More", slug="more", kind="telnxo")
    for n in range(8):
        at = now - timedelta(hours=2 + n, minutes=5)
        rollups.record(sends=Send.objects.bulk_create(Send(provider=more, created_at=at) for _ in range(40)))
        events = ErrorEvent.objects.bulk_create(
            ErrorEvent(provider=more, occurred_at=at, error_code=f"code_{n}", category="server") for _ in range(20 - n)
        )
        rollups.record(errors=events)
    return traffic


def errors_page(client, viewer, **params) -> str:
    client.force_login(viewer)
    response = client.get(reverse("messaging:errors"), params)
    assert response.status_code == 200
    return response.content.decode()


def chart_of(body: str) -> str:
    return body.split('<figure class="chart"')[1].split("</figure>")[0]


@pytest.mark.parametrize(
    ("group", "heading", "title"),
    [
        ("code", "Error rate by vendor error code, last 24 h", "stacked by the top codes"),
        ("category", "Error rate by category, last 24 h", "stacked by the top categories"),
    ],
)
def test_the_chart_title_follows_the_grouping(client, viewer, many_codes, group, heading, title):
    chart = chart_of(errors_page(client, viewer, window="24h", group=group))
    assert f'<span id="chart-heading" class="chart-title">{heading}</span>' in chart
    assert re.search(rf'<title id="chart-title">[^<]*{title}</title>', chart)
    if group == "category":
        assert "codes" not in re.sub(r"<[^>]+>", "", chart.split("</figcaption>")[0])


def test_the_errors_chart_has_labelled_value_and_time_axes(client, viewer, many_codes, settings):
    settings.TIME_ZONE = "UTC"
    chart = chart_of(errors_page(client, viewer, window="24h"))
    values = texts(chart, "y")
    assert values[0] == "0" and len(values) >= 3
    steps = {round(float(b) - float(a), 6) for a, b in itertools.pairwise(values)}
    assert len(steps) == 1  # evenly spaced round numbers
    times = texts(chart, "x")
    assert 4 <= len(times) <= 8 and all(re.fullmatch(r"\d\d:00|\d{1,2} [A-Z][a-z]{2}", t) for t in times)
    assert "style=" not in chart and "<script" not in chart


def test_every_bar_has_a_hover_title_with_its_time_series_and_value(client, viewer, many_codes):
    chart = chart_of(errors_page(client, viewer, window="24h"))
    titles = [html.unescape(t) for t in re.findall(r'<rect class="series-[^"]+"[^>]*><title>([^<]*)</title>', chart)]
    assert titles
    pattern = re.compile(r"\d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d · .+: \d+\.\d\d per 100 sends")
    assert all(pattern.fullmatch(title) for title in titles), titles[:3]
    # More's code_0: 20 errors in its bucket's 40 sends, 2 h 5 min ago.
    bucket = timezone.localtime(many_codes["now"] - timedelta(hours=2, minutes=5)).replace(minute=0, second=0)
    assert f"{bucket:%-d %b %Y %H:%M} · More: code_0: 50.00 per 100 sends" in titles


def test_the_top_five_are_named_and_the_rest_is_a_quiet_other(client, viewer, many_codes):
    chart = chart_of(errors_page(client, viewer, window="24h"))
    legend = re.findall(r'<li(?: class="other")?><span class="swatch ([^"]+)"></span>([^<]+)</li>', chart)
    assert [css for css, _ in legend] == ["series-0", "series-1", "series-2", "series-3", "series-4", "series-other"]
    assert [label for _, label in legend][:2] == ["More: code_0", "More: code_1"]
    assert legend[-1][1] == "other"
    # 11 codes: the five named carry 20+19+18+17+16 = 90 of the 90 + 15 + 14 + 13 + 8 + 5 + 4 = 149 errors.
    note = " ".join(
        re.sub(r"<[^>]+>", "", re.search(r"<span[^>]*data-chart-note>(.*?)</span>", chart, re.S)[1]).split()
    )
    assert "Named: the 5 codes with the most errors (60% of all errors); the other 6 are stacked in grey" in note
    assert 'class="series-other"' in chart


def test_with_five_codes_or_fewer_there_is_no_other(client, viewer, traffic):
    chart = chart_of(errors_page(client, viewer, window="24h"))
    assert "series-other" not in chart and "Named:" not in chart


def test_stacked_bars_reach_a_round_top_and_keep_other_last():
    starts = [START + timedelta(hours=h) for h in range(3)]
    chart = stacked_bars([("a", [1.0, 2.0, 0.5]), ("other", [3.0, 3.27, 0.0])], starts=starts, unit="per 100 sends")
    assert chart.top == 6 and [t.label for t in chart.yticks] == ["0", "2", "4", "6"]
    assert chart.classes == ["series-0", "series-other"]
    tallest = max(chart.bars, key=lambda bar: chart.height - bar.y)
    assert chart.height - tallest.y == pytest.approx(5.27 / 6 * chart.height)


# -- the palette -------------------------------------------------------------------


def _linear(channel: int) -> float:
    c = channel / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


# Machado et al. (2009), severity 1: how the colours look with each kind of colour blindness.
SIMULATIONS = {
    "normal": ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
    "deuteranopia": ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413), (-0.01182, 0.04294, 0.968881)),
    "protanopia": ((0.152286, 1.052583, -0.204868), (0.114503, 0.786281, 0.099216), (-0.003882, -0.048116, 1.051998)),
    "tritanopia": ((1.255528, -0.076749, -0.178779), (-0.078411, 0.930809, 0.147602), (0.004733, 0.691367, 0.3039)),
}


def lab(colour: str, seen: str = "normal") -> tuple[float, float, float]:
    """CIE L*a*b* (D65) of a #rrggbb colour as seen with ``seen``."""
    rgb = [_linear(int(colour[i : i + 2], 16)) for i in (1, 3, 5)]
    r, g, b = (min(max(sum(m * c for m, c in zip(row, rgb, strict=True)), 0.0), 1.0) for row in SIMULATIONS[seen])
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def palette() -> dict[str, str]:
    """Each series class's fill in app.css."""
    found = dict(re.findall(r"\.(series-(?:\d+|other)) \{ fill: (#[0-9a-fA-F]{6});", CSS.read_text()))
    assert {"series-0", "series-4", "series-other"} <= set(found), found
    return {name: colour.lower() for name, colour in found.items()}


@pytest.mark.parametrize(
    ("seen", "least"), [("normal", 20), ("deuteranopia", 12), ("protanopia", 12), ("tritanopia", 12)]
)
def test_no_two_series_colours_are_near_twins(seen, least):
    """CIE76 ΔE between every pair (2.3 is just noticeable; the old oranges were 13.8 apart, 0.7 for a deuteranope)."""
    colours = palette()
    distances = {
        (a, b): math.dist(lab(colours[a], seen), lab(colours[b], seen))
        for a, b in itertools.combinations(sorted(colours), 2)
    }
    closest = min(distances, key=distances.__getitem__)
    assert distances[closest] >= least, (seen, closest, distances[closest])


def test_the_distance_measure_catches_the_old_near_twin_oranges():
    assert math.dist(lab("#c2410c"), lab("#b45309")) < 20
    assert math.dist(lab("#c2410c", "deuteranopia"), lab("#b45309", "deuteranopia")) < 12


def test_the_named_series_stand_out_from_the_page_and_other_stays_quiet():
    def luminance(colour: str) -> float:
        r, g, b = (_linear(int(colour[i : i + 2], 16)) for i in (1, 3, 5))
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    colours = palette()
    white = 1.0
    contrast = {name: (white + 0.05) / (luminance(c) + 0.05) for name, c in colours.items()}
    # The three most used series pass 3:1 against the white card on their own; every bar also has a white gap.
    assert all(contrast[f"series-{n}"] >= 3 for n in range(3)), contrast
    assert contrast["series-other"] < 1.6  # pale: it recedes behind the named ones
