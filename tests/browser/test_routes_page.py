"""The Routes pages in a browser: an admin creates a route with two providers and sees which one takes traffic."""

from __future__ import annotations

import re

import pytest

from messaging.models import AuditEntry, Provider, Route
from tests.browser.conftest import PASSWORD, check_accessibility, log_in, screenshot
from tests.conftest import store_key
from tests.vault.conftest import roles, users  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
OVERFLOW = "document.scrollingElement.scrollWidth - window.innerWidth"


@pytest.fixture
def providers(db):
    made = []
    for slug, name in [("t23-eu", "23 Telecom EU"), ("telnxo-us", "Telnxo US")]:
        provider = Provider.objects.create(name=name, slug=slug, kind="23telecom", currency="EUR")
        store_key(provider, f"sk_live_{slug}_0123456789")
        made.append(provider)
    return made


def test_an_admin_creates_a_route_and_sees_the_first_provider_take_traffic(page, users, providers):  # noqa: F811
    log_in(page, "keyadmin", PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Routes").click()
    page.get_by_role("heading", name="Routes", exact=True).wait_for()
    page.get_by_text("No routes yet.").wait_for()
    page.get_by_role("link", name="Add a route").click()
    page.get_by_role("heading", name="Add a route").wait_for()
    check_accessibility(page)

    page.get_by_label("Slug").fill("otp")
    page.get_by_label("Name").fill("One-time codes")
    rows = page.locator("fieldset.route-step")
    rows.nth(0).get_by_label("Provider").select_option(label="23 Telecom EU (t23-eu)")
    rows.nth(1).get_by_label("Provider").select_option(label="Telnxo US (telnxo-us)")
    rows.nth(1).get_by_label("Countries").fill("us, ca")
    # The same provider twice is refused next to its field, and nothing is saved.
    rows.nth(2).get_by_label("Provider").select_option(label="Telnxo US (telnxo-us)")
    page.get_by_role("button", name="Create route").click()
    page.get_by_text("Telnxo US is already in row 2: one row per provider.").wait_for()
    page.expected_console_errors.append(
        "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    )
    assert not Route.objects.exists()
    check_accessibility(page)
    page.locator("fieldset.route-step").nth(2).get_by_label("Provider").select_option(value="")
    page.get_by_role("button", name="Create route").click()

    page.wait_for_url(re.compile(r"/routes/#route-otp$"))
    page.get_by_text("Route otp created.").wait_for()
    card = page.locator("#route-otp")
    first, second = card.locator("tbody tr").nth(0), card.locator("tbody tr").nth(1)
    assert "23 Telecom EU" in first.inner_text() and first.locator(".step-state").inner_text() == "takes traffic now"
    assert second.locator(".step-state").inner_text() == "standby: a provider above takes its countries' traffic first"
    assert AuditEntry.objects.filter(action="route.create").count() == 1
    check_accessibility(page)
    screenshot(page, "routes")

    page.set_viewport_size(PHONE)
    for url in ("/routes/", "/routes/otp/edit/"):
        page.goto(url)
        assert page.evaluate(OVERFLOW) <= 0, f"{url} is wider than a phone"
    screenshot(page, "route_form_phone")
