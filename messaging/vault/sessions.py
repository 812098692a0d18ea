"""Idle sessions end after SESSION_COOKIE_AGE without a request, at the cost of one write a minute.

Django's SESSION_SAVE_EVERY_REQUEST gives that timeout by writing the session row on every
request: a transaction and a commit per page view and per 30-second refresh. This middleware
renews the session (a save, which moves its expiry) only when the last renewal is older than
SENDWATCH_SESSION_RENEW_SECONDS, so a session ends between SESSION_COOKIE_AGE minus that and
SESSION_COOKIE_AGE after the last request.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse

RENEWED_AT = "sendwatch_renewed_at"


class IdleSessionMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is not None and session.session_key and request.user.is_authenticated:
            now = time.time()
            renewed = session.get(RENEWED_AT)
            if not isinstance(renewed, (int, float)) or now - renewed >= settings.SENDWATCH_SESSION_RENEW_SECONDS:
                session[RENEWED_AT] = now  # modified: SessionMiddleware saves it with a fresh expiry
        return self.get_response(request)


@receiver(user_logged_in, dispatch_uid="sendwatch-session-renewed-at-login")
def renewed_at_login(sender: object, request: HttpRequest | None, **kwargs: object) -> None:
    """Logging in saves the session with a fresh expiry: the next minute needs no renewal."""
    if request is not None and hasattr(request, "session"):
        request.session[RENEWED_AT] = time.time()
