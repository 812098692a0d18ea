"""The provider pages: who sees and may change what, threshold validation, audit, query counts, no key material."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from messaging import background, tasks
from messaging.alerts import lifecycle as alerts
from messaging.alerts.runway import runway_for
from messaging.models import Alert, AuditEntry, BalanceSnapshot, Credential, ErrorEvent, Provider, Send
from messaging.traffic import rollups
from messaging.vault import keys as credentials
from tests.conftest import store_key
from tests.vault.conftest import ROLE_NAMES, reauthenticate, roles, users  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

ADMIN, SUPPORT, MANAGER = "Admin", "Support", "Account manager"
KEY = "sk_live_do_not_show_0123456789"
# A valid thresholds form for a money vendor; tests change one value at a time.
MONEY_THRESHOLDS = {
    "balance_warning": "50",
    "balance_critical": "20",
    "runway_warning_hours": "72",
    "runway_critical_hours": "24",
    "error_rate_ceiling_percent": "10",
    "spike_window_minutes": "15",
    "spike_min_sends": "50",
    "spike_baseline_factor": "3",
    "poll_interval_seconds": "300",
}
NEW_PROVIDER = {
    "name": "Telnxo US",
    "slug": "telnxo-us",
    "kind": "telnxo",
    "base_url": "",
    "currency": "messages",
    "default_sender": "Acme",
    "options": "{}",
    "enabled": "on",
}


def with_key(provider: Provider, key: str = KEY) -> Credential:
    return store_key(provider, key)


@pytest.fixture
def eu(db):
    provider = Provider.objects.create(name="23 EU", slug="t23", kind="23telecom", currency="EUR")
    with_key(provider)
    return provider


def readings(provider, count, *, start_amount=500.0, hours=24 * 6):
    """``count`` money readings falling evenly over the last ``hours``."""
    now = timezone.now()
    step = hours / max(count - 1, 1)
    BalanceSnapshot.objects.bulk_create(
        BalanceSnapshot(
            provider=provider,
            fetched_at=now - timedelta(hours=hours - n * step),
            amount=Decimal(start_amount - n * (start_amount / 2) / count).quantize(Decimal("0.01")),
            currency="EUR",
        )
        for n in range(count)
    )


def as_role(client, users, role):  # noqa: F811
    if users[role] is not None:
        client.force_login(users[role])
    return client


def urls(slug: str) -> dict[str, str]:
    return {
        "providers": reverse("messaging:providers"),
        "provider_detail": reverse("messaging:provider_detail", args=[slug]),
        "provider_thresholds": reverse("messaging:provider_thresholds", args=[slug]),
        "provider_create": reverse("messaging:provider_create"),
        "provider_edit": reverse("messaging:provider_edit", args=[slug]),
        "provider_watch": reverse("messaging:provider_watch", args=[slug]),
    }


# GET status per view and role (anonymous users go to the login page).
EXPECTED_GET = {
    "providers": {ADMIN: 200, SUPPORT: 200, MANAGER: 200, "no group": 403},
    "provider_detail": {ADMIN: 200, SUPPORT: 200, MANAGER: 200, "no group": 403},
    "provider_thresholds": {ADMIN: 200, SUPPORT: 403, MANAGER: 200, "no group": 403},
    "provider_create": {ADMIN: 200, SUPPORT: 403, MANAGER: 403, "no group": 403},
    "provider_edit": {ADMIN: 200, SUPPORT: 403, MANAGER: 403, "no group": 403},
    "provider_watch": {ADMIN: 405, SUPPORT: 405, MANAGER: 405, "no group": 403},
}


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_every_view_answers_each_role(client, users, eu, role):  # noqa: F811
    as_role(client, users, role)
    for name, url in urls(eu.slug).items():
        response = client.get(url)
        if role == "anonymous":
            assert response.status_code == 302 and response["Location"].startswith(reverse("login")), name
        else:
            assert response.status_code == EXPECTED_GET[name][role], (name, response.status_code)


def test_the_list_shows_kind_status_reading_runway_and_enabled(client, users, eu):  # noqa: F811
    readings(eu, 10, hours=24)
    Provider.objects.create(name="Blue plan", slug="blue", kind="textingblue", enabled=False)
    BalanceSnapshot.objects.create(
        provider=Provider.objects.get(slug="blue"), fetched_at=timezone.now(), used=850, limit=1000
    )
    body = as_role(client, users, SUPPORT).get(reverse("messaging:providers")).content.decode()
    assert reverse("messaging:provider_detail", args=["t23"]) in body
    assert "23 Telecom" in body and "texting.blue" in body
    assert "Not checked yet" in body
    assert "EUR" in body and "850 / 1000 messages used" in body
    assert "runs out in" in body
    assert "not polled, not used" in body
    assert 'href="/providers/new/"' not in body  # only admins add providers


def test_the_detail_page_shows_state_runway_chart_errors_and_alerts(client, users, eu):  # noqa: F811
    readings(eu, 30)
    Provider.objects.filter(pk=eu.pk).update(status="low", status_detail="Balance 250.00 EUR is below 300")
    now = timezone.now()
    events = ErrorEvent.objects.bulk_create(
        ErrorEvent(provider=eu, occurred_at=now - timedelta(hours=h), error_code="INVALID_TO", category="validation")
        for h in (1, 2, 30)  # the last one is older than 24 h
    )
    rollups.record(errors=events)  # as every writer does
    alert = Alert.objects.create(
        provider=eu,
        kind="low_balance",
        dedupe_key="low_balance:t23",
        title="23 EU: low balance",
        opened_at=now,
        last_seen_at=now,
    )
    Alert.objects.create(
        provider=eu,
        kind="unreachable",
        dedupe_key="unreachable:t23",
        title="Gone and back",
        opened_at=now,
        last_seen_at=now,
        state="resolved",
    )
    body = as_role(client, users, MANAGER).get(reverse("messaging:provider_detail", args=["t23"])).content.decode()
    assert "Balance 250.00 EUR is below 300" in body and "status-low" in body
    assert "runs out in" in body and "EUR per hour" in body
    assert "<polyline" in body and "last 7 days" in body
    assert '<span data-figure="errors">2</span> errors on sends' in body and "Errors on sends (last 24 h)" in body
    assert 'href="/errors/?provider=t23&amp;window=24h"' in body
    assert reverse("messaging:alert_detail", args=[alert.pk]) in body and "Gone and back" not in body


def test_the_history_switch_is_an_htmx_partial_and_refuses_other_windows(client, users, eu):  # noqa: F811
    readings(eu, 5, hours=24 * 20)  # only the last 7 days of them show by default
    client = as_role(client, users, MANAGER)
    url = reverse("messaging:provider_detail", args=["t23"])
    partial = client.get(url, {"days": "30"}, headers={"HX-Request": "true"})
    assert partial.status_code == 200
    assert b"<html" not in partial.content and b"last 30 days" in partial.content
    assert partial.content.count(b'aria-current="true"') == 1
    assert client.get(url, {"days": "5"}).status_code == 400
    empty = Provider.objects.create(name="Quiet", slug="quiet", kind="telephonyio")
    assert b"No balance readings" in client.get(reverse("messaging:provider_detail", args=[empty.slug])).content


def test_support_sees_thresholds_read_only_with_no_edit_forms_or_buttons(client, users, eu):  # noqa: F811
    Provider.objects.filter(pk=eu.pk).update(balance_warning=Decimal("50.0000"))
    body = as_role(client, users, SUPPORT).get(reverse("messaging:provider_detail", args=["t23"])).content.decode()
    assert "<dt>Low balance warning below</dt><dd>50</dd>" in body
    assert "<dt>Critical balance below</dt><dd>not checked</dd>" in body
    assert "<dt>Error rate ceiling (% of sends)</dt><dd>10</dd>" in body
    assert reverse("messaging:provider_thresholds", args=["t23"]) not in body
    assert reverse("messaging:provider_poll", args=["t23"]) not in body
    assert reverse("messaging:provider_edit", args=["t23"]) not in body
    assert "Test connection" not in body and "Save thresholds" not in body and '<input type="number"' not in body
    assert reverse("messaging:credentials", args=["t23"]) not in body


def test_support_is_refused_every_change(client, users, eu):  # noqa: F811
    before = list(Provider.objects.values())
    client = as_role(client, users, SUPPORT)
    assert (
        client.post(urls("t23")["provider_thresholds"], {**MONEY_THRESHOLDS, "balance_warning": "1"}).status_code == 403
    )
    assert client.post(urls("t23")["provider_edit"], {**NEW_PROVIDER, "slug": "t23"}).status_code == 403
    assert client.post(urls("t23")["provider_create"], NEW_PROVIDER).status_code == 403
    assert list(Provider.objects.values()) == before
    assert not AuditEntry.objects.filter(action__startswith="provider.").exists()


def test_the_manager_sees_the_threshold_form_and_the_test_connection_button(client, users, eu):  # noqa: F811
    body = as_role(client, users, MANAGER).get(reverse("messaging:provider_detail", args=["t23"])).content.decode()
    assert f'action="{reverse("messaging:provider_thresholds", args=["t23"])}"' in body
    assert f'action="{reverse("messaging:provider_poll", args=["t23"])}"' in body
    assert 'name="next" value="/providers/t23/"' in body
    # Money vendor: no quota fields; no API keys panel for managers.
    assert 'name="balance_warning"' in body and 'name="quota_warning_percent"' not in body
    assert "Manage and rotate keys" not in body and eu.credentials.get().fingerprint not in body


def test_a_manager_edits_thresholds_audited_old_to_new(client, users, eu):  # noqa: F811
    client = as_role(client, users, MANAGER)
    response = client.post(urls("t23")["provider_thresholds"], {**MONEY_THRESHOLDS, "balance_warning": "60.5"})
    assert response.status_code == 302 and response["Location"] == urls("t23")["provider_detail"]
    eu.refresh_from_db()
    assert eu.balance_warning == Decimal("60.5") and eu.balance_critical == Decimal("20")
    entry = AuditEntry.objects.get(action="provider.thresholds")
    assert entry.actor == users[MANAGER] and entry.target_id == str(eu.pk)
    assert entry.details == {
        "changes": {"balance_warning": [None, "60.5"], "balance_critical": [None, "20"]},
        "via": "web",
    }
    page = client.get(response["Location"]).content.decode()
    assert "Thresholds saved" in page and "next evaluation" in page
    # Saving the same values again changes nothing and logs nothing.
    client.post(urls("t23")["provider_thresholds"], {**MONEY_THRESHOLDS, "balance_warning": "60.5"})
    assert AuditEntry.objects.filter(action="provider.thresholds").count() == 1


def test_the_thresholds_form_over_htmx_swaps_the_fragment(client, users, eu):  # noqa: F811
    client = as_role(client, users, MANAGER)
    url = urls("t23")["provider_thresholds"]
    saved = client.post(url, {**MONEY_THRESHOLDS, "poll_interval_seconds": "120"}, headers={"HX-Request": "true"})
    assert saved.status_code == 200 and b"<html" not in saved.content
    assert b'id="thresholds-form"' in saved.content and b"Thresholds saved" in saved.content
    assert b"23 Telecom asks to be polled no more often than every 300 seconds" in saved.content
    refused = client.post(url, {**MONEY_THRESHOLDS, "balance_critical": "70"}, headers={"HX-Request": "true"})
    assert refused.status_code == 200 and b"<html" not in refused.content
    assert b"Critical balance must be below the warning balance (50)" in refused.content
    eu.refresh_from_db()
    assert eu.poll_interval_seconds == 120 and eu.balance_critical == Decimal("20")


@pytest.mark.parametrize(
    ("kind", "field", "value", "message"),
    [
        ("23telecom", "balance_critical", "50", "Critical balance must be below the warning balance"),
        ("23telecom", "balance_warning", "-1", "greater than or equal to 0"),
        ("23telecom", "runway_critical_hours", "72", "Critical runway must be shorter than the warning"),
        ("23telecom", "error_rate_ceiling_percent", "100.5", "less than or equal to 100"),
        ("23telecom", "error_rate_ceiling_percent", "-1", "greater than or equal to 0"),
        ("23telecom", "spike_window_minutes", "0", "greater than or equal to 1"),
        ("23telecom", "spike_min_sends", "0", "greater than or equal to 1"),
        ("23telecom", "spike_baseline_factor", "1", "Must be more than 1"),
        ("23telecom", "poll_interval_seconds", "59", "greater than or equal to 60"),
        ("telnxo", "quota_critical_percent", "80", "Critical quota must be above the warning percentage (80 %)"),
        ("telnxo", "quota_warning_percent", "0", "greater than or equal to 1"),
        ("telnxo", "quota_critical_percent", "101", "less than or equal to 100"),
    ],
)
def test_bad_thresholds_name_the_field_and_change_nothing(client, users, kind, field, value, message):  # noqa: F811
    provider = Provider.objects.create(name="P", slug="p", kind=kind)
    data = dict(MONEY_THRESHOLDS)
    if kind == "telnxo":
        del data["balance_warning"], data["balance_critical"]
        data.update(quota_warning_percent="80", quota_critical_percent="95")
    data[field] = value
    before = Provider.objects.values().get(pk=provider.pk)
    response = as_role(client, users, MANAGER).post(urls("p")["provider_thresholds"], data)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert list(errors) == [field] and message in errors[field][0]
    assert message in response.content.decode() and "Nothing was saved" in response.content.decode()
    assert Provider.objects.values().get(pk=provider.pk) == before
    assert not AuditEntry.objects.exists()


def test_an_edited_threshold_changes_the_next_evaluation(client, users, eu):  # noqa: F811
    def evaluate() -> set[tuple[str, str]]:
        provider = Provider.objects.get(pk=eu.pk)
        snapshot = BalanceSnapshot.objects.create(provider=provider, fetched_at=timezone.now(), amount=40)
        alerts.evaluate_balance_thresholds(provider, snapshot, runway_for(provider))
        return set(Alert.objects.filter(provider=eu).exclude(state="resolved").values_list("kind", "severity"))

    blank = {**MONEY_THRESHOLDS, "balance_warning": "", "balance_critical": ""}
    blank.update(runway_warning_hours="", runway_critical_hours="")
    client = as_role(client, users, MANAGER)
    assert client.post(urls("t23")["provider_thresholds"], blank).status_code == 302
    assert evaluate() == set()
    # Raise the warning above the current balance (40): the next poll opens a warning.
    assert client.post(urls("t23")["provider_thresholds"], {**blank, "balance_warning": "45"}).status_code == 302
    assert evaluate() == {("low_balance", "warning")}


def test_a_manager_cannot_create_or_edit_providers(client, users, eu):  # noqa: F811
    client = as_role(client, users, MANAGER)
    assert client.post(urls("t23")["provider_create"], NEW_PROVIDER).status_code == 403
    assert client.post(urls("t23")["provider_edit"], {**NEW_PROVIDER, "name": "Renamed"}).status_code == 403
    assert not Provider.objects.filter(slug="telnxo-us").exists()
    assert Provider.objects.get(slug="t23").name == "23 EU"
    body = client.get(urls("t23")["provider_detail"]).content.decode()
    assert "Edit provider" not in body


def test_an_admin_creates_a_provider_audited(client, users):  # noqa: F811
    client = as_role(client, users, ADMIN)
    response = client.post(urls("x")["provider_create"], NEW_PROVIDER)
    assert response.status_code == 302 and response["Location"] == urls("telnxo-us")["provider_detail"]
    provider = Provider.objects.get(slug="telnxo-us")
    assert (provider.kind, provider.currency, provider.options, provider.enabled) == ("telnxo", "messages", {}, True)
    entry = AuditEntry.objects.get(action="provider.create")
    assert entry.target_id == str(provider.pk) and entry.details["values"]["kind"] == "telnxo"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"options": "[1, 2]"}, "options", "Must be a JSON object"),
        ({"options": "{not json"}, "options", "Enter a valid JSON"),
        ({"options": '{"api_key": "sk_1"}'}, "options", "must not hold secrets"),
        ({"kind": "8x8", "options": '{"account_id": "a"}'}, "options", "8x8 needs: subaccount_id"),
        ({"kind": "nope"}, "kind", "Select a valid choice"),
        ({"slug": "new"}, "slug", "reserved"),
        ({"slug": "t23"}, "slug", "already exists"),
        ({"base_url": "not a url"}, "base_url", "Enter a valid URL"),
        ({"name": ""}, "name", "required"),
    ],
)
def test_a_bad_provider_form_names_the_field_and_creates_nothing(client, users, eu, changes, field, message):  # noqa: F811
    response = as_role(client, users, ADMIN).post(urls("x")["provider_create"], {**NEW_PROVIDER, **changes})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors and message in " ".join(errors[field])
    assert Provider.objects.count() == 1 and not AuditEntry.objects.exists()


def test_an_admin_edits_a_provider_and_the_kind_is_fixed_once_it_has_sends(client, users, eu):  # noqa: F811
    client = as_role(client, users, ADMIN)
    reauthenticate(client)  # a new kind with a blank URL moves the API to another host: it needs the password
    form = {**NEW_PROVIDER, "slug": "t23", "name": "23 Europe", "kind": "telephonyio", "currency": "EUR"}
    assert client.post(urls("t23")["provider_edit"], form).status_code == 302
    eu.refresh_from_db()
    assert (eu.name, eu.kind) == ("23 Europe", "telephonyio")
    entry = AuditEntry.objects.get(action="provider.change")
    assert entry.details["changes"]["name"] == ["23 EU", "23 Europe"]
    assert entry.details["changes"]["kind"] == ["23telecom", "telephonyio"]

    Send.objects.create(provider=eu, recipient="+447700900001")
    page = client.get(urls("t23")["provider_edit"]).content.decode()
    assert "Fixed: this provider already has sends." in page
    client.post(urls("t23")["provider_edit"], {**form, "kind": "telnxo", "slug": "renamed"})
    eu.refresh_from_db()
    assert (eu.kind, eu.slug) == ("telephonyio", "t23")  # neither the kind nor the slug moved


def test_watching_is_a_post_that_adds_and_removes_the_user(client, users, eu):  # noqa: F811
    client = as_role(client, users, SUPPORT)
    url = urls("t23")["provider_watch"]
    assert client.get(url).status_code == 405
    response = client.post(url, {"watch": "on"}, headers={"HX-Request": "true"})
    assert response.status_code == 200 and b"<html" not in response.content and b"Stop watching" in response.content
    assert list(eu.watchers.all()) == [users[SUPPORT]]
    client.post(url, {"watch": "on"})  # the form says what it wants: repeating it changes nothing
    assert eu.watchers.count() == 1
    response = client.post(url, {"watch": "off"})
    assert response.status_code == 302 and not eu.watchers.exists()
    assert client.post(url, {"watch": "maybe"}).status_code == 400
    assert list(AuditEntry.objects.order_by("pk").values_list("action", flat=True)) == [
        "provider.watch",
        "provider.unwatch",
    ]
    assert b"Stop watching" not in client.get(urls("t23")["provider_detail"]).content


def test_admins_see_the_keys_panel_and_no_key_material_anywhere(client, users, eu):  # noqa: F811
    old = eu.credentials.get()
    credentials.add_pending(eu, "sk_live_next_key_987654321", label="rotation Q4")
    client = as_role(client, users, ADMIN)
    detail = client.get(urls("t23")["provider_detail"]).content.decode()
    assert "Manage and rotate keys" in detail and reverse("messaging:credentials", args=["t23"]) in detail
    assert old.fingerprint in detail and f"…{old.hint}" in detail and "rotation Q4" in detail
    pages = [client.get(url).content.decode() for name, url in urls("t23").items() if name != "provider_watch"]
    pages.append(
        client.get(urls("t23")["provider_detail"], {"days": "30"}, headers={"HX-Request": "true"}).content.decode()
    )
    for body in pages:
        for credential in Credential.objects.all():
            assert credential.ciphertext not in body
        assert KEY not in body and "sk_live_next_key_987654321" not in body


def test_the_list_reads_a_fixed_number_of_queries(client, users, eu, django_assert_max_num_queries):  # noqa: F811
    client = as_role(client, users, MANAGER)
    readings(eu, 3)
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse("messaging:providers")).status_code == 200
    for n in range(8):
        provider = Provider.objects.create(name=f"P{n}", slug=f"p{n}", kind="textingblue" if n % 2 else "8x8")
        readings(provider, 50)
    with django_assert_max_num_queries(len(few)):
        assert client.get(reverse("messaging:providers")).content.count(b"<tr>") == 1 + 9


def test_the_detail_page_reads_a_fixed_number_of_queries(client, users, eu, django_assert_max_num_queries):  # noqa: F811
    client = as_role(client, users, ADMIN)
    url = urls("t23")["provider_detail"]
    readings(eu, 2)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    readings(eu, 3000, hours=24 * 29)
    now = timezone.now()
    Alert.objects.bulk_create(
        Alert(provider=eu, kind="error_spike", dedupe_key=f"s{n}", title=f"spike {n}", opened_at=now, last_seen_at=now)
        for n in range(10)
    )
    ErrorEvent.objects.bulk_create(
        ErrorEvent(provider=eu, occurred_at=now, error_code="E1", category="server") for _ in range(50)
    )
    credentials.add_pending(eu, "sk_live_next_key_987654321")
    eu.watchers.add(users[ADMIN])
    for days in ("7", "30"):
        with django_assert_max_num_queries(len(few)):
            assert client.get(url, {"days": days}).status_code == 200


def test_test_connection_polls_now_and_comes_back_to_the_provider(
    client,
    users,  # noqa: F811
    simulator,
    make_provider,
    monkeypatch,
):
    queued = []
    monkeypatch.setattr(background, "start", lambda name, args=(), **kw: queued.append((name, list(args))))
    provider = make_provider("telephonyio", simulator.root)
    client = as_role(client, users, MANAGER)
    detail = urls(provider.slug)["provider_detail"]
    assert f'name="next" value="{detail}"' in client.get(detail).content.decode()
    response = client.post(reverse("messaging:provider_poll", args=[provider.slug]), {"next": detail})
    assert response.status_code == 302 and response["Location"] == detail
    # The poll runs on a worker (never in the web request); here the test is the worker.
    assert queued == [("messaging.tasks.poll_provider", [provider.pk])]
    assert "Checking" in client.get(detail).content.decode()  # the message, on the page it came back to
    tasks.poll_provider(provider.pk)
    assert BalanceSnapshot.objects.filter(provider=provider, ok=True).count() == 1
    assert "100.00 USD" in client.get(detail).content.decode()  # the simulator's balance


@pytest.mark.parametrize(("kind", "mentions_23telecom"), [("23telecom", True), ("telnxo", False), ("8x8", False)])
def test_the_poll_interval_help_is_the_vendors_own(kind, mentions_23telecom):
    from messaging.dashboard.provider_forms import ThresholdsForm

    provider = Provider.objects.create(name=kind, slug=f"p-{kind}", kind=kind)
    help_text = ThresholdsForm(instance=provider).fields["poll_interval_seconds"].help_text
    assert help_text.startswith("At least 60 seconds")
    assert ("23 Telecom" in help_text) is mentions_23telecom


def test_a_new_providers_options_start_blank_not_null():
    from messaging.dashboard.provider_forms import ProviderForm

    assert "null" not in str(ProviderForm()["options"])
