"""An admin rotates a key, then rolls back: asked first on a page of its own, nothing revoked until confirmed."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from messaging.models import Credential, Provider
from tests.browser.conftest import PASSWORD, check_accessibility, log_in, screenshot
from tests.vault.conftest import roles, states, users  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OLD_KEY, NEW_KEY = "old_23telecom_live_key_R0ll", "new_23telecom_live_key_B4ck"


@pytest.fixture
def provider(simulator, make_provider):
    """A 23 Telecom account on the simulator that knows both keys."""
    provider = make_provider("23telecom", simulator.root, slug="t23-keys", key=OLD_KEY, currency="EUR")
    Provider.objects.filter(pk=provider.pk).update(name="23 Telecom Keys")
    simulator.configure("23telecom", provider.slug, valid_keys=[OLD_KEY, NEW_KEY])
    return Provider.objects.get(pk=provider.pk)


def test_an_admin_rotates_then_confirms_a_roll_back(page, users, provider):  # noqa: F811
    log_in(page, "keyadmin", PASSWORD)
    page.goto(reverse("messaging:credentials", args=[provider.slug]))
    page.get_by_role("link", name="Add a new key").click()
    page.get_by_role("heading", name="Confirm your password").wait_for()
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    page.get_by_label("API key").fill(NEW_KEY)
    page.get_by_label("Label").fill("rotation Q1")
    page.get_by_role("button", name="Save as pending").click()
    page.get_by_text(re.compile("saved as pending")).wait_for()

    pending = Credential.objects.get(provider=provider, state="pending")
    page.locator(f"#credential-{pending.pk}").get_by_role("button", name="Verify").click()  # live, to the simulator
    page.locator(f"#credential-{pending.pk} .verify-ok").wait_for()
    page.locator(f"#credential-{pending.pk}").get_by_role("button", name="Activate").click()
    page.get_by_text(re.compile(r"Key …B4ck is active")).wait_for()
    assert states(provider) == {"B4ck": "active", "R0ll": "retired"}
    # The retired badge stays on one line, and every state is explained in words.
    badge = page.locator("#credential-{} .key-state".format(Credential.objects.get(hint="R0ll").pk))
    assert badge.inner_text() == "Retired (grace period)" and badge.evaluate("el => el.getClientRects().length") == 1
    assert page.get_by_role("heading", name="What the states mean").is_visible()

    # Roll back asks first, on its own page: nothing has changed yet.
    page.get_by_role("link", name=re.compile("Roll back to the previous key")).click()
    page.get_by_role("heading", name="Roll back 23 Telecom Keys to the previous key?").wait_for()
    assert "revoked at once" in page.locator("main").inner_text()
    assert states(provider) == {"B4ck": "active", "R0ll": "retired"}
    check_accessibility(page)
    screenshot(page, "keys-rollback-confirm")

    # Cancel goes back and still changes nothing.
    page.get_by_role("link", name="Cancel").click()
    page.get_by_role("heading", name=re.compile("API keys of 23 Telecom Keys")).wait_for()
    assert states(provider) == {"B4ck": "active", "R0ll": "retired"}

    page.get_by_role("link", name=re.compile("Roll back to the previous key")).click()
    page.get_by_role("button", name="Roll back to …R0ll").click()
    page.get_by_text(re.compile(r"Rolled back: key …R0ll is active again")).wait_for()
    assert states(provider) == {"R0ll": "active", "B4ck": "revoked"}
    old = Credential.objects.get(provider=provider, hint="R0ll")
    assert page.locator(f"#credential-{old.pk} .key-state").inner_text() == "Active"
    check_accessibility(page)
    screenshot(page, "keys-rolled-back")


def test_revoke_asks_first_on_a_phone(page, users, provider):  # noqa: F811
    log_in(page, "keyadmin", PASSWORD)
    page.set_viewport_size({"width": 390, "height": 844})
    active = Credential.objects.get(provider=provider, state="active")
    page.goto(reverse("messaging:credentials", args=[provider.slug]))
    assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")
    page.locator(f"#credential-{active.pk}").get_by_role("link", name="Emergency revoke…").click()
    page.get_by_role("heading", name="Confirm your password").wait_for()
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    page.get_by_role("heading", name=re.compile("Revoke key …R0ll")).wait_for()
    assert Credential.objects.get(pk=active.pk).state == "active"  # the page only asks
    assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")
    check_accessibility(page)
    screenshot(page, "keys-revoke-confirm-phone")
    page.get_by_label(re.compile("Type the key's last four characters")).fill("R0ll")
    page.get_by_role("button", name="Revoke key …R0ll").click()
    page.get_by_text("Key …R0ll is revoked.").wait_for()
    assert Credential.objects.get(pk=active.pk).state == "revoked"
