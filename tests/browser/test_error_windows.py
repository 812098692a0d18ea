"""The error breakdown says which whole buckets its numbers cover, and the window switch keeps them exact."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import check_accessibility, log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_summary_names_the_buckets_it_covers(page, support):
    log_in(page, "sam")
    page.goto("/errors/?window=24h")
    summary = page.locator(".summary")
    assert "17 errors in 170 sends" in summary.inner_text()
    assert "whole hour buckets" in summary.inner_text()
    page.get_by_label("Window").select_option("30d")
    page.wait_for_url(re.compile(r"window=30d"))
    summary.get_by_text("whole UTC-day buckets").wait_for()
    # 30 days reach the event 30 hours ago too: 4 more errors, 80 more sends.
    assert "21 errors in 250 sends" in summary.inner_text()
    check_accessibility(page)
    screenshot(page, "errors-30d-buckets")
