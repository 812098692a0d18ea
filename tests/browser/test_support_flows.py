"""What support staff do: find a send, read an error breakdown, drill down, export, decode."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser.conftest import check_accessibility, log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_filter_errors_drill_down_and_export(page, support):
    log_in(page, "sam")
    page.goto("/errors/")
    page.get_by_role("checkbox", name="23 EU").check()
    page.wait_for_url(re.compile(r"provider=t23"))  # filters live in the URL
    page.get_by_role("link", name="INVALID_TO").click()
    drilldown = page.locator("#drilldown")
    drilldown.get_by_text("What to do").wait_for()
    assert drilldown.locator("tbody tr").count() == 8
    check_accessibility(page)
    screenshot(page, "errors")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    content = Path(download.value.path()).read_text()
    assert content.splitlines()[0] == "provider,error_code,category,errors,sends,error_rate"
    # The back button returns to the unfiltered page.
    page.go_back()
    assert "provider=t23" not in page.url


def test_search_a_send_and_open_it(page, support, traffic):
    from messaging.models import Send

    target = Send.objects.filter(provider=traffic["apac"]).first()
    log_in(page, "sam")
    page.goto("/sends/")
    page.get_by_label("Recipient, vendor message id or request id").fill(target.vendor_message_id)
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile("q="))
    rows = page.locator("#send-rows tbody tr")
    assert rows.count() == 1
    check_accessibility(page)
    screenshot(page, "sends")
    rows.first.get_by_role("link").click()
    page.get_by_role("heading", name=re.compile(f"Send {target.pk}")).wait_for()
    check_accessibility(page)


def test_decode_a_pasted_vendor_response(page, support):
    log_in(page, "sam")
    page.goto("/codes/")
    page.get_by_role("combobox", name="Vendor", exact=True).first.select_option("23telecom")
    page.get_by_label("HTTP status").fill("402")
    page.get_by_label("Response body").fill(
        '{"status": false, "error_code": "INSUFFICIENT_BALANCE", "description": "x"}'
    )
    page.get_by_role("button", name="Decode").click()
    page.locator("#decoded").get_by_text("INSUFFICIENT_BALANCE").wait_for()
    assert "balance" in page.locator("#decoded").inner_text()
    check_accessibility(page)
    screenshot(page, "codes")


def test_a_bad_filter_says_what_is_wrong_in_place(page, support):
    # The server answers 400 with the reason; htmx is configured to swap it in (base.html).
    page.expected_console_errors = ["Failed to load resource: the server responded with a status of 400 (Bad Request)"]
    log_in(page, "sam")
    page.goto("/errors/")
    page.get_by_label("Window").select_option("custom")
    page.locator("#results").get_by_role("alert").get_by_text("a custom window needs a start").wait_for()
    assert "window=custom" in page.url
