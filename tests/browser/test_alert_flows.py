"""What an account manager does with alerts: find one, open it, acknowledge it with a note."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group

from messaging.alerts import lifecycle as alerts
from messaging.models import Alert, AlertEvent, Notification, Provider, WebhookEndpoint
from messaging.vault.roles import ACCOUNT_MANAGER, ensure_roles
from tests.browser.conftest import PASSWORD, check_accessibility, log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def manager(django_user_model):
    ensure_roles()
    user = django_user_model.objects.create_user("morgan", "morgan@example.com", PASSWORD)
    user.groups.add(Group.objects.get(name=ACCOUNT_MANAGER))
    return user


@pytest.fixture
def spike(db):
    eu = Provider.objects.create(name="23 Telecom EU", slug="t23", kind="23telecom", currency="EUR")
    apac = Provider.objects.create(name="8x8 APAC", slug="e8", kind="8x8")
    alerts.raise_condition(
        apac,
        Alert.Kind.LOW_BALANCE,
        Alert.Severity.CRITICAL,
        "8x8 APAC: Balance critical — balance 4.10 USD below critical 5.00",
        {"reasons": ["balance 4.10 USD below critical 5.00"], "amount": "4.10", "currency": "USD"},
    )
    WebhookEndpoint.objects.create(
        url="https://hooks.example.com/services/T1/B2/secret",
        secret_ciphertext="x",
        secret_key_id="k1",
        secret_hint="abcd",
    )
    alert = alerts.raise_condition(
        eu, Alert.Kind.ERROR_SPIKE, Alert.Severity.WARNING,
        "23 Telecom EU: error spike 14.0% of 100 sends in 15 min (top: INVALID_TO x9)",
        {"rate_percent": 14.0, "errors": 14, "sends": 100, "window_minutes": 15, "ceiling_percent": 10.0,
         "baseline_percent": 1.2, "reason": "above the 10% ceiling",
         "top_codes": [{"code": "INVALID_TO", "count": 9}, {"code": "RATE_LIMIT_EXCEEDED", "count": 5}]},
    )  # fmt: skip
    Notification.objects.filter(alert_event__alert=alert).update(
        state="failed", attempts=6, last_error="HTTP 503 from the webhook"
    )
    return alert


def test_acknowledge_an_alert_with_a_note(page, manager, spike):
    log_in(page, "morgan")
    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Alerts").click()
    page.get_by_role("heading", name="Alerts").wait_for()
    rows = page.locator("#alert-rows tbody tr")
    assert rows.count() == 2
    assert "Balance critical" in rows.first.inner_text()  # critical first
    page.get_by_role("navigation", name="Alert state").get_by_role("link", name=re.compile("^All")).click()
    page.wait_for_url(re.compile(r"state=all"))
    page.get_by_label("Kind").select_option("error_spike")
    page.wait_for_url(re.compile(r"state=all.*kind=error_spike|kind=error_spike.*state=all"))  # the tab is kept
    page.wait_for_function("document.querySelectorAll('#alert-rows tbody tr').length === 1")
    check_accessibility(page)
    screenshot(page, "alerts")

    page.get_by_role("link", name=re.compile("error spike 14.0%")).click()
    page.get_by_role("heading", name="History").wait_for()
    assert "HTTP 503 from the webhook" in page.locator("#alert-lifecycle").inner_text()
    page.evaluate("window.sendwatchNoReload = true")  # gone if the page reloads
    page.get_by_label("Acknowledgement note (optional)").fill("Vendor confirmed a routing issue; watching")
    page.get_by_role("button", name="Acknowledge").click()
    lifecycle = page.locator("#alert-lifecycle")
    lifecycle.get_by_text("Alert acknowledged.").wait_for()
    assert page.evaluate("window.sendwatchNoReload") is True  # htmx swapped the fragment, no full reload
    assert "Acknowledged" in lifecycle.get_by_role("heading", name=re.compile("State")).inner_text()
    history = lifecycle.locator("ol.timeline").inner_text()
    assert "Vendor confirmed a routing issue; watching" in history and "by morgan" in history
    assert lifecycle.get_by_role("button", name="Acknowledge").count() == 0
    assert lifecycle.get_by_role("button", name="Resolve").count() == 1
    event = AlertEvent.objects.get(alert=spike, kind="acknowledged")
    assert (event.actor, event.note) == (manager, "Vendor confirmed a routing issue; watching")
    check_accessibility(page)
    screenshot(page, "alert_detail")


def test_acknowledging_an_alert_resolved_meanwhile_shows_why(browser, live_server, manager, spike):
    # Its own page: the shared one fails on any console error, and Chromium logs the expected 400 as one.
    context = browser.new_context(base_url=live_server.url, viewport={"width": 820, "height": 1000})
    page = context.new_page()
    console_errors = []
    page.on("console", lambda message: message.type == "error" and console_errors.append(message.text))
    page.on("pageerror", lambda error: console_errors.append(str(error)))
    log_in(page, "morgan")
    page.goto(f"/alerts/{spike.pk}/")
    alerts.resolve(spike, None, "condition cleared")  # by the poller, while the page was open
    page.get_by_role("button", name="Acknowledge").click()
    lifecycle = page.locator("#alert-lifecycle")
    lifecycle.get_by_role("alert").get_by_text("This alert is already resolved.").wait_for()
    assert "Resolved" in lifecycle.get_by_role("heading", name=re.compile("State")).inner_text()
    assert lifecycle.get_by_role("button").count() == 0
    screenshot(page, "alert_detail_tablet")
    context.close()
    assert console_errors == ["Failed to load resource: the server responded with a status of 400 (Bad Request)"]
