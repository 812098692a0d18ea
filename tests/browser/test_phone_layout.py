"""A phone held upright (390 x 844): the menu folds away, no page scrolls sideways, tables keep their key columns."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from messaging.models import Alert, Provider, Send
from tests.browser.conftest import PASSWORD, check_accessibility, log_in, screenshot
from tests.vault.conftest import roles, users  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
OVERFLOW = "document.scrollingElement.scrollWidth - window.innerWidth"


@pytest.fixture
def data(traffic, users):  # noqa: F811
    """The ``traffic`` numbers, a long provider name, an open alert, and keys for the admin's pages."""
    from tests.conftest import store_key

    eu = traffic["eu"]
    Provider.objects.filter(pk=eu.pk).update(
        name="23 Telecom Europe (marketing and one-time passwords)", status="ok", status_detail="balance 420.00 EUR"
    )
    Provider.objects.filter(pk=traffic["apac"].pk).update(status="credential_failed", status_detail="key refused")
    store_key(eu, "sk_live_phone_layout_key_Q1w2")
    Alert.objects.create(
        provider=eu,
        kind=Alert.Kind.LOW_BALANCE,
        severity=Alert.Severity.CRITICAL,
        dedupe_key="low:t23",
        title="23 Telecom Europe: balance below 500 EUR, sending may stop within the day",
        opened_at=timezone.now(),
        last_seen_at=timezone.now(),
    )
    return traffic


def open_menu_and_check(page) -> None:
    """The nav is folded behind "Menu" and opens with it (and Escape closes it again)."""
    nav = page.get_by_role("navigation", name="Main")
    toggle = page.get_by_role("button", name="Menu")
    assert toggle.get_attribute("aria-expanded") == "false" and toggle.get_attribute("aria-controls") == "topbar-menu"
    assert not nav.is_visible()
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    assert nav.get_by_role("link", name="Alerts").is_visible()
    page.keyboard.press("Escape")
    assert toggle.get_attribute("aria-expanded") == "false" and not nav.is_visible()


PAGES = [
    ("overview", "/", "Overview"),
    ("errors", "/errors/", "Errors"),
    ("sends", "/sends/", "Sends"),
    ("alerts", "/alerts/", "Alerts"),
    ("providers", "/providers/", "Providers"),
    ("api-keys", "/credentials/", "API keys"),
]


def test_every_main_page_fits_a_phone_and_its_menu_opens(page, data):
    log_in(page, "keyadmin", PASSWORD)  # an Admin sees every page, API keys included
    page.set_viewport_size(PHONE)
    for name, path, heading in PAGES:
        page.goto(path)
        page.get_by_role("heading", name=heading, exact=True).first.wait_for()
        assert page.evaluate(OVERFLOW) <= 0, f"{path} scrolls sideways at 390 px"
        open_menu_and_check(page)
        check_accessibility(page)
        screenshot(page, f"phone-{name}")

    # The tables scroll inside their wrapper; the key columns are on screen before any scrolling.
    page.goto("/errors/")
    first_count = page.locator("td[data-figure=errors]").first
    assert first_count.bounding_box()["x"] + first_count.bounding_box()["width"] <= PHONE["width"]
    scroller = page.locator(".table-scroll").first
    assert scroller.evaluate("el => el.scrollWidth > el.clientWidth")  # the rest is a sideways scroll away
    provider_cell = page.locator(".table-scroll tbody tr td").first
    x_before = provider_cell.bounding_box()["x"]
    scroller.evaluate("el => { el.scrollLeft = 200; }")
    assert provider_cell.bounding_box()["x"] == x_before  # the first column stays put

    page.goto("/providers/")
    status = page.locator(".table-scroll .status").first
    assert status.bounding_box()["x"] + status.bounding_box()["width"] <= PHONE["width"]
    page.goto("/alerts/")
    state = page.locator(".table-scroll .alert-state").first
    assert state.bounding_box()["x"] + state.bounding_box()["width"] <= PHONE["width"]

    # Overview: a long name and its badge; the badge stays on one line.
    page.goto("/")
    badge = page.locator(f"#card-{data['eu'].slug} .status")
    assert badge.evaluate("el => el.getClientRects().length") == 1
    assert badge.bounding_box()["height"] < 30


def test_detail_pages_fit_a_phone_too(page, data):
    log_in(page, "keyadmin", PASSWORD)
    page.set_viewport_size(PHONE)
    send = Send.objects.filter(provider=data["eu"]).first()
    for path in [
        reverse("messaging:provider_detail", args=[data["eu"].slug]),
        reverse("messaging:send_detail", args=[send.pk]),
        reverse("messaging:codes"),
        reverse("messaging:credentials", args=[data["eu"].slug]),
        reverse("messaging:provider_create"),
    ]:
        page.goto(path)
        assert page.evaluate(OVERFLOW) <= 0, f"{path} scrolls sideways at 390 px"


def test_a_wide_screen_shows_the_menu_and_no_button(page, data):
    log_in(page, "keyadmin", PASSWORD)
    assert page.get_by_role("navigation", name="Main").get_by_role("link", name="Alerts").is_visible()
    assert not page.get_by_role("button", name="Menu").is_visible()


def test_without_javascript_the_menu_stays_open_on_a_phone(browser, live_server, data):
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, java_script_enabled=False)
    try:
        page = context.new_page()
        log_in(page, "keyadmin", PASSWORD)
        assert page.get_by_role("navigation", name="Main").get_by_role("link", name="Alerts").is_visible()
        assert not page.get_by_role("button", name="Menu").is_visible()
    finally:
        context.close()
