"""A breakdown with many codes shows the ones with trends, says so, and shows the rest on request."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import check_accessibility, log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_long_tail_of_codes_is_one_click_away(page, support, many_codes):
    log_in(page, "sam")
    page.goto("/errors/?window=24h")
    rows = page.locator("#results tbody tr")
    assert rows.count() == 50
    note = page.locator(".more-rows")
    assert "13 with fewer errors are left out here (the CSV has every row)" in note.inner_text()
    check_accessibility(page)
    screenshot(page, "errors-top-codes")
    note.get_by_role("link", name="Show all 63").click()
    page.wait_for_url(re.compile(r"rows=all"))
    page.get_by_role("link", name="INVALID_TO").wait_for()
    assert rows.count() == 63 and page.locator(".more-rows").count() == 0
    # Changing a filter goes back to the codes with the most errors.
    page.get_by_label("Window").select_option("30d")
    page.wait_for_url(re.compile(r"window=30d"))
    page.locator(".more-rows").wait_for()
    assert rows.count() == 50
