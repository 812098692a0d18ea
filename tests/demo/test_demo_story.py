"""The demo continues its own history: what the first live checks find is what the seeded data already says.

The demo is seeded against a simulator on an ephemeral port (over real HTTP), whose accounts are then
carried on from the history as the /sim/ mount does at its first request; a live poll and a spike check
follow, as the worker's first rounds would.
"""

from __future__ import annotations

import importlib
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import clear_url_caches
from django.utils import timezone

from messaging.alerts import balances, spikes
from messaging.alerts.runway import month_start, runway_for
from messaging.dashboard.overview_data import provider_cards
from messaging.demo import alerts as demo_alerts
from messaging.demo import generator as demo
from messaging.demo import simulator as mount
from messaging.demo import vendor_state
from messaging.models import (
    Alert,
    BalanceSnapshot,
    ErrorEvent,
    Provider,
    ProviderStatus,
    Send,
    SendAttempt,
)
from providers.simulator import SimulatorState, start_in_thread

pytestmark = pytest.mark.django_db
HOUR = timedelta(hours=1)


@pytest.fixture(scope="module")
def vendor():
    """The simulator, on its own state so the test can carry the demo's accounts into it."""
    state = SimulatorState()
    server, root = start_in_thread(state=state)
    yield state, root
    server.shutdown()


@pytest.fixture
def story(vendor):
    state, root = vendor
    state.reset()
    call_command("seed_demo", sends=3000, days=3, no_progress=True, simulator_url=root)
    vendor_state.carry_on(state)
    return {p.slug: p for p in Provider.objects.all()}


def last_good(provider: Provider) -> BalanceSnapshot:
    return provider.balance_snapshots.filter(ok=True, unavailable=False).latest("fetched_at")


def used_since(last: BalanceSnapshot) -> int:
    """Plan usage counted from ``last`` on: its own, or none when a new month (a new plan period) began since."""
    return 0 if month_start(timezone.now()) > last.fetched_at else last.used


def hours_since(moment) -> float:
    return (timezone.now() - moment) / HOUR


def burn(provider: Provider, at) -> float:
    """The burn rate the generated history shows at ``at``: the live runway's own."""
    return runway_for(provider, at).burn_per_hour or 0.0


def test_the_simulator_carries_each_account_on_from_its_last_reading(story, vendor):
    state, _ = vendor
    for provider in story.values():
        last = last_good(provider)
        config = state.account(provider.kind, provider.slug).config
        drained = burn(provider, last.fetched_at) * hours_since(last.fetched_at)
        if provider.is_plan_based:
            assert config.quota_limit == last.limit
            assert used_since(last) <= config.quota_used <= used_since(last) + drained + 1
        else:
            assert config.currency == last.currency == provider.currency
            assert float(config.balance) == pytest.approx(float(last.amount) - drained, abs=0.01)
            assert config.drain_per_hour > 0
    # The key the vendor refused at the end of the history is still refused.
    telnxo = story["telnxo-in"]
    account = next(a for a in demo.DEMO_ACCOUNTS if a.slug == telnxo.slug)
    assert state.account("telnxo", telnxo.slug).config.expired_keys == [demo.demo_api_key(account)]
    assert telnxo.balance_snapshots.latest("fetched_at").error_code == demo.DEMO_KEY_EXPIRY.code


def test_the_first_live_poll_lands_on_the_line_and_opens_resolves_or_flips_nothing(story):
    alerts_before = set(Alert.objects.values_list("pk", "state", "severity"))
    statuses_before = dict(Provider.objects.values_list("slug", "status"))
    assert alerts_before and ProviderStatus.UNKNOWN not in statuses_before.values()
    for slug, provider in story.items():
        last = last_good(provider)
        snapshot = balances.poll_provider(provider)
        rate = burn(provider, last.fetched_at)
        elapsed = (snapshot.fetched_at - last.fetched_at) / HOUR
        if slug == demo.DEMO_KEY_EXPIRY.slug:
            assert (snapshot.ok, snapshot.error_code) == (False, demo.DEMO_KEY_EXPIRY.code)
        elif provider.is_plan_based:
            assert (snapshot.limit, snapshot.currency) == (last.limit, last.currency)
            assert 0 <= snapshot.used - used_since(last) <= rate * elapsed + 1
        else:
            assert snapshot.currency == last.currency
            moved = last.amount - snapshot.amount
            assert Decimal(0) <= moved <= Decimal(str(rate * elapsed)) + Decimal("0.01")
            # On the line the chart draws: the history's own burn rate since its last reading.
            assert float(snapshot.amount) == pytest.approx(float(last.amount) - rate * elapsed, abs=0.01)
    report = spikes.evaluate_spikes()
    assert (report.raised, report.cleared) == ([], [])
    assert set(Alert.objects.values_list("pk", "state", "severity")) == alerts_before
    assert dict(Provider.objects.values_list("slug", "status")) == statuses_before


def test_every_seeded_alert_is_evidenced_by_rows_that_exist(story):
    alerts = list(Alert.objects.select_related("provider"))
    assert {a.kind for a in alerts} >= {Alert.Kind.ERROR_SPIKE, Alert.Kind.CREDENTIAL_FAILED}
    for alert in alerts:
        details, provider = alert.details, alert.provider
        if alert.kind == Alert.Kind.ERROR_SPIKE:
            start, end = spikes.evidence_window(alert)
            sends = Send.objects.filter(provider=provider, created_at__gte=start, created_at__lt=end)
            errors = ErrorEvent.objects.filter(
                provider=provider, occurred_at__gte=start, occurred_at__lt=end, source__in=spikes.SEND_SOURCES
            )
            codes = Counter(errors.values_list("error_code", flat=True))
            top = sorted(codes.items(), key=lambda item: (-item[1], item[0]))[: spikes.TOP_CODES]
            assert (details["sends"], details["errors"]) == (sends.count(), errors.count())
            assert [(c["code"], c["count"]) for c in details["top_codes"]] == top
            assert details["sends"] >= provider.spike_min_sends
            assert details["rate_percent"] == round(100 * errors.count() / sends.count(), 2)
        elif alert.kind == Alert.Kind.CREDENTIAL_FAILED:
            refused = ErrorEvent.objects.filter(provider=provider, error_code=details["error_code"])
            assert refused.filter(occurred_at__lte=alert.opened_at).exists()
            assert refused.filter(occurred_at=alert.last_seen_at).exists()
        elif "snapshot_id" in details:
            snapshot = BalanceSnapshot.objects.get(pk=details["snapshot_id"])
            assert snapshot.provider_id == provider.pk and snapshot.fetched_at == alert.last_seen_at
            assert (details["used"], details["limit"]) == (snapshot.used, snapshot.limit)
            assert details["amount"] in (None, str(snapshot.amount), float(snapshot.amount))
    spike = next(a for a in alerts if a.kind == Alert.Kind.ERROR_SPIKE)
    # Acknowledged while it lasted, and cleared by the check itself once the burst was over.
    assert spike.state == Alert.State.RESOLVED and spike.acknowledged_at is not None
    assert spike.opened_at < spike.acknowledged_at < spike.resolved_at < timezone.now() - HOUR


def test_status_and_last_checked_come_from_the_last_reading(story):
    for card in provider_cards():
        provider = card.provider
        assert card.latest is not None and card.latest.fetched_at == provider.last_polled_at
        assert provider.status != ProviderStatus.UNKNOWN
    assert Provider.objects.get(slug="telnxo-in").status == ProviderStatus.CREDENTIAL_FAILED


def test_the_replays_runways_are_runway_for(story):
    providers = list(story.values())
    now = timezone.now()
    runways = demo_alerts.Runways(providers, now)
    for snapshot in BalanceSnapshot.objects.filter(provider__in=providers).order_by("fetched_at", "pk"):
        runways.add(snapshot)
    for provider in providers:
        at = last_good(provider).fetched_at
        assert runways.at(provider, at) == runway_for(provider, at)


def test_every_send_that_reached_the_vendor_has_its_attempt(story):
    reached = Send.objects.exclude(http_status=None)
    assert reached.count() == Send.objects.count() == 3000
    assert not reached.filter(attempt_rows=None).exists()
    for send in reached.prefetch_related("attempt_rows")[:300]:
        [attempt] = send.attempt_rows.all()
        assert send.attempts == attempt.number == 1
        assert (attempt.http_status, attempt.latency_ms, attempt.started_at) == (
            send.http_status,
            send.latency_ms,
            send.created_at,
        )
        assert attempt.outcome == ("failed" if attempt.http_status >= 400 else "accepted")
    assert SendAttempt.objects.count() == 3000


@pytest.fixture
def mounted(settings):
    """The /sim/ mount routed (SENDWATCH_SIMULATOR on), as in bin/run; this process's simulator forgotten."""
    enabled = settings.SENDWATCH_SIMULATOR_ENABLED
    settings.SENDWATCH_SIMULATOR_ENABLED = True
    importlib.reload(importlib.import_module("config.urls"))
    clear_url_caches()
    mount.forget_demo_state()
    yield
    mount.forget_demo_state()
    settings.SENDWATCH_SIMULATOR_ENABLED = enabled
    importlib.reload(importlib.import_module("config.urls"))
    clear_url_caches()


def test_the_mount_takes_the_demo_on_at_its_first_request(story, mounted, client):
    provider = story["23telecom-eu"]
    last = last_good(provider)
    account = next(a for a in demo.DEMO_ACCOUNTS if a.slug == provider.slug)
    response = client.get(
        f"/sim/23telecom/{provider.slug}/api/v1/user/balance", HTTP_X_API_KEY=demo.demo_api_key(account)
    )
    assert response.status_code == 200
    expected = float(last.amount) - burn(provider, last.fetched_at) * hours_since(last.fetched_at)
    assert response.json()["balance"] == pytest.approx(expected, abs=0.01)
    assert response.json()["currency"] == "EUR"
