"""The demo generator: realistic, consistent history written in bulk."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count

from messaging.demo import generator as demo
from messaging.models import BalanceSnapshot, Credential, ErrorEvent, Provider, Send, SendStatus
from messaging.vault.crypto import unseal
from providers import get_adapter_class, parse_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded():
    call_command("seed_demo", sends=3000, days=3, no_progress=True, simulator_url="http://sim.test/sim")
    return Provider.objects.order_by("slug")


def test_one_provider_per_seed_vendor_pointed_at_the_simulator(seeded):
    assert sorted(p.kind for p in seeded) == sorted(["23telecom", "telephonyio", "8x8", "telnxo", "textingblue"])
    eight = seeded.get(kind="8x8")
    assert eight.base_url == "http://sim.test/sim/8x8/8x8-apac/api/v1"
    assert eight.options["subaccount_id"] == "acme_hq"
    for provider in seeded:
        credential = provider.credentials.get(state=Credential.State.ACTIVE)
        key = unseal(credential.key_id, credential.ciphertext).key
        assert key == demo.demo_api_key(next(a for a in demo.DEMO_ACCOUNTS if a.slug == provider.slug))
        assert key not in credential.ciphertext


def test_history_has_exactly_the_requested_sends_in_time_order(seeded):
    assert Send.objects.count() == 3000
    created = list(Send.objects.order_by("id").values_list("created_at", flat=True))
    assert created == sorted(created)
    per_provider = dict(Send.objects.values_list("provider__slug").annotate(n=Count("id")))
    # Traffic is shared unevenly, as configured, and every provider has some.
    assert per_provider["23telecom-eu"] > per_provider["textingblue"] > 0


def test_every_failed_send_has_one_error_event_with_a_catalogue_code(seeded):
    failed = Send.objects.filter(status=SendStatus.FAILED)
    on_sends = ErrorEvent.objects.filter(source=ErrorEvent.Source.SEND)
    assert failed.count() == on_sends.count() > 0
    # The only other errors are the refused balance polls of the story's expired key.
    assert set(ErrorEvent.objects.exclude(source=ErrorEvent.Source.SEND).values_list("source", "error_code")) == {
        ("balance", demo.DEMO_KEY_EXPIRY.code)
    }
    for event in on_sends.select_related("provider", "send")[:500]:
        entry = get_adapter_class(event.provider.kind).errors[event.error_code]
        assert event.send.error_code == event.error_code
        assert (event.http_status, event.category) == (entry.http_status, entry.category)


def test_raw_bodies_are_real_vendor_answers_that_parse_back_to_their_code(seeded):
    checked = Counter()
    for event in ErrorEvent.objects.select_related("provider").exclude(raw_body="")[:300]:
        normalized = parse_error(event.provider.kind, event.http_status, event.raw_body)
        if event.error_code in {"blocked_country", "queue_error", "config_error"}:
            continue  # per-recipient statuses inside a 200 body, not request errors
        assert normalized.provider_code == event.error_code
        checked[event.provider.kind] += 1
    assert len(checked) >= 4


def test_latencies_vary_like_a_vendors_do(seeded):
    latencies = list(Send.objects.exclude(latency_ms=None).values_list("latency_ms", flat=True))
    assert len(set(latencies)) > 100
    assert 100 < sorted(latencies)[len(latencies) // 2] < 400  # log-normal around 200 ms


def test_balances_drain_and_quota_counts_up(seeded):
    assert BalanceSnapshot.objects.count() == 3 * 24 * 5
    telecom = list(
        BalanceSnapshot.objects.filter(provider__slug="23telecom-eu")
        .order_by("fetched_at")
        .values_list("amount", flat=True)
    )
    drops = sum(1 for a, b in pairwise(telecom) if b < a)
    assert drops > len(telecom) / 2
    usage = list(
        BalanceSnapshot.objects.filter(provider__slug="textingblue").order_by("fetched_at").values_list("used", "limit")
    )
    assert all(limit == 10000 for _, limit in usage)
    assert usage[-1][0] >= usage[0][0]


def test_a_second_run_refuses_then_if_empty_skips_then_reset_regenerates(seeded):
    with pytest.raises(CommandError, match="--reset"):
        call_command("seed_demo", sends=100, days=1, no_progress=True)
    call_command("seed_demo", sends=100, days=1, no_progress=True, if_empty=True)
    assert Send.objects.count() == 3000
    call_command("seed_demo", sends=100, days=1, no_progress=True, reset=True)
    assert Send.objects.count() == 100
    assert Provider.objects.count() == 5


@pytest.mark.parametrize("flags", [{"sends": -1}, {"days": 0}])
def test_bad_sizes_are_refused(flags):
    with pytest.raises(CommandError):
        call_command("seed_demo", no_progress=True, **flags)
    assert Send.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_load_outside_a_transaction_vacuums_the_rollups_it_churned():
    from django.db import connection

    call_command("seed_demo", sends=3000, days=3, no_progress=True, simulator_url="http://sim.test/sim")
    if connection.vendor != "postgresql":
        return  # SQLite has no VACUUM debt to pay here; CI runs this on PostgreSQL
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, last_vacuum IS NOT NULL, last_analyze IS NOT NULL FROM pg_stat_user_tables "
            "WHERE relname IN ('messaging_sendrollup', 'messaging_errorrollup') ORDER BY relname"
        )
        assert cursor.fetchall() == [("messaging_errorrollup", True, True), ("messaging_sendrollup", True, True)]
