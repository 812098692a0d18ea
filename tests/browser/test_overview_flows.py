"""What an account manager does on the Overview: read the cards and alerts, poll a provider now, watch it refresh."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from messaging import background, tasks
from messaging.models import Alert, Provider
from messaging.vault.roles import ACCOUNT_MANAGER, ensure_roles
from tests.alerts.conftest import history
from tests.browser.conftest import PASSWORD, check_accessibility, log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def manager(django_user_model):
    ensure_roles()
    user = django_user_model.objects.create_user("maria", password=PASSWORD)
    user.groups.add(Group.objects.get(name=ACCOUNT_MANAGER))
    return user


@pytest.fixture
def fleet(simulator, make_provider):
    eu = make_provider("23telecom", simulator.root, slug="eu-main", currency="EUR")
    Provider.objects.filter(pk=eu.pk).update(name="23 Telecom EU")
    history(eu, [(60, 900), (40, 700), (20, 500), (3, 320)])
    us = make_provider("telnxo", simulator.root, slug="us-plan")
    Provider.objects.filter(pk=us.pk).update(name="Telnxo US")
    history(us, [(30, 1200), (10, 2600), (2, 3900)], limit=5000)
    now = timezone.now()
    Alert.objects.create(
        provider=eu,
        kind=Alert.Kind.LOW_BALANCE,
        severity=Alert.Severity.CRITICAL,
        dedupe_key="low:eu-main",
        title="23 Telecom EU balance below 400 EUR",
        opened_at=now - timedelta(hours=2),
        last_seen_at=now,
    )
    return {"eu": eu, "us": us}


def test_poll_now_and_the_self_refresh_update_the_cards_without_a_reload(page, manager, fleet, monkeypatch):
    queued = []  # Poll now hands the poll to a worker; this test is the worker
    monkeypatch.setattr(background, "start", lambda name, args=(), **kw: queued.append((name, list(args))))
    log_in(page, "maria")
    page.goto("/")
    card = page.locator("#card-eu-main")
    card.get_by_role("heading", name="23 Telecom EU").wait_for()
    assert page.locator(".provider-card").count() == 2
    assert "balance below 400 EUR" in page.locator(".overview-alerts").inner_text()
    assert page.evaluate("window.sendwatch.refreshSeconds") == 30
    before = card.locator(".last-checked time").get_attribute("datetime")
    page.evaluate("window.noFullReload = 'still here'")

    card.get_by_role("button", name="Poll now 23 Telecom EU").click()
    page.locator("#card-eu-main .poll-pending", has_text="Checking…").wait_for()
    assert queued == [("messaging.tasks.poll_provider", [fleet["eu"].pk])]
    # The self-refresh keeps a waiting card waiting: it sends the card's poll token along.
    with page.expect_response(lambda response: "poll_pending=eu-main" in response.url) as refreshed:
        page.evaluate("document.body.dispatchEvent(new CustomEvent('sendwatch:refresh'))")
    assert "Checking…" in refreshed.value.text()
    tasks.poll_provider(fleet["eu"].pk)
    result = page.locator("#card-eu-main .poll-result", has_text="23 Telecom EU:")
    result.wait_for()  # the card asks every 2 s
    assert page.locator("#card-eu-main .poll-pending").count() == 0
    assert "23 Telecom EU:" in result.inner_text() and "status" in result.inner_text()
    assert page.locator("#card-eu-main .last-checked time").get_attribute("datetime") != before
    assert page.evaluate("window.noFullReload") == "still here"
    check_accessibility(page)
    screenshot(page, "overview")

    # The live region reloads itself on the event app.js sends every 30 s (sent here to skip the wait).
    Provider.objects.filter(pk=fleet["us"].pk).update(status="unreachable", status_detail="the vendor did not answer")
    page.evaluate("document.body.dispatchEvent(new CustomEvent('sendwatch:refresh'))")
    page.locator("#card-us-plan").get_by_text("the vendor did not answer").wait_for()
    assert page.locator("#card-us-plan .status").inner_text() == "Unreachable"
    assert page.evaluate("window.noFullReload") == "still here"

    page.set_viewport_size({"width": 820, "height": 1180})  # a tablet, upright
    screenshot(page, "overview-tablet")


def test_times_follow_the_browser_time_zone(browser, live_server, manager, fleet):
    context = browser.new_context(base_url=live_server.url, timezone_id="Asia/Tokyo")
    page = context.new_page()
    try:
        log_in(page, "maria")
        page.goto("/")
        assert any(c["name"] == "sendwatch_tz" and c["value"] == "Asia/Tokyo" for c in context.cookies())
        page.reload()  # app.js sets the cookie; the next page is rendered in the zone
        assert "Times are shown in Asia/Tokyo." in page.locator(".site-footer").inner_text()
        stamp = page.locator("#card-eu-main .last-checked time").get_attribute("datetime")
        assert re.search(r"\+09:00$", stamp)
    finally:
        context.close()
