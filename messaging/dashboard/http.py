"""The request type of the dashboard's views.

django-htmx's ``HtmxMiddleware`` (config/settings.py) sets ``request.htmx`` on every
request; ``HttpRequest`` does not declare it. Views that read ``request.htmx`` take an
:class:`HtmxHttpRequest`, as the django-htmx documentation recommends, so the type
checker knows the attribute. This is for type checking only: at run time the request
is Django's own ``HttpRequest``.
"""

from __future__ import annotations

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails
