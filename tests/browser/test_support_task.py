"""Support's main task: a customer quotes a number; find the send and read what to do, in 3 clicks or fewer."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.browser.conftest import check_accessibility, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def failed_send(support, settings):
    from django.utils import timezone

    from messaging.models import ErrorEvent, Provider, Send, SendStatus

    settings.SENDWATCH_PHONE_REGION = "GB"  # the operator's country: national numbers are British
    provider = Provider.objects.get(slug="t23")
    entry = provider.adapter_class.errors["INVALID_TO"]
    send = Send.objects.create(
        provider=provider,
        recipient="+447400521501",
        status=SendStatus.FAILED,
        error_code="INVALID_TO",
        error_category="validation",
        created_at=timezone.now() - timedelta(minutes=5),
    )
    ErrorEvent.objects.create(
        provider=provider, send=send, error_code="INVALID_TO", category="validation", occurred_at=send.created_at
    )
    return send, entry


@pytest.mark.parametrize("typed", ["521501", "07400 521501"])
def test_support_finds_a_send_by_its_last_digits_or_national_number_and_reads_what_to_do(page, failed_send, typed):
    send, entry = failed_send
    log_in(page, "sam")
    clicks = 0
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sends").click()
    clicks += 1
    page.get_by_label("Recipient, vendor message id or request id").fill(typed)
    page.get_by_role("button", name="Search").click()
    clicks += 1
    page.wait_for_url(re.compile("q="))
    rows = page.locator("#send-rows tbody tr")
    rows.first.wait_for()
    assert rows.count() == 1 and "+447400521501" in rows.first.inner_text()
    rows.first.get_by_role("link").click()
    clicks += 1
    page.get_by_role("heading", name=re.compile(f"Send {send.pk}")).wait_for()
    happened = page.locator("section.what-happened")
    assert entry.resolution in happened.inner_text() and entry.description in happened.inner_text()
    assert clicks <= 3
    check_accessibility(page)
    # The code leads to its catalogue entry.
    happened.get_by_role("link", name="INVALID_TO", exact=True).click()
    page.wait_for_url(re.compile(r"/codes/\?kind=23telecom&code=INVALID_TO"))
    assert page.locator("#catalogue tbody tr").count() == 1


def test_the_drill_down_comes_into_view_with_the_focus(page, support):
    log_in(page, "sam")
    page.set_viewport_size({"width": 1280, "height": 700})
    page.goto("/errors/")
    page.get_by_role("link", name="INVALID_TO").first.click()
    heading = page.locator("#drilldown h2")
    heading.wait_for()
    page.wait_for_function("document.activeElement && document.activeElement.closest('#drilldown') !== null")
    box = heading.bounding_box()
    assert box is not None and 0 <= box["y"] < 700, box  # on screen, not 2,000 px below
    check_accessibility(page)


def test_choosing_a_preset_window_clears_custom_dates(page, support):
    log_in(page, "sam")
    page.goto("/errors/")
    page.get_by_label("From (custom)").fill("2026-11-01T00:00")
    assert page.get_by_label("Window").input_value() == "custom"  # at once, before Apply
    page.get_by_label("To (custom)").fill("2026-11-02T00:00")
    assert "start=" not in page.url  # one end alone sends nothing (it would be refused)
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile("start="))
    assert page.get_by_label("Window").input_value() == "custom"
    page.get_by_label("Window").select_option("7d")
    page.wait_for_url(lambda url: "window=7d" in url and "start=2026" not in url)
    assert page.get_by_label("From (custom)").input_value() == ""
    assert page.get_by_label("Window").input_value() == "7d"
