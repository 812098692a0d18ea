"""The Overview page: provider cards, open alerts, its live fragment, "poll now", times in the reader's zone."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.messages import get_messages
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from messaging import background, tasks
from messaging.dashboard.breakdown import breakdown, parse_window
from messaging.dashboard.middleware import TIMEZONE_COOKIE, UserTimezoneMiddleware, zone_named
from messaging.models import Alert, BalanceSnapshot, Credential, ErrorEvent, Provider
from messaging.traffic import rollups
from messaging.vault.roles import ACCOUNT_MANAGER, ADMIN, SUPPORT
from tests.alerts.conftest import history
from tests.conftest import store_key
from tests.vault import conftest as vault_fixtures

pytestmark = pytest.mark.django_db

roles = vault_fixtures.roles
users = vault_fixtures.users
HTMX = {"HX-Request": "true"}
SECRET_KEY = "sk_test_0123456789abcdef"


def poll_url(provider) -> str:
    return reverse("messaging:provider_poll", args=[provider.slug])


def make_alert(provider, title, *, severity="warning", hours_ago=1.0, state="open"):
    at = timezone.now() - timedelta(hours=hours_ago)
    return Alert.objects.create(
        provider=provider,
        kind=Alert.Kind.LOW_BALANCE,
        severity=severity,
        state=state,
        dedupe_key=f"{title}-{provider.pk}",
        title=title,
        opened_at=at,
        last_seen_at=at,
    )


@pytest.fixture
def eu(db):
    provider = Provider.objects.create(name="23 EU", slug="t23", kind="23telecom", currency="EUR")
    history(provider, [(10, 100), (6, 80), (2, 60)])
    record_errors(provider, timezone.now())
    return provider


def record_errors(provider, at, *, source="send", count=1):
    """Error events counted into the rollups, as every writer does."""
    events = ErrorEvent.objects.bulk_create(
        ErrorEvent(provider=provider, error_code="INVALID_TO", category="validation", occurred_at=at, source=source)
        for _ in range(count)
    )
    rollups.record(errors=events)


# -- the page, per role --------------------------------------------------------------------------


def test_the_overview_needs_a_login(client):
    response = client.get(reverse("overview"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(("role", "can_poll"), [(SUPPORT, False), (ACCOUNT_MANAGER, True), (ADMIN, True)])
def test_every_role_sees_the_cards_and_only_pollers_see_the_button(client, users, eu, role, can_poll):
    client.force_login(users[role])
    response = client.get(reverse("overview"))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="card-t23"' in page and "23 EU" in page and "23 Telecom" in page
    assert "60.00 EUR" in page  # the latest real balance
    assert "<polyline points=" in page  # the 72 h sparkline
    assert f'href="{reverse("messaging:provider_detail", args=["t23"])}"' in page
    errors_link = f'href="{reverse("messaging:errors")}?provider=t23&amp;window=24h"><span data-figure="errors">'
    assert f"{errors_link}1</span> error<" in page and '<span data-figure="sends">0</span> sends' in page
    assert ("Poll now" in page) is can_poll
    assert (f'action="{poll_url(eu)}"' in page) is can_poll


def test_the_error_count_covers_24_whole_hours_of_errors_of_sends_and_says_which(client, users, eu):
    window = parse_window("24h")  # ends with the current hour, starts 24 h before that
    record_errors(eu, window.start, count=2)  # the first counted moment
    record_errors(eu, window.start - timedelta(microseconds=1), count=4)  # just before the window
    record_errors(eu, timezone.now(), source="ingest", count=3)
    record_errors(eu, timezone.now(), source="balance", count=8)  # a failed poll is not a failed message
    client.force_login(users[SUPPORT])
    page = client.get(reverse("overview")).content.decode()
    errors_link = f'href="{reverse("messaging:errors")}?provider=t23&amp;window=24h"><span data-figure="errors">'
    assert f"{errors_link}6</span> errors<" in page  # 1 + 2 + 3
    start, end = timezone.localtime(window.start), timezone.localtime(window.end)
    assert "Errors on sends (last 24 h)" in page
    assert f'from <time datetime="{start.isoformat()}">' in page and f'to <time datetime="{end.isoformat()}">' in page
    assert "(whole hours)" in page
    # The link's page counts the same errors.
    assert breakdown(window, providers=[eu]).total_errors == 6


def test_a_card_shows_why_a_provider_is_not_ok(client, users, eu):
    Provider.objects.filter(pk=eu.pk).update(status="unreachable", status_detail="connection refused by the vendor")
    client.force_login(users[SUPPORT])
    page = client.get(reverse("overview")).content.decode()
    assert 'class="status status-unreachable">Unreachable<' in page
    assert "connection refused by the vendor" in page


def test_a_quota_provider_shows_used_of_limit_with_a_bar(client, users):
    telnxo = Provider.objects.create(name="Telnxo US", slug="tx", kind="telnxo", quota_warning_percent=80)
    history(telnxo, [(5, 100), (1, 250)], limit=1000)
    client.force_login(users[SUPPORT])
    page = client.get(reverse("overview")).content.decode()
    assert "250 / 1000 messages" in page
    assert '<meter min="0" max="100" value="25.0"' in page and 'low="80"' in page


def test_a_failed_poll_keeps_the_last_real_balance_and_moves_last_checked(client, users, eu):
    failed_at = timezone.now() - timedelta(minutes=5)
    BalanceSnapshot.objects.create(provider=eu, fetched_at=failed_at, ok=False, error_code="network")
    client.force_login(users[SUPPORT])
    page = client.get(reverse("overview")).content.decode()
    assert "60.00 EUR" in page
    assert f'datetime="{failed_at.isoformat()}"' in page


def test_alerts_come_first_critical_then_newest_and_only_unresolved(client, users, eu):
    make_alert(eu, "Old warning", hours_ago=5)
    make_alert(eu, "New warning", hours_ago=1)
    make_alert(eu, "Old critical", severity="critical", hours_ago=9)
    make_alert(eu, "Acked warning", hours_ago=0.5, state="acknowledged")
    make_alert(eu, "Resolved one", hours_ago=0.1, state="resolved")
    client.force_login(users[SUPPORT])
    page = client.get(reverse("overview")).content.decode()
    titles = ["Old critical", "Acked warning", "New warning", "Old warning"]
    positions = [page.index(title) for title in titles]
    assert positions == sorted(positions)
    assert positions[-1] < page.index('id="card-t23"')  # above the cards
    assert "Resolved one" not in page
    alert = Alert.objects.get(title="Old critical")
    assert f'href="{reverse("messaging:alert_detail", args=[alert.pk])}"' in page
    assert f'href="{reverse("messaging:alerts")}"' in page


def test_at_most_ten_alerts_are_listed(client, users, eu):
    for n in range(12):
        make_alert(eu, f"Alert number {n:02d}", hours_ago=n + 1)
    client.force_login(users[ACCOUNT_MANAGER])
    page = client.get(reverse("overview")).content.decode()
    assert page.count('class="alert-item') == 10
    assert "Alert number 09" in page and "Alert number 10" not in page


def test_alerts_are_hidden_without_view_alert(client, viewer, eu):
    make_alert(eu, "Secret low balance", severity="critical")
    client.force_login(viewer)
    page = client.get(reverse("overview")).content.decode()
    assert 'id="card-t23"' in page
    assert "Secret low balance" not in page and "Open alerts" not in page


def test_a_user_without_view_provider_gets_403(client, users):
    client.force_login(users["no group"])
    assert client.get(reverse("overview")).status_code == 403


def test_the_empty_state_offers_admins_a_link_to_add_a_provider(client, users):
    client.force_login(users[ADMIN])
    page = client.get(reverse("overview")).content.decode()
    assert "No providers yet." in page
    assert f'href="{reverse("messaging:provider_create")}"' in page
    client.force_login(users[SUPPORT])
    page = client.get(reverse("overview")).content.decode()
    assert "No providers yet." in page and reverse("messaging:provider_create") not in page


def test_the_htmx_request_returns_only_the_live_fragment(client, users, eu):
    make_alert(eu, "Low balance at 23 EU")
    client.force_login(users[ACCOUNT_MANAGER])
    page = client.get(reverse("overview")).content.decode()
    assert 'hx-trigger="sendwatch:refresh from:body"' in page
    fragment = client.get(reverse("overview"), headers=HTMX).content.decode()
    assert "<html" not in fragment and "<h1" not in fragment and 'id="overview-live"' not in fragment
    assert 'id="card-t23"' in fragment and "Low balance at 23 EU" in fragment


def test_the_query_count_is_the_same_for_one_and_for_six_providers(client, users, django_assert_max_num_queries):
    client.force_login(users[ACCOUNT_MANAGER])

    def add(n):
        provider = Provider.objects.create(name=f"P{n}", slug=f"p{n}", kind="23telecom" if n % 2 else "telnxo")
        # Every 5 minutes for 72 h: what the beat scheduler leaves behind.
        points = [(h / 12, 1000 - h) for h in range(12 * 72)]
        history(provider, points, **({} if n % 2 else {"limit": 5000}))
        make_alert(provider, f"Alert {n}")

    add(0)
    with django_assert_max_num_queries(15) as few:
        assert client.get(reverse("overview")).status_code == 200
    for n in range(1, 6):
        add(n)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("overview"))
    assert response.content.decode().count('class="card provider-card"') == 6


# -- poll now ------------------------------------------------------------------------------------


@pytest.fixture
def queued(monkeypatch):
    """What Poll now hands the broker (by task name); the test runs the task itself, as a worker would."""
    started = []
    monkeypatch.setattr(background, "start", lambda name, args=(), **kw: started.append((name, list(args))))
    return started


def run_queued(queued) -> None:
    for name, args in queued:
        assert name == "messaging.tasks.poll_provider"
        tasks.poll_provider(*args)
    queued.clear()


def poll_now(client, provider, queued) -> str:
    """Poll now as htmx does it: the "Checking…" card, the worker's run, then the status fragment's card."""
    before = BalanceSnapshot.objects.filter(provider=provider).count()
    response = client.post(poll_url(provider), headers=HTMX)
    assert response.status_code == 200
    pending = response.content.decode()
    assert "Checking…" in pending and 'hx-trigger="every 2s"' in pending
    assert queued == [("messaging.tasks.poll_provider", [provider.pk])]  # the id only, never a secret
    assert BalanceSnapshot.objects.filter(provider=provider).count() == before  # the vendor was not called
    status = html.unescape(re.search(r'hx-get="([^"]*/poll/status/[^"]*)"', pending).group(1))
    assert client.get(status, headers=HTMX).status_code == 204  # not yet: htmx asks again in 2 s
    run_queued(queued)
    response = client.get(status, headers=HTMX)
    assert response.status_code == 200
    return response.content.decode()


def test_poll_now_queues_the_poll_and_the_status_fragment_returns_the_card(
    client, users, simulator, make_provider, queued
):
    provider = make_provider("23telecom", simulator.root, currency="EUR")
    client.force_login(users[ACCOUNT_MANAGER])
    fragment = poll_now(client, provider, queued)
    snapshot = BalanceSnapshot.objects.get(provider=provider)
    assert snapshot.ok and snapshot.amount is not None
    assert fragment.lstrip().startswith(f'<article class="card provider-card" id="card-{provider.slug}"')
    assert "<html" not in fragment
    assert f"{snapshot.amount:.2f}" in fragment and 'role="status"' in fragment
    assert "Checking…" not in fragment and "every 2s" not in fragment
    assert SECRET_KEY not in fragment
    assert not list(get_messages(client.get(reverse("overview")).wsgi_request))  # the card said it; no message left


def test_poll_now_without_htmx_redirects_to_a_safe_next_with_a_message(client, users, simulator, make_provider, queued):
    provider = make_provider("23telecom", simulator.root, currency="EUR")
    client.force_login(users[ADMIN])
    back = f"/providers/{provider.slug}/"
    response = client.post(poll_url(provider), {"next": back})
    assert response.status_code == 302 and response["Location"] == back
    [message] = get_messages(response.wsgi_request)
    assert message.level_tag == "info" and f"Checking {provider.name} now" in str(message)
    response = client.post(poll_url(provider), {"next": "https://evil.example.com/"})
    assert response["Location"] == reverse("overview")
    run_queued(queued)
    assert BalanceSnapshot.objects.filter(provider=provider).count() == 2


def test_poll_now_says_the_result_at_once_when_the_worker_answered_first(
    client, users, simulator, make_provider, eager_celery
):
    """Eager Celery (or a very quick worker): the snapshot is there before the answer, so the answer is the result."""
    provider = make_provider("23telecom", simulator.root, currency="EUR")
    client.force_login(users[ADMIN])
    response = client.post(poll_url(provider), {"next": f"/providers/{provider.slug}/"})
    [message] = get_messages(response.wsgi_request)
    assert message.level_tag == "success"
    assert provider.name in str(message) and "EUR" in str(message) and "status OK" in str(message)
    fragment = client.post(poll_url(provider), headers=HTMX).content.decode()
    assert "Checking…" not in fragment and "status OK" in fragment
    assert BalanceSnapshot.objects.filter(provider=provider).count() == 2


def test_poll_now_against_an_unreachable_vendor_shows_it_and_answers_200(client, users, db, queued):
    provider = Provider.objects.create(name="Down", slug="down", kind="telnxo", base_url="http://127.0.0.1:9/")
    store_key(provider, SECRET_KEY)
    client.force_login(users[ACCOUNT_MANAGER])
    fragment = poll_now(client, provider, queued)
    assert "status-unreachable" in fragment and "the poll failed" in fragment
    assert SECRET_KEY not in fragment
    assert BalanceSnapshot.objects.get(provider=provider).ok is False
    provider.refresh_from_db()
    assert provider.status == "unreachable"


def test_poll_now_of_a_provider_without_a_key_says_so(client, users, db, queued):
    provider = Provider.objects.create(name="Keyless", slug="keyless", kind="23telecom")
    client.force_login(users[ACCOUNT_MANAGER])
    page = poll_now(client, provider, queued)
    assert "status-credential_failed" in page and "no active API key" in page


def test_poll_now_with_a_key_the_vault_cannot_open_is_no_500(client, users, db, queued):
    provider = Provider.objects.create(name="Broken key", slug="broken", kind="23telecom")
    Credential.objects.create(
        provider=provider, ciphertext="not-a-fernet-token", key_id="gone", fingerprint="f", hint="abcd", state="active"
    )
    client.force_login(users[ADMIN])
    page = poll_now(client, provider, queued)
    assert "status-credential_failed" in page
    assert "not-a-fernet-token" not in page


def test_support_may_not_poll_and_get_is_not_allowed(client, users, eu, queued):
    client.force_login(users[SUPPORT])
    assert client.post(poll_url(eu), headers=HTMX).status_code == 403
    assert client.post(poll_url(eu)).status_code == 403
    assert client.get(reverse("messaging:provider_poll_status", args=[eu.slug]), headers=HTMX).status_code == 403
    client.force_login(users[ACCOUNT_MANAGER])
    assert client.get(poll_url(eu)).status_code == 405
    assert queued == []
    assert BalanceSnapshot.objects.filter(provider=eu).count() == 3  # only the history
    assert client.post(reverse("messaging:provider_poll", args=["nope"])).status_code == 404


# -- times in the reader's time zone ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("cookie", "expected"),
    [
        ("Asia/Kolkata", "Asia/Kolkata"),
        ("America/New_York", "America/New_York"),
        ("Mars/Olympus", "UTC"),
        ("../../etc/passwd", "UTC"),
        ("/etc/localtime", "UTC"),
        ("x" * 200, "UTC"),
        (None, "UTC"),
    ],
)
def test_the_middleware_activates_a_valid_zone_from_the_cookie(settings, cookie, expected):
    settings.TIME_ZONE = "UTC"
    request = RequestFactory().get("/")
    if cookie is not None:
        request.COOKIES[TIMEZONE_COOKIE] = cookie
    seen = {}

    def view(request):
        seen["zone"] = timezone.get_current_timezone_name()
        return None

    UserTimezoneMiddleware(view)(request)
    assert seen["zone"] == expected
    assert timezone.get_current_timezone_name() == "UTC"  # nothing leaks into the next request


def test_zone_named_refuses_what_is_not_an_iana_zone():
    assert zone_named("Europe/Paris") is not None
    assert zone_named("") is None and zone_named("Europe/Nowhere") is None


def test_a_rendered_time_shifts_with_the_cookie(client, users, eu):
    BalanceSnapshot.objects.create(provider=eu, fetched_at=datetime(2099, 1, 15, 12, 0, tzinfo=UTC), amount=50)
    client.force_login(users[SUPPORT])
    page = client.get(reverse("overview")).content.decode()
    assert "15 Jan 2099 12:00:00" in page and "Times are shown in UTC." in page
    client.cookies[TIMEZONE_COOKIE] = "Asia/Tokyo"
    page = client.get(reverse("overview")).content.decode()
    assert "15 Jan 2099 21:00:00" in page and 'datetime="2099-01-15T21:00:00+09:00"' in page
    assert "Times are shown in Asia/Tokyo." in page
    client.cookies[TIMEZONE_COOKIE] = "Not/AZone"
    assert "15 Jan 2099 12:00:00" in client.get(reverse("overview")).content.decode()
