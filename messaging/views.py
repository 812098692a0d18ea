"""Views: thin, typed functions. Domain logic lives in messaging/services.py."""

from __future__ import annotations

import io

from django.conf import settings
from django.db import connection
from django.db.models import Count, OuterRef, Q, Subquery
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from messaging.models import BalanceSnapshot, Provider
from messaging.permissions import public, requires


@requires("messaging.view_provider")
def overview(request: HttpRequest) -> HttpResponse:
    since = timezone.now() - timezone.timedelta(hours=24)
    latest = BalanceSnapshot.objects.filter(provider=OuterRef("pk")).order_by("-fetched_at")
    providers = Provider.objects.annotate(
        balance_amount=Subquery(latest.values("amount")[:1]),
        balance_used=Subquery(latest.values("used")[:1]),
        balance_limit=Subquery(latest.values("limit")[:1]),
        balance_at=Subquery(latest.values("fetched_at")[:1]),
        errors_24h=Count("error_events", filter=Q(error_events__occurred_at__gte=since)),
    ).order_by("name")
    return render(request, "messaging/overview.html", {"providers": providers})


@public
@never_cache
def health(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers: answers only when the database does."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok", "database": connection.vendor})


@public
@csrf_exempt
def simulator(request: HttpRequest, rest: str) -> HttpResponse:
    """Hand the request to the vendor simulator's WSGI app, mounted at /sim/."""
    if not settings.SENDWATCH_SIMULATOR_ENABLED:
        raise Http404("The vendor simulator is not enabled (SENDWATCH_SIMULATOR).")
    from providers.simulator import make_app, shared_state

    environ = dict(request.META)
    environ.update(
        {
            "SCRIPT_NAME": request.path[: len(request.path) - len(rest)].rstrip("/"),
            "PATH_INFO": "/" + rest,
            "wsgi.input": io.BytesIO(request.body),
            "CONTENT_LENGTH": str(len(request.body)),
        }
    )
    captured: dict = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info=None):
        captured["status"], captured["headers"] = status, headers

    chunks = make_app(shared_state())(environ, start_response)
    body = b"".join(chunks)
    response = HttpResponse(body, status=int(captured["status"].split()[0]))
    for name, value in captured["headers"]:
        response[name] = value
    return response
