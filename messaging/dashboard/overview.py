"""Views: thin, typed functions. Domain logic lives in messaging/services/."""

from __future__ import annotations

import io

from django.conf import settings
from django.contrib import messages
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from messaging.alerts import balances
from messaging.dashboard import overview_data as overview_service
from messaging.models import Provider
from messaging.vault.permissions import public, requires


@requires("messaging.view_provider")
def overview(request: HttpRequest) -> HttpResponse:
    """Provider cards and open alerts; htmx reloads the ``#live`` fragment every 30 s (static/sendwatch/app.js)."""
    context = {
        "cards": overview_service.provider_cards(),
        "alerts": overview_service.open_alerts() if request.user.has_perm("messaging.view_alert") else [],
    }
    template = "messaging/overview.html#live" if request.htmx else "messaging/overview.html"
    return render(request, template, context)


@requires("messaging.poll_provider")
@require_POST
def provider_poll(request: HttpRequest, slug: str) -> HttpResponse:
    """Poll one provider's balance now: its card for htmx, else a message and back to ``next``."""
    provider = get_object_or_404(Provider, slug=slug)
    # Never raises for a vendor or key problem: those become a failed snapshot and a status.
    balances.poll_provider(provider)
    card = overview_service.provider_card(provider)
    summary = overview_service.poll_summary(card)
    if request.htmx:
        return render(request, "messaging/overview.html#card", {"card": card, "poll_result": summary})
    level = messages.SUCCESS if card.latest is not None and card.latest.ok else messages.WARNING
    messages.add_message(request, level, summary)
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(target)
    return redirect("overview")


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
