"""An account manager changes a threshold, then reads the balance chart: labelled axes, on a desk and on a phone."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from messaging.models import BalanceSnapshot, Provider
from tests.browser.conftest import PASSWORD, check_accessibility, log_in, screenshot
from tests.vault.conftest import roles, users  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

Y_TICKS = ["1,000 EUR", "1,050 EUR", "1,100 EUR", "1,150 EUR", "1,200 EUR"]
DATE = re.compile(r"\d{1,2} [A-Z][a-z]{2}")


@pytest.fixture
def provider(db):
    """A money account whose balance fell from 1,150.34 to 1,034.00 EUR over the last week, a reading every 6 h."""
    provider = Provider.objects.create(name="23 Telecom EU", slug="t23-eu", kind="23telecom", currency="EUR")
    now = timezone.now()
    readings = 28
    BalanceSnapshot.objects.bulk_create(
        BalanceSnapshot(
            provider=provider,
            fetched_at=now - timedelta(hours=6 * (readings - n)) + timedelta(minutes=1),
            amount=Decimal("1150.34") - (Decimal("116.34") * n / (readings - 1)).quantize(Decimal("0.01")),
            currency="EUR",
        )
        for n in range(readings)
    )
    return provider


def axis_texts(page, axis: str) -> list[str]:
    labels = page.locator(f"figure.line-chart [data-axis='{axis}'] text")
    return [labels.nth(i).text_content() for i in range(labels.count()) if labels.nth(i).is_visible()]


def test_a_manager_saves_a_threshold_and_reads_the_balance_chart(page, users, provider):  # noqa: F811
    log_in(page, "manager1", PASSWORD)
    page.goto(reverse("messaging:provider_thresholds", args=[provider.slug]))
    page.get_by_role("heading", name="Alert thresholds of 23 Telecom EU").wait_for()
    page.get_by_label("Low balance warning below").fill("1100")
    page.get_by_role("button", name="Save thresholds").click()
    page.get_by_text(re.compile("Low balance warning below not checked → 1100")).wait_for()
    assert Provider.objects.get(pk=provider.pk).balance_warning == Decimal(1100)

    page.goto(reverse("messaging:provider_detail", args=[provider.slug]))
    chart = page.locator("figure.line-chart")
    chart.wait_for()
    caption = " ".join(chart.locator("figcaption").inner_text().split())
    assert caption == "Balance, last 7 days: fell from 1,150.34 EUR to 1,034.00 EUR over 7 days."
    assert axis_texts(page, "y") == Y_TICKS
    dates = axis_texts(page, "x")
    assert len(dates) >= 5 and all(DATE.fullmatch(d) for d in dates), dates
    # The labels stand where they should: the values top to bottom, the dates left to right, inside the chart.
    box = chart.locator("svg.chart-svg").bounding_box()
    ys = [b["y"] for b in (t.bounding_box() for t in chart.locator("[data-axis='y'] text").all())]
    xs = [b["x"] for b in (t.bounding_box() for t in chart.locator("[data-axis='x'] text").all())]
    assert ys == sorted(ys, reverse=True) and xs == sorted(xs)
    assert box["x"] <= min(xs) and max(xs) <= box["x"] + box["width"]
    # Hovering a reading names its time and value.
    assert re.fullmatch(
        r"\d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d · Balance: 1,034\.00 EUR",
        chart.locator("circle.end-point title").text_content(),
    )
    check_accessibility(page)
    screenshot(page, "provider_detail_chart")

    # On a phone: the chart fits the screen, its labels still read, a date every other tick.
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    chart.wait_for()
    assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")
    assert axis_texts(page, "y") == Y_TICKS
    narrow = axis_texts(page, "x")
    assert 3 <= len(narrow) < len(dates) and all(DATE.fullmatch(d) for d in narrow), narrow
    check_accessibility(page)
    screenshot(page, "provider_detail_chart_phone")

    page.get_by_role("link", name="Last 30 days").click()
    page.wait_for_url(re.compile(r"days=30"))
    page.get_by_text("last 30 days:").wait_for()
    assert axis_texts(page, "y") == Y_TICKS  # the same readings, so the same range
    assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")
