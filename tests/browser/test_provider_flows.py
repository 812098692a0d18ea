"""Provider pages in a browser: a manager edits a threshold, an admin rotates a key, support is refused."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from messaging.models import BalanceSnapshot, Credential, Provider
from tests.browser.conftest import PASSWORD, check_accessibility, log_in, screenshot
from tests.vault.conftest import roles, states, users  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OLD_KEY, NEW_KEY = "old_23telecom_live_key_A1b2", "new_23telecom_live_key_C3d4"


@pytest.fixture
def provider(simulator, make_provider):
    """A 23 Telecom account on the simulator, a week of falling balance readings, and a key the vendor knows."""
    provider = make_provider("23telecom", simulator.root, slug="t23-eu", key=OLD_KEY, currency="EUR")
    Provider.objects.filter(pk=provider.pk).update(name="23 Telecom EU")
    simulator.configure("23telecom", provider.slug, valid_keys=[OLD_KEY, NEW_KEY])
    now = timezone.now()
    BalanceSnapshot.objects.bulk_create(
        BalanceSnapshot(
            provider=provider,
            fetched_at=now - timedelta(hours=hours),
            amount=Decimal(400 - (168 - hours) * 1.5 + (120 if hours < 60 else 0)),
            currency="EUR",
        )
        for hours in range(168, -1, -6)
    )
    return Provider.objects.get(pk=provider.pk)


def test_a_manager_edits_a_threshold_and_sees_it_saved(page, users, provider):  # noqa: F811
    log_in(page, "manager1", PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Providers").click()
    page.get_by_role("heading", name="Providers").wait_for()
    check_accessibility(page)
    screenshot(page, "providers")

    page.get_by_role("link", name="23 Telecom EU").click()
    page.get_by_role("heading", name=re.compile("23 Telecom EU")).wait_for()
    assert page.locator("figure.line-chart polyline").count() == 1
    page.get_by_label("Low balance warning below").fill("250")
    page.get_by_role("button", name="Save thresholds").click()
    page.get_by_text(re.compile("Thresholds saved: Low balance warning below not checked → 250")).wait_for()
    assert page.url.endswith(f"/providers/{provider.slug}/")  # htmx swapped the form in place
    assert Provider.objects.get(pk=provider.pk).balance_warning == Decimal(250)

    # A refused value is explained next to its field and saves nothing.
    page.get_by_label("Critical balance below").fill("300")
    page.get_by_role("button", name="Save thresholds").click()
    page.get_by_text("Critical balance must be below the warning balance (250).").wait_for()
    assert Provider.objects.get(pk=provider.pk).balance_critical is None
    check_accessibility(page)
    screenshot(page, "provider_detail")
    page.set_viewport_size({"width": 800, "height": 1000})  # a tablet held upright
    page.get_by_role("link", name="Last 30 days").click()
    page.wait_for_url(re.compile(r"days=30"))
    page.get_by_text("last 30 days:").wait_for()
    screenshot(page, "provider_detail_tablet")


def test_an_admin_rotates_a_key_from_the_provider_page(page, users, provider):  # noqa: F811
    log_in(page, "keyadmin", PASSWORD)
    page.goto(reverse("messaging:provider_detail", args=[provider.slug]))
    assert page.locator("#keys-title + table .key-active").count() == 1
    screenshot(page, "provider_detail_admin")
    page.get_by_role("link", name="Manage and rotate keys").click()
    page.get_by_role("heading", name=re.compile("API keys of 23 Telecom EU")).wait_for()

    page.get_by_role("link", name="Add a new key").click()
    page.get_by_role("heading", name="Confirm your password").wait_for()
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    page.get_by_role("heading", name=re.compile("Add a new API key")).wait_for()
    page.get_by_label("API key").fill(NEW_KEY)
    page.get_by_label("Label").fill("rotation Q4")
    page.get_by_role("button", name="Save as pending").click()
    page.get_by_text(re.compile("saved as pending")).wait_for()

    pending = Credential.objects.get(provider=provider, state="pending")
    row = page.locator(f"#credential-{pending.pk}")
    row.get_by_role("button", name="Verify").click()  # a live balance call to the simulator
    page.locator(f"#credential-{pending.pk} .verify-ok").wait_for()
    page.locator(f"#credential-{pending.pk}").get_by_role("button", name="Activate").click()
    page.get_by_text(re.compile(r"Key …C3d4 is active")).wait_for()

    assert states(provider) == {"C3d4": "active", "A1b2": "retired"}
    assert page.locator(f"#credential-{pending.pk} .key-state").inner_text() == "Active"
    assert page.locator(".key-retired").inner_text() == "Retired (grace period)"
    screenshot(page, "credentials")
    check_accessibility(page)  # with the outcome message showing
    assert NEW_KEY not in page.content() and OLD_KEY not in page.content()


def test_support_is_refused_the_keys(page, users, provider):  # noqa: F811
    log_in(page, "support1", PASSWORD)
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="Providers").count() == 1
    assert nav.get_by_role("link", name="API keys").count() == 0
    # The session's own request, outside the page: a refused page load is a console error by design.
    response = page.request.get(reverse("messaging:credentials", args=[provider.slug]), max_redirects=0)
    assert response.status == 403
    page.goto(reverse("messaging:provider_detail", args=[provider.slug]))
    assert page.get_by_role("button", name="Save thresholds").count() == 0
    assert page.get_by_role("link", name="Manage and rotate keys").count() == 0
    assert page.get_by_text("Low balance warning below").count() == 1  # read-only
