"""The demo as bin/run starts it: the Overview before and after the worker's first poll rounds tells one story.

bin/run seeds the demo against the simulator mounted in the web server (/sim/), creates the demo logins,
then starts the worker, whose first rounds poll every provider and check for error spikes. Here the live
server plays the web server (with /sim/ routed) and the test plays the worker, calling its task functions.
The history is smaller than bin/run's (3,000 sends over 3 days) to keep the test quick; the story is the same.
"""

from __future__ import annotations

import importlib
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import clear_url_caches

from messaging import tasks
from messaging.alerts.runway import month_start, runway_for
from messaging.demo import simulator as mount
from messaging.models import Alert, Provider, ProviderStatus
from tests.browser.conftest import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
HOUR = timedelta(hours=1)
NUMBER = re.compile(r"-?[\d,]+(?:\.\d+)?")


@pytest.fixture
def demo(live_server, settings, tmp_path):
    """bin/run's start: the simulator routed, the history seeded against it, the demo logins made."""
    enabled = settings.SENDWATCH_SIMULATOR_ENABLED
    settings.SENDWATCH_SIMULATOR_ENABLED = True
    settings.VAR_DIR = tmp_path  # demo_users keeps its generated password there, as in var/
    importlib.reload(importlib.import_module("config.urls"))
    clear_url_caches()
    mount.forget_demo_state()
    call_command(
        "seed_demo", if_empty=True, sends=3000, days=3, no_progress=True, simulator_url=f"{live_server.url}/sim"
    )
    call_command("demo_users", verbosity=0)
    yield (tmp_path / "demo-password").read_text().strip()
    mount.forget_demo_state()
    settings.SENDWATCH_SIMULATOR_ENABLED = enabled
    importlib.reload(importlib.import_module("config.urls"))
    clear_url_caches()


def read_cards(page) -> dict[str, dict]:
    """Each card's status, balance (or plan usage) and "last checked" as the page shows them."""
    cards = {}
    for card in page.locator(".provider-card").all():
        slug = card.get_attribute("id").removeprefix("card-")
        facts = dict(zip(card.locator("dt").all_inner_texts(), card.locator("dd").all_inner_texts(), strict=True))
        figure = facts.get("Balance") or facts.get("Plan usage") or ""
        cards[slug] = {
            "status": card.locator(".provider-card-head .status").inner_text(),
            "figure": Decimal(NUMBER.search(figure).group().replace(",", "")),
            "last_checked": card.locator(".last-checked").inner_text(),
        }
    return cards


def read_alerts(page) -> list[tuple[str, str, bool]]:
    """The open alerts listed: (link id, severity, acknowledged); their titles carry the latest figures."""
    items = page.locator(".overview-alerts li.alert-item").all()
    return sorted(
        (
            item.locator("a").get_attribute("id"),
            item.locator(".severity").inner_text(),
            "acknowledged" in item.inner_text(),
        )
        for item in items
    )


def test_the_overview_tells_the_same_story_before_and_after_the_first_poll_rounds(page, demo):
    log_in(page, "manager", demo)
    page.goto("/")
    page.locator(".provider-card").first.wait_for()
    before = read_cards(page)
    alerts_before = read_alerts(page)
    screenshot(page, "demo_overview_at_start")
    providers = {p.slug: p for p in Provider.objects.all()}
    assert set(before) == set(providers)
    for card in before.values():
        # Checked when the history's last reading was taken, with the status that reading gave.
        assert ProviderStatus.UNKNOWN.label not in card["status"], card
        assert "never" not in card["last_checked"], card
    assert before["telnxo-in"]["status"] == ProviderStatus.CREDENTIAL_FAILED.label
    assert alerts_before, "the open refused-key alert is listed"
    last = {slug: p.balance_snapshots.filter(ok=True).latest("fetched_at") for slug, p in providers.items()}
    rates = {slug: runway_for(p, last[slug].fetched_at).burn_per_hour or 0.0 for slug, p in providers.items()}
    alerts = set(Alert.objects.values_list("pk", "state", "severity"))

    for _ in range(2):  # the worker's first two rounds
        for provider in providers.values():
            tasks.poll_provider(provider.pk)
        tasks.evaluate_spikes()

    page.reload()
    page.locator(".provider-card").first.wait_for()
    after = read_cards(page)
    screenshot(page, "demo_overview_after_polls")
    new_month = {slug: month_start(last[slug].fetched_at) < month_start(Provider.objects.get(slug=slug).last_polled_at)
                 for slug in providers}  # fmt: skip
    for slug, provider in providers.items():
        assert after[slug]["status"] == before[slug]["status"], slug
        assert after[slug]["last_checked"] != before[slug]["last_checked"], slug  # it was polled
        elapsed = (Provider.objects.get(pk=provider.pk).last_polled_at - last[slug].fetched_at) / HOUR
        explained = Decimal(str(rates[slug] * elapsed)) + Decimal("0.01") + (1 if provider.is_plan_based else 0)
        moved = before[slug]["figure"] - after[slug]["figure"]
        if provider.is_plan_based:
            moved = -moved  # plan usage counts up
            if new_month[slug]:
                continue  # the plan period turned over between the reading and the poll
        assert Decimal(0) <= moved <= explained, (slug, before[slug], after[slug], rates[slug], elapsed)
    assert read_alerts(page) == alerts_before
    assert set(Alert.objects.values_list("pk", "state", "severity")) == alerts
