"""The alerts pages: list and filters, keyset pages, detail with history and notifications, acknowledge, resolve."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from messaging.alerts import lifecycle as alerts
from messaging.alerts.notify import create_webhook
from messaging.dashboard.alert_list import ACTIVE, AlertFilters, page
from messaging.dashboard.alerts import AlertFilterForm
from messaging.demo import alerts as demo_alerts
from messaging.models import Alert, AlertEvent, ErrorEvent, Notification, Provider, ProviderStatus, WebhookEndpoint
from messaging.vault.roles import ACCOUNT_MANAGER, ADMIN, SUPPORT
from tests.vault import conftest as vault_fixtures

pytestmark = pytest.mark.django_db

roles = vault_fixtures.roles
users = vault_fixtures.users
HTMX = {"HX-Request": "true"}
LIST = reverse("messaging:alerts")


def make_alert(provider, title, *, kind="low_balance", severity="warning", state="open", hours_ago=1.0):
    at = timezone.now() - timedelta(hours=hours_ago)
    return Alert.objects.create(
        provider=provider,
        kind=kind,
        severity=severity,
        state=state,
        dedupe_key=f"{kind}:{provider.slug}:{title}",
        title=title,
        opened_at=at,
        last_seen_at=at,
    )


@pytest.fixture
def eu(db):
    return Provider.objects.create(name="23 EU", slug="t23", kind="23telecom", currency="EUR")


@pytest.fixture
def apac(db):
    return Provider.objects.create(name="8x8 APAC", slug="e8", kind="8x8")


@pytest.fixture
def spike(eu):
    """An open error spike, raised through the service so it has its 'opened' event."""
    return alerts.raise_condition(
        eu,
        Alert.Kind.ERROR_SPIKE,
        Alert.Severity.WARNING,
        "23 EU: error spike 14.0% of 100 sends in 15 min (top: INVALID_TO x9)",
        {"rate_percent": 14.0, "errors": 14, "sends": 100, "window_minutes": 15, "ceiling_percent": 10.0,
         "baseline_percent": 1.2, "reason": "above the 10% ceiling",
         "top_codes": [{"code": "INVALID_TO", "count": 9}, {"code": "RATE_LIMIT_EXCEEDED", "count": 5}]},
    )  # fmt: skip


def ack_url(alert) -> str:
    return reverse("messaging:alert_acknowledge", args=[alert.pk])


def resolve_url(alert) -> str:
    return reverse("messaging:alert_resolve", args=[alert.pk])


def detail_url(alert) -> str:
    return reverse("messaging:alert_detail", args=[alert.pk])


# -- who sees what ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [SUPPORT, ACCOUNT_MANAGER, ADMIN])
def test_every_role_reads_the_list_the_detail_and_the_partial(client, users, role, spike):
    client.force_login(users[role])
    listing = client.get(LIST)
    assert listing.status_code == 200 and spike.title in listing.content.decode()
    assert b'href="/alerts/"' in client.get(reverse("overview")).content  # the nav link
    partial = client.get(LIST, headers=HTMX)
    assert partial.status_code == 200 and b"<html" not in partial.content and spike.title in partial.content.decode()
    detail = client.get(detail_url(spike))
    assert detail.status_code == 200 and b"INVALID_TO" in detail.content


def test_a_user_without_view_alert_gets_403_and_no_nav_link(client, users, spike):
    client.force_login(users["no group"])
    for url in (LIST, detail_url(spike)):
        assert client.get(url).status_code == 403
    assert client.post(ack_url(spike)).status_code == 403
    assert b'href="/alerts/"' not in client.get(reverse("overview")).content


def test_anonymous_users_are_sent_to_the_login_page(client, spike):
    for url in (LIST, detail_url(spike)):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login") + "?next=")
    assert client.post(ack_url(spike)).status_code == 302
    assert Alert.objects.get(pk=spike.pk).state == Alert.State.OPEN


def test_support_sees_no_buttons_and_cannot_post(client, users, spike):
    client.force_login(users[SUPPORT])
    body = client.get(detail_url(spike)).content.decode()
    assert ack_url(spike) not in body and resolve_url(spike) not in body and "Acknowledge</button>" not in body
    for url in (ack_url(spike), resolve_url(spike)):
        assert client.post(url, {"note": "mine"}).status_code == 403
        assert client.post(url, {"note": "mine"}, headers=HTMX).status_code == 403
    assert Alert.objects.get(pk=spike.pk).state == Alert.State.OPEN
    assert not AlertEvent.objects.filter(alert=spike).exclude(kind=AlertEvent.Kind.OPENED).exists()


def test_the_post_urls_refuse_get(client, users, spike):
    client.force_login(users[ACCOUNT_MANAGER])
    assert client.get(ack_url(spike)).status_code == 405
    assert client.get(resolve_url(spike)).status_code == 405
    assert Alert.objects.get(pk=spike.pk).state == Alert.State.OPEN


# -- acknowledge and resolve ------------------------------------------------------------------------


def test_an_account_manager_acknowledges_with_a_note_without_js(client, users, spike):
    manager = users[ACCOUNT_MANAGER]
    client.force_login(manager)
    body = client.get(detail_url(spike)).content.decode()
    assert ack_url(spike) in body and resolve_url(spike) in body
    response = client.post(ack_url(spike), {"note": "  On it with the vendor  "})
    assert response.status_code == 302 and response["Location"] == detail_url(spike)
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["Alert acknowledged."]
    alert = Alert.objects.get(pk=spike.pk)
    assert (alert.state, alert.acknowledged_by, alert.acknowledge_note) == (
        "acknowledged",
        manager,
        "On it with the vendor",
    )
    event = AlertEvent.objects.get(alert=spike, kind=AlertEvent.Kind.ACKNOWLEDGED)
    assert (event.actor, event.note) == (manager, "On it with the vendor")
    page_after = client.get(detail_url(spike)).content.decode()
    assert "On it with the vendor" in page_after and "by manager1" in page_after


def test_htmx_acknowledge_answers_the_lifecycle_fragment(client, users, spike):
    client.force_login(users[ACCOUNT_MANAGER])
    response = client.post(ack_url(spike), {"note": "looking"}, headers=HTMX)
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert "Alert acknowledged." in body and "looking" in body and "History" in body
    assert ack_url(spike) not in body and resolve_url(spike) in body  # acknowledged: only Resolve is left
    assert not list(get_messages(response.wsgi_request))  # the fragment says it; no message left for later


def test_an_admin_resolves_with_a_note_and_the_buttons_go(client, users, spike):
    admin = users[ADMIN]
    client.force_login(admin)
    response = client.post(resolve_url(spike), {"note": "vendor fixed routing"}, headers=HTMX)
    assert response.status_code == 200 and b"Alert resolved." in response.content
    alert = Alert.objects.get(pk=spike.pk)
    assert (alert.state, alert.resolved_by, alert.resolve_note) == ("resolved", admin, "vendor fixed routing")
    assert AlertEvent.objects.get(alert=spike, kind=AlertEvent.Kind.RESOLVED).actor == admin
    assert resolve_url(spike).encode() not in client.get(detail_url(spike)).content


def test_acknowledging_a_resolved_alert_is_refused_and_changes_nothing(client, users, spike):
    alerts.resolve(spike, None, "cleared")
    client.force_login(users[ACCOUNT_MANAGER])
    events = AlertEvent.objects.filter(alert=spike).count()
    response = client.post(ack_url(spike), {"note": "late"})
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["This alert is already resolved."]
    htmx = client.post(ack_url(spike), {"note": "late"}, headers=HTMX)
    assert htmx.status_code == 400 and b"This alert is already resolved." in htmx.content
    assert client.post(resolve_url(spike), headers=HTMX).status_code == 400
    alert = Alert.objects.get(pk=spike.pk)
    assert (alert.state, alert.acknowledged_at, alert.resolve_note) == ("resolved", None, "cleared")
    assert AlertEvent.objects.filter(alert=spike).count() == events


def test_a_note_that_is_too_long_is_refused_and_changes_nothing(client, users, spike):
    client.force_login(users[ACCOUNT_MANAGER])
    response = client.post(ack_url(spike), {"note": "x" * 2001}, headers=HTMX)
    assert response.status_code == 400 and b"at most 2000 characters" in response.content
    assert Alert.objects.get(pk=spike.pk).state == Alert.State.OPEN
    assert not AlertEvent.objects.filter(alert=spike, kind=AlertEvent.Kind.ACKNOWLEDGED).exists()


def test_an_unknown_alert_is_404(client, users):
    client.force_login(users[ACCOUNT_MANAGER])
    assert client.get(reverse("messaging:alert_detail", args=[999999])).status_code == 404
    assert client.post(reverse("messaging:alert_acknowledge", args=[999999])).status_code == 404


# -- the detail page ----------------------------------------------------------------------------------


def test_a_failed_notification_shows_its_error_and_no_webhook_secret(client, users, eu):
    hook, secret = create_webhook("https://hooks.slack.com/services/T000/B000/XXXXsecretpath", eu)
    eu.watchers.add(users[ACCOUNT_MANAGER])
    alert = alerts.raise_condition(eu, Alert.Kind.LOW_BALANCE, Alert.Severity.CRITICAL, "23 EU: Balance critical", {})
    Notification.objects.filter(channel="webhook").update(state="failed", attempts=6, last_error="HTTP 500 from hook")
    Notification.objects.filter(channel="email").update(state="sent", attempts=1, sent_at=timezone.now())
    client.force_login(users[SUPPORT])
    body = client.get(detail_url(alert)).content.decode()
    assert "HTTP 500 from hook" in body and "Failed" in body and "manager1@example.com" in body
    assert "https://hooks.slack.com/…" in body
    assert "XXXXsecretpath" not in body and secret not in body and hook.secret_ciphertext not in body


def test_detail_shows_what_each_kind_needs(client, users, eu, spike):
    client.force_login(users[ADMIN])
    body = client.get(detail_url(spike)).content.decode()
    assert "RATE_LIMIT_EXCEEDED" in body and "?provider=t23&amp;code=INVALID_TO" in body  # drill-down link
    refused = ErrorEvent(provider=eu, error_code="INVALID_API_KEY", category="auth", http_status=401,
                         message="key revoked", retryable=False, details={}, occurred_at=timezone.now())  # fmt: skip
    [key_alert] = alerts.errors_recorded(eu, [refused])
    body = client.get(detail_url(key_alert)).content.decode()
    assert reverse("messaging:credentials", args=[eu.slug]) in body and "INVALID_API_KEY" in body
    client.force_login(users[SUPPORT])
    body = client.get(detail_url(key_alert)).content.decode()
    assert reverse("messaging:credentials", args=[eu.slug]) not in body and "An admin can" in body
    low = alerts.raise_condition(
        eu, "low_balance", "warning", "23 EU: Low balance", {"reasons": ["balance 12.00 EUR below warning 50.00"],
                                                              "amount": "12.00", "currency": "EUR"}
    )  # fmt: skip
    body = client.get(detail_url(low)).content.decode()
    assert "balance 12.00 EUR below warning 50.00" in body and "Balance at the alert: 12.00 EUR" in body


def test_detail_and_history_take_a_fixed_number_of_queries(client, users, eu, spike, django_assert_max_num_queries):
    client.force_login(users[ACCOUNT_MANAGER])
    with django_assert_max_num_queries(10) as few:
        assert client.get(detail_url(spike)).status_code == 200
    WebhookEndpoint.objects.bulk_create(
        WebhookEndpoint(url=f"https://hooks.example.com/{n}", secret_ciphertext="x", secret_key_id="k", secret_hint="x")
        for n in range(5)
    )
    for n in range(6):
        alerts.raise_condition(eu, "error_spike", "critical" if n % 2 else "warning", f"spike {n}", {})
        alerts.acknowledge(spike, users[ACCOUNT_MANAGER], f"note {n}")
    assert Notification.objects.filter(alert_event__alert=spike).count() >= 5
    with django_assert_max_num_queries(len(few)):
        body = client.get(detail_url(spike)).content.decode()
    assert "note 5" in body and "hooks.example.com" in body


# -- the list: filters, order, pages --------------------------------------------------------------------


def test_default_tab_is_open_and_acknowledged_critical_first_then_newest(client, users, eu, apac):
    old_critical = make_alert(eu, "old critical", severity="critical", hours_ago=9)
    new_warning = make_alert(apac, "new warning", hours_ago=1)
    acked = make_alert(eu, "acked warning", state="acknowledged", hours_ago=5)
    make_alert(eu, "resolved one", state="resolved", hours_ago=2)
    client.force_login(users[SUPPORT])
    response = client.get(LIST)
    assert [a.pk for a in response.context["page"].alerts] == [old_critical.pk, new_warning.pk, acked.pk]
    counts = {tab.key: tab.count for tab in response.context["page"].tabs}
    assert counts == {"active": 3, "open": 2, "acknowledged": 1, "resolved": 1, "all": 4}
    assert b"resolved one" not in response.content


@pytest.mark.parametrize(
    ("params", "titles"),
    [
        ({"state": "resolved"}, {"resolved one"}),
        ({"state": "open"}, {"eu warning", "apac critical spike"}),
        ({"state": "acknowledged"}, {"acked"}),
        ({"state": "all"}, {"eu warning", "apac critical spike", "acked", "resolved one"}),
        ({"provider": "e8"}, {"apac critical spike"}),
        ({"kind": "error_spike"}, {"apac critical spike"}),
        ({"severity": "warning", "state": "all"}, {"eu warning", "acked", "resolved one"}),
    ],
)
def test_filters_live_in_the_query_string(client, users, eu, apac, params, titles):
    make_alert(eu, "eu warning")
    make_alert(apac, "apac critical spike", kind="error_spike", severity="critical")
    make_alert(eu, "acked", state="acknowledged")
    make_alert(eu, "resolved one", state="resolved")
    client.force_login(users[SUPPORT])
    response = client.get(LIST, params, headers=HTMX)
    assert response.status_code == 200
    assert {a.title for a in response.context["page"].alerts} == titles


@pytest.mark.parametrize(
    "params", [{"state": "closed"}, {"provider": "nope"}, {"kind": "fire"}, {"severity": "meh"}, {"after": "garbage"}]
)
def test_a_bad_filter_is_a_clear_400(client, users, params):
    client.force_login(users[SUPPORT])
    response = client.get(LIST, params)
    assert response.status_code == 400 and b'class="error"' in response.content


def test_keyset_pages_cover_every_alert_once_in_order(eu):
    for n in range(23):
        make_alert(eu, f"a{n}", severity="critical" if n % 3 == 0 else "warning", state="resolved", hours_ago=n % 7)
    filters, seen, cursor = AlertFilters(state="all"), [], None
    while True:
        current = page(filters, cursor, size=5)
        seen += [a.pk for a in current.alerts]
        if current.next_cursor is None:
            break
        cursor = current.next_cursor
    expected = sorted(Alert.objects.all(), key=lambda a: (a.severity != "critical", -a.opened_at.timestamp(), -a.pk))
    assert seen == [a.pk for a in expected]


def test_the_list_pages_with_a_fixed_number_of_queries(client, users, eu, apac, django_assert_max_num_queries):
    make_alert(eu, "only one", state="acknowledged")
    client.force_login(users[ACCOUNT_MANAGER])
    with django_assert_max_num_queries(10) as few:
        assert client.get(LIST).status_code == 200
    for n in range(120):
        make_alert(apac if n % 2 else eu, f"many {n}", severity="critical" if n % 5 else "warning", hours_ago=n / 10)
    Alert.objects.filter(title="only one").update(acknowledged_by=users[ACCOUNT_MANAGER])
    with django_assert_max_num_queries(len(few)):
        response = client.get(LIST)
    assert len(response.context["page"].alerts) == 50 and b"Older alerts" in response.content
    with django_assert_max_num_queries(len(few)):
        later = client.get(LIST, {"after": response.context["page"].next_cursor}, headers=HTMX)
    assert later.status_code == 200 and len(later.context["page"].alerts) == 50
    assert not {a.pk for a in later.context["page"].alerts} & {a.pk for a in response.context["page"].alerts}


def test_an_empty_list_says_so(client, users):
    client.force_login(users[SUPPORT])
    assert b"No open alerts" in client.get(LIST).content
    assert b"No alerts match these filters" in client.get(LIST, {"state": "resolved"}).content


# -- demo data -----------------------------------------------------------------------------------------


def test_the_demo_alerts_are_what_the_live_checks_concluded_from_its_history(db):
    """The demo's alerts come from replaying its history through the live checks (messaging/demo/alerts.py)."""
    call_command("seed_demo", sends=3000, days=3, no_progress=True, simulator_url="http://sim.test/sim")
    alerts = {a.kind: a for a in Alert.objects.select_related("provider")}
    spike = alerts["error_spike"]
    assert spike.provider.slug == "8x8-apac" and spike.details["top_codes"]
    # Acknowledged by the on-call person, then cleared by the check itself once the burst was over.
    assert list(spike.events.values_list("kind", flat=True)) == ["opened", "acknowledged", "resolved"]
    refused = alerts["credential_failed"]
    assert refused.state == "open" and refused.provider.status == ProviderStatus.CREDENTIAL_FAILED
    # A second run adds nothing.
    assert demo_alerts.open_demo_alerts(list(Provider.objects.all())) == []
    assert Alert.objects.count() == 2


# -- the filter form: AlertFilterForm --------------------------------------------------------------

REFUSED = '<div class="error" role="alert">'  # templates/messaging/filter_errors.html, the same on every page


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"state": "closed"}, "state must be one of active, open, acknowledged, resolved, all"),
        ({"provider": "nope"}, "unknown provider: nope"),
        ({"kind": "fire"}, f"kind must be one of {', '.join(Alert.Kind.values)}"),
        ({"severity": "meh"}, f"severity must be one of {', '.join(Alert.Severity.values)}"),
        ({"after": "garbage"}, "the page link is damaged; start from the first page"),
    ],
)
def test_a_refused_filter_is_a_400_that_shows_the_page_and_why(client, users, eu, params, message):
    assert AlertFilterForm(params).problems == [message]
    client.force_login(users[SUPPORT])
    body = client.get(LIST, params).content.decode()
    assert 'id="alert-filters"' in body and f"{REFUSED}<p>{message}</p></div>" in body
    partial = client.get(LIST, params, headers=HTMX)
    assert partial.status_code == 400 and f"{REFUSED}<p>{message}</p></div>" in partial.content.decode()


def test_every_refused_filter_is_shown_the_same_way_on_every_page(client, users):
    client.force_login(users[ADMIN])
    for name in ("messaging:alerts", "messaging:errors", "messaging:sends"):
        response = client.get(reverse(name), {"provider": "nope"}, headers=HTMX)
        assert response.status_code == 400
        assert f"{REFUSED}<p>unknown provider: nope</p></div>" in response.content.decode()


def test_the_form_cleans_to_the_lists_filters(eu):
    form = AlertFilterForm({"provider": "t23", "kind": "low_balance", "severity": "critical"})
    assert form.is_valid() and form.cleaned_data["after"] is None
    assert form.filters() == AlertFilters(ACTIVE, eu, "low_balance", "critical")
    blank = AlertFilterForm({"state": "", "provider": ""})
    assert blank.is_valid() and blank.filters() == AlertFilters()
