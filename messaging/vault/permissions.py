"""Server-side access control for every view, and the "sudo mode" for key actions.

Every view in the URLconf carries exactly one of two marks, and a test generated
from the URLconf fails for any view that has neither:

- ``@requires("app.perm", ...)``: anonymous users are sent to the login page (an
  ``HX-Redirect`` for htmx requests), logged-in users without every listed
  permission get 403. ``@requires()`` with no permission means "any logged-in user".
- ``@public``: intentionally open (login, health, the simulator mount, the
  token-authenticated ingest API, which checks its own bearer tokens).

``@recent_auth_required`` (stack it under ``@requires``) asks for the password
again unless it was entered within ``SENDWATCH_REAUTH_SECONDS`` in this session.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django_htmx.http import HttpResponseClientRedirect

from messaging.vault.roles import page_is_for

View = Callable[..., HttpResponseBase]

REAUTH_SESSION_KEY = "sendwatch_reauth_at"


def requires(*perms: str) -> Callable[[View], View]:
    """Log-in plus every permission in ``perms``; marks the view with ``required_permissions``."""
    for perm in perms:
        if "." not in perm:
            raise ValueError(f"permission {perm!r} must be 'app_label.codename'")

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return login_redirect(request)
            if not request.user.has_perms(perms):
                raise PermissionDenied(page_is_for(*perms))
            return view(request, *args, **kwargs)

        _mark(wrapped, "required_permissions", tuple(perms))
        return wrapped

    return decorator


def public(view: View) -> View:
    """Mark a view as intentionally open to anonymous users."""
    _mark(view, "public", True)
    return view


def _mark(view: View, name: str, value: object) -> None:
    """Set a marker attribute on a view function (read with getattr, as :func:`is_marked` does)."""
    setattr(view, name, value)


def is_marked(view: object) -> bool:
    return getattr(view, "public", False) is True or isinstance(getattr(view, "required_permissions", None), tuple)


def login_redirect(request: HttpRequest) -> HttpResponse:
    if getattr(request, "htmx", False):
        # An htmx request would swap the login page into a fragment: send the browser there instead.
        url = resolve_url(settings.LOGIN_URL) + "?" + urlencode({"next": _htmx_origin(request)})
        return HttpResponseClientRedirect(url)
    return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)


def _htmx_origin(request: HttpRequest) -> str:
    """The page the htmx request came from (same host only), else the request's own path."""
    current = getattr(request.htmx, "current_url_abs_path", None)  # type: ignore[attr-defined]  # set by django-htmx middleware
    if current and url_has_allowed_host_and_scheme(current, allowed_hosts={request.get_host()}):
        return current
    return request.get_full_path()


# -- re-authentication ("sudo mode") --------------------------------------------------


def reauth_seconds() -> int:
    return int(settings.SENDWATCH_REAUTH_SECONDS)


def mark_reauthenticated(request: HttpRequest) -> None:
    request.session[REAUTH_SESSION_KEY] = time.time()


def forget_reauthentication(request: HttpRequest) -> None:
    request.session.pop(REAUTH_SESSION_KEY, None)


def recently_authenticated(request: HttpRequest) -> bool:
    at = request.session.get(REAUTH_SESSION_KEY)
    return isinstance(at, (int, float)) and 0 <= time.time() - at <= reauth_seconds()


def reauth_seconds_left(request: HttpRequest) -> int:
    at = request.session.get(REAUTH_SESSION_KEY)
    if not isinstance(at, (int, float)):
        return 0
    return max(0, int(reauth_seconds() - (time.time() - at)))


def recent_auth_required(view: View) -> View:
    """Ask for the password again before the view runs, unless it was entered recently.

    A POST that arrives without a fresh re-authentication changes nothing: the
    browser is sent to the prompt, and back to the page it came from afterwards
    (a GET never replays a POST).
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
        if recently_authenticated(request):
            return view(request, *args, **kwargs)
        if request.method == "GET":
            back = request.get_full_path()
        else:
            referer = request.headers.get("referer", "")
            back = referer if url_has_allowed_host_and_scheme(referer, allowed_hosts={request.get_host()}) else "/"
        if getattr(request, "htmx", False):
            back = _htmx_origin(request)
        url = reverse("messaging:reauth") + "?" + urlencode({"next": back})
        if getattr(request, "htmx", False):
            return HttpResponseClientRedirect(url)
        return HttpResponseRedirect(url)

    _mark(wrapped, "requires_recent_auth", True)
    return wrapped
