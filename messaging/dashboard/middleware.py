"""Show times in the reader's own time zone.

static/sendwatch/app.js stores the browser's IANA zone in the ``sendwatch_tz``
cookie; this middleware activates it for the request. A missing or unknown value
falls back to ``settings.TIME_ZONE``: the cookie is user input.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from functools import lru_cache

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

TIMEZONE_COOKIE = "sendwatch_tz"
# The longest IANA names are about 30 characters; anything far longer is not one.
MAX_ZONE_LENGTH = 64


@lru_cache(maxsize=256)
def zone_named(name: str) -> zoneinfo.ZoneInfo | None:
    """The zone called ``name``, or None when it is not a valid IANA zone name."""
    if not name or len(name) > MAX_ZONE_LENGTH:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


class UserTimezoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = zone_named(request.COOKIES.get(TIMEZONE_COOKIE, ""))
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            # Threads serve many requests: never let one reader's zone leak into the next.
            timezone.deactivate()
