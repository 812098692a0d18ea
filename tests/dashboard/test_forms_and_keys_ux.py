"""Issue 14 (phone, forms, keys, overview): what the pages say and do, not how they look."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from messaging.dashboard.overview import card_note
from messaging.dashboard.overview_data import poll_summary, provider_card
from messaging.dashboard.provider_forms import ProviderForm, ThresholdsForm, money_text
from messaging.models import BalanceSnapshot, Credential, Provider
from messaging.templatetags.sendwatch import ago, days_ago
from tests.vault.conftest import Urls, admin_client_no_sudo, key_admin, roles, users  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

KEY = "sk_live_phone_ux_key_9Z8y"


@pytest.fixture
def provider(make_provider):
    return make_provider("23telecom", "http://127.0.0.1:9", slug="t23-ux", key=KEY, currency="EUR")


# -- revoke asks first --------------------------------------------------------------------------


def test_revoke_get_shows_a_confirm_page_and_changes_nothing(key_admin, provider):  # noqa: F811
    credential = Credential.objects.get(provider=provider)
    response = key_admin.get(Urls(provider).revoke(credential))
    assert response.status_code == 200
    page = response.content.decode()
    assert f"Revoke key …{credential.hint} of {provider.name}" in page
    assert "Emergency revoke." in page and f"({credential.hint}) to confirm" in page
    assert 'method="post"' in page and "Cancel" in page
    assert Credential.objects.get(pk=credential.pk).state == Credential.State.ACTIVE


def test_revoke_post_with_the_last_four_revokes(key_admin, provider):  # noqa: F811
    credential = Credential.objects.get(provider=provider)
    wrong = key_admin.post(Urls(provider).revoke(credential), {"confirmation": "nope"})
    assert wrong.status_code == 400
    assert Credential.objects.get(pk=credential.pk).state == Credential.State.ACTIVE
    response = key_admin.post(Urls(provider).revoke(credential), {"confirmation": credential.hint})
    assert response.status_code == 302 and response["Location"] == Urls(provider).list
    assert Credential.objects.get(pk=credential.pk).state == Credential.State.REVOKED


def test_the_keys_page_explains_every_state_in_words(key_admin, provider):  # noqa: F811
    page = key_admin.get(Urls(provider).list).content.decode()
    assert "What the states mean" in page
    for state in Credential.State:
        assert f'data-state="{state.value}">{state.label}</span>' in page
    assert "fallback" in page and "roll back" in page and "can&#x27;t come back" in page


# -- words for times ----------------------------------------------------------------------------


def test_days_ago_says_today_not_zero_days_ago():
    assert days_ago(0) == "today"
    assert days_ago(1) == "yesterday"
    assert days_ago(12) == "12 days ago"
    assert days_ago(None) == ""


def test_ago_says_just_now_under_a_minute():
    now = timezone.now()
    assert ago(now - timedelta(seconds=5)) == "just now"
    assert ago(now + timedelta(seconds=2)) == "just now"  # a worker's clock a little ahead
    assert ago(now - timedelta(minutes=5, seconds=3)) == "5\xa0minutes ago"  # timesince's no-break space
    assert ago(None) == ""


def test_a_key_added_today_says_today(key_admin, provider):  # noqa: F811
    page = key_admin.get(reverse("messaging:credential_index")).content.decode()
    assert "added today" in page and "added 0 days" not in page


# -- forms --------------------------------------------------------------------------------------


def test_a_new_providers_options_are_blank():
    field = str(ProviderForm()["options"])
    assert "null" not in field and "{}" not in field
    assert field.endswith("\n</textarea>")  # nothing between the tags


def test_blank_options_save_as_an_empty_object(admin_client):
    response = admin_client.post(
        reverse("messaging:provider_create"),
        {"name": "Blank", "slug": "blank", "kind": "telnxo", "currency": "messages", "options": "", "enabled": "on"},
    )
    assert response.status_code == 302
    assert Provider.objects.get(slug="blank").options == {}


def test_the_enabled_checkbox_sits_before_its_label(admin_client):
    page = admin_client.get(reverse("messaging:provider_create")).content.decode()
    checkbox = page.index('type="checkbox" name="enabled"')
    assert 'class="field check-field wide"' in page
    assert checkbox < page.index('<label for="id_enabled">')
    assert 'class="form-actions"' in page


def test_money_has_two_decimals_unless_more_carry_something():
    assert money_text(Decimal("375.0000")) == "375.00"
    assert money_text(Decimal("12.3450")) == "12.345"
    assert money_text(Decimal("0.5000")) == "0.50"
    assert money_text(Decimal("10")) == "10.00"


def test_the_thresholds_page_shows_money_in_the_providers_currency(admin_client, provider):
    Provider.objects.filter(pk=provider.pk).update(balance_warning=Decimal("375.0000"))
    page = admin_client.get(reverse("messaging:provider_thresholds", args=[provider.slug])).content.decode()
    assert 'value="375.00"' in page and "375.0000" not in page
    assert '<span class="unit">EUR</span>' in page
    assert "In EUR. Blank: not checked." in page


def test_a_plan_providers_thresholds_have_no_money_fields(make_provider):
    plan = make_provider("telnxo", "http://127.0.0.1:9", slug="plan-ux", currency="messages")
    form = ThresholdsForm(instance=plan)
    assert "balance_warning" not in form.fields
    assert all(getattr(field, "unit", None) is None for field in form.fields.values())


# -- overview: Poll now says the status detail once ---------------------------------------------


def test_the_cards_poll_note_leaves_the_status_detail_to_the_card(provider):
    BalanceSnapshot.objects.create(
        provider=provider, fetched_at=timezone.now(), amount=Decimal("200.50"), currency="EUR"
    )
    detail = "Balance 200.50 EUR, below the warning 225.00"
    Provider.objects.filter(pk=provider.pk).update(status="low", status_detail=detail)
    card = provider_card(Provider.objects.get(pk=provider.pk))
    assert detail in poll_summary(card)  # the message on other pages keeps the reason
    note = card_note(card)
    assert note == f"{provider.name}: 200.50 EUR, status Low." and detail not in note
    assert card.provider.status_detail == detail  # the card itself is left as it was


def test_after_poll_now_the_card_says_the_reason_once(admin_client, simulator, make_provider, eager_celery):
    provider = make_provider("23telecom", simulator.root, slug="t23-low", key=KEY, currency="EUR")
    Provider.objects.filter(pk=provider.pk).update(balance_warning=Decimal("100000000"))
    fragment = admin_client.post(
        reverse("messaging:provider_poll", args=[provider.slug]), headers={"HX-Request": "true"}
    ).content.decode()
    status_detail = Provider.objects.get(pk=provider.pk).status_detail
    assert status_detail and fragment.count(status_detail) == 1
    assert 'class="status-detail status-low"' in fragment
    # The note sits above the card's actions, so every card's footer lines up at its bottom.
    assert fragment.index('class="poll-result') < fragment.index('class="provider-card-actions"')
