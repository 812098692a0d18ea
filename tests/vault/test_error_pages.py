"""Refused and missing pages look like the rest of Sendwatch and say what role a page needs."""

from __future__ import annotations

import logging

import pytest
from django.urls import reverse

from messaging.dashboard.logfilters import ForbiddenInOneLine
from messaging.vault.roles import ACCOUNT_MANAGER

pytestmark = pytest.mark.django_db


def test_a_refused_page_has_the_navigation_and_names_the_roles_it_is_for(users, client):
    client.force_login(users[ACCOUNT_MANAGER])
    response = client.get(reverse("messaging:sends"))
    assert response.status_code == 403
    html = response.content.decode()
    assert 'nav aria-label="Main"' in html and "app.css" in html
    assert "This page is for the Support and Admin roles." in html


def test_a_missing_page_has_the_navigation(users, client):
    client.force_login(users[ACCOUNT_MANAGER])
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert 'nav aria-label="Main"' in response.content.decode()


def test_a_refused_page_logs_one_line_without_a_traceback(users, client, caplog, settings):
    client.force_login(users[ACCOUNT_MANAGER])
    with caplog.at_level(logging.WARNING, logger="django.request"):
        client.get(reverse("messaging:sends"))
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert ForbiddenInOneLine().filter(record) is True
    assert record.exc_info is None and "Forbidden" in record.getMessage()
    assert "forbidden_in_one_line" in settings.LOGGING["handlers"]["console"]["filters"]
