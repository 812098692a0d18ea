"""The permission decorators and the re-authentication window, pinned where bin/mutation found gaps.

The decorators are applied here, at test time: mutmut chooses a mutant after the project's
views were decorated at import, so only decorators applied inside a test can show a change.
"""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.http import HttpResponse
from django.test import RequestFactory
from django_htmx.middleware import HtmxDetails

from messaging.vault import permissions
from messaging.vault.permissions import (
    REAUTH_SESSION_KEY,
    forget_reauthentication,
    is_marked,
    login_redirect,
    public,
    reauth_seconds_left,
    recent_auth_required,
    recently_authenticated,
    requires,
)


def view(request):
    return HttpResponse("ok")


def request(path: str = "/sends/?q=1", *, htmx_from: str | None = None, at: float | None = None):
    headers = {"HX-Request": "true", "HX-Current-URL": htmx_from} if htmx_from else {}
    made = RequestFactory().get(path, headers=headers)
    made.user = AnonymousUser()
    made.session = SessionStore()
    if at is not None:
        made.session[REAUTH_SESSION_KEY] = at
    if htmx_from:
        made.htmx = HtmxDetails(made)
    return made


def test_requires_marks_the_view_with_its_permissions():
    wrapped = requires("messaging.view_send", "messaging.view_errorevent")(view)
    assert wrapped.required_permissions == ("messaging.view_send", "messaging.view_errorevent")
    assert is_marked(wrapped) and wrapped.__name__ == "view"


def test_requires_refuses_a_permission_without_its_app():
    with pytest.raises(ValueError) as raised:
        requires("view_send")
    assert str(raised.value) == "permission 'view_send' must be 'app_label.codename'"


def test_public_and_recent_auth_mark_the_view():
    def other(request):
        return HttpResponse()

    assert not is_marked(other)
    assert public(other) is other and other.public is True and is_marked(other)
    assert recent_auth_required(view).requires_recent_auth is True


@pytest.mark.parametrize("value", [1, "yes", None])
def test_only_true_marks_a_view_public(value):
    def other(request):
        return HttpResponse()

    other.public = value
    assert not is_marked(other)
    other.required_permissions = ["messaging.view_send"]  # a list is no mark: requires() sets a tuple
    assert not is_marked(other)


def test_an_anonymous_page_request_goes_to_the_login_page_and_back():
    response = login_redirect(request("/sends/?q=1"))
    assert (
        response.status_code == 302
        and response["Location"] == f"/accounts/login/?next={quote('/sends/?q=1', safe='/')}"
    )


def test_an_anonymous_htmx_request_sends_the_browser_to_log_in_and_back_to_its_page():
    response = login_redirect(request("/errors/code/?code=X", htmx_from="http://testserver/errors/?window=7d"))
    assert response["HX-Redirect"] == "/accounts/login/?next=%2Ferrors%2F%3Fwindow%3D7d"


def test_an_htmx_request_from_another_host_returns_to_its_own_path():
    response = login_redirect(request("/errors/code/?code=X", htmx_from="https://evil.example/steal"))
    assert response["HX-Redirect"] == "/accounts/login/?next=%2Ferrors%2Fcode%2F%3Fcode%3DX"


def test_the_reauthentication_window_includes_both_ends(monkeypatch, settings):
    settings.SENDWATCH_REAUTH_SECONDS = 300
    now = 1_800_000_000.0
    monkeypatch.setattr(permissions.time, "time", lambda: now)
    assert recently_authenticated(request(at=now))
    assert recently_authenticated(request(at=now - 300))
    assert not recently_authenticated(request(at=now - 301))
    assert not recently_authenticated(request(at=now + 5))  # a clock from the future is not trusted
    assert not recently_authenticated(request(at=None))


def test_seconds_left_count_down_to_zero(monkeypatch, settings):
    settings.SENDWATCH_REAUTH_SECONDS = 300
    now = 1_800_000_000.0
    monkeypatch.setattr(permissions.time, "time", lambda: now)
    assert reauth_seconds_left(request(at=now - 100)) == 200
    assert reauth_seconds_left(request(at=now - 1_000)) == 0
    assert reauth_seconds_left(request()) == 0


def test_forgetting_removes_the_mark_and_is_safe_without_one():
    marked = request(at=time.time())
    forget_reauthentication(marked)
    assert REAUTH_SESSION_KEY not in marked.session
    forget_reauthentication(request())  # nothing to forget: no error
