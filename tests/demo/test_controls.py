"""The demo's simulator controls: run a vendor dry, refuse its key, restore it, send test messages."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from messaging.demo.simulator import demo_state, forget_demo_state
from messaging.models import AuditEntry, Provider, Route, RouteStep, Send

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(settings, admin_user):
    settings.SENDWATCH_SIMULATOR_ENABLED = True
    forget_demo_state()
    first = Provider.objects.create(name="23 EU", slug="eu-first", kind="23telecom")
    second = Provider.objects.create(name="8x8", slug="apac-second", kind="8x8")
    route = Route.objects.create(slug="otp", name="OTP")
    RouteStep.objects.create(route=route, provider=first, position=1)
    RouteStep.objects.create(route=route, provider=second, position=2)
    yield first
    forget_demo_state()


def test_drain_refuse_and_restore_change_the_simulated_vendor_and_are_audited(client, admin_user, demo):
    client.force_login(admin_user)
    url = lambda action: reverse("messaging:simulator_action", args=[demo.slug, action])  # noqa: E731
    assert client.post(url("drain")).status_code == 302
    account = demo_state().account("23telecom", "eu-first")
    assert account.config.balance == Decimal("0.00")
    client.post(url("refuse_key"))
    assert account.config.valid_keys == ["a-key-nobody-has"]
    client.post(url("restore"))
    assert account.config.balance == Decimal("500.00") and account.config.valid_keys == []
    actions = list(AuditEntry.objects.order_by("pk").values_list("action", flat=True))
    assert actions == ["simulator.drain", "simulator.refuse_key", "simulator.restore"]


def test_controls_need_the_simulator_an_admin_and_a_post(client, django_user_model, demo, settings, admin_user):
    url = reverse("messaging:simulator_action", args=[demo.slug, "drain"])
    client.force_login(admin_user)
    assert client.get(url).status_code == 405
    assert client.post(reverse("messaging:simulator_action", args=[demo.slug, "explode"])).status_code == 404
    settings.SENDWATCH_SIMULATOR_ENABLED = False
    assert client.post(url).status_code == 404
    settings.SENDWATCH_SIMULATOR_ENABLED = True
    viewer = django_user_model.objects.create_user("viewer", password="a-long-test-password")
    client.force_login(viewer)
    assert client.post(url).status_code == 403


def test_test_messages_go_through_the_route(client, admin_user, demo):
    from tests.conftest import store_key

    for provider in Provider.objects.all():
        store_key(provider, f"sk_demo_{provider.slug}_0123456789")
    client.force_login(admin_user)
    response = client.post(reverse("messaging:route_test_messages", args=["otp"]), follow=True)
    assert response.status_code == 200 and "20 test messages queued through otp" in response.content.decode()
    sends = Send.objects.filter(route__slug="otp")
    assert sends.count() == 20 and set(sends.values_list("provider__slug", flat=True)) == {"eu-first"}


def test_test_messages_say_why_when_no_provider_can_take_them(client, admin_user, demo):
    client.force_login(admin_user)  # no provider has a key
    response = client.post(reverse("messaging:route_test_messages", args=["otp"]), follow=True)
    assert "Nothing sent: no provider of route otp can take it" in response.content.decode()
    assert Send.objects.count() == 0


def test_the_routes_page_offers_the_controls_only_with_the_simulator(client, admin_user, demo, settings):
    client.force_login(admin_user)
    body = client.get(reverse("messaging:routes")).content.decode()
    assert "Demo simulator: make a failover happen" in body
    assert reverse("messaging:simulator_action", args=["eu-first", "drain"]) in body
    settings.SENDWATCH_SIMULATOR_ENABLED = False
    assert "Demo simulator" not in client.get(reverse("messaging:routes")).content.decode()
