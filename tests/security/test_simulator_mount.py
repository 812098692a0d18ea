"""Threat: the built-in vendor simulator used from outside.

It is routed only when SENDWATCH_SIMULATOR is on (never in production), and its control API
(set balances, force errors) answers staff only.
"""

from __future__ import annotations

import importlib

import pytest
from django.urls import clear_url_caches

pytestmark = pytest.mark.django_db


@pytest.fixture
def simulator_setting(settings):
    """Set SENDWATCH_SIMULATOR_ENABLED and load the URLconf again, as a restart would."""

    def apply(enabled: bool) -> None:
        settings.SENDWATCH_SIMULATOR_ENABLED = enabled
        importlib.reload(importlib.import_module("config.urls"))
        clear_url_caches()

    yield apply
    importlib.reload(importlib.import_module("config.urls"))
    clear_url_caches()


def test_the_simulator_is_not_routed_unless_enabled(client, simulator_setting):
    simulator_setting(False)
    assert client.get("/sim/23telecom/acme/api/v1/user/balance").status_code == 404


def test_the_simulator_mount_speaks_the_vendor_api(client, simulator_setting):
    simulator_setting(True)
    response = client.get("/sim/23telecom/acme/api/v1/user/balance", HTTP_X_API_KEY="sk_test_demo_key")
    assert response.status_code == 200
    assert "balance" in response.json()


def test_the_simulator_control_api_is_for_staff_only(client, simulator_setting, admin_user, django_user_model):
    simulator_setting(True)
    assert client.post("/sim/_sim/reset").status_code == 403
    client.force_login(django_user_model.objects.create_user("plain", password="x-very-long-password"))
    assert client.post("/sim/_sim/reset").status_code == 403
    client.force_login(admin_user)
    assert client.post("/sim/_sim/reset").status_code == 200
