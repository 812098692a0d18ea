"""Views: thin, typed functions. Domain logic lives in messaging/services/.

*Poll now* never calls the vendor in the web request (a hanging vendor once held a
web worker 15 s): it enqueues ``messaging.tasks.poll_provider`` by name and answers
at once with the card saying "Checking…"; htmx then asks ``provider_poll_status``
every 2 s until a newer snapshot exists (the result) or POLL_WAIT has passed ("no
answer yet"). When the broker refuses the task, the card says the poll was not
started; it is not polled in the request instead, because that is the very call
that can hang (and balances.poll_provider takes no shorter timeout).
"""

from __future__ import annotations

import logging
from copy import copy
from dataclasses import replace
from datetime import datetime

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from messaging import background
from messaging.dashboard import overview_data as overview_service
from messaging.dashboard.http import HtmxHttpRequest
from messaging.models import Provider
from messaging.vault.permissions import requires

log = logging.getLogger(__name__)

CARD = "messaging/overview.html#card"
POLL_TASK = "messaging.tasks.poll_provider"
NOT_STARTED = (
    "The poll was not started: the background queue is not answering, so scheduled polls wait too. "
    "Try again in a minute; if this keeps happening, tell an admin."
)
NO_ANSWER = "No answer yet; the worker may be busy. This card updates itself when the result arrives."
MAX_PENDING = 100  # poll tokens read back from one refresh: more cards than that are not waiting at once


@requires("messaging.view_provider")
def overview(request: HtmxHttpRequest) -> HttpResponse:
    """Provider cards and open alerts; htmx reloads the ``#live`` fragment every 30 s (static/sendwatch/app.js)."""
    cards = overview_service.with_pending_polls(overview_service.provider_cards(), _pending_polls(request))
    context = {
        "cards": cards,
        "alerts": overview_service.open_alerts() if request.user.has_perm("messaging.view_alert") else [],
        "failovers": overview_service.failover_count(),
    }
    template = "messaging/overview.html#live" if request.htmx else "messaging/overview.html"
    return render(request, template, context)


def _pending_polls(request: HtmxHttpRequest) -> dict[str, datetime]:
    """Cards still saying "Checking…": the refresh sends their ``slug:token`` back (``hx-include``)."""
    now = timezone.now()
    pending = {}
    for value in request.GET.getlist("poll_pending")[:MAX_PENDING]:
        slug, _, token = value.partition(":")
        requested_at = overview_service.poll_requested_at(token, now)
        if slug and requested_at is not None:
            pending[slug] = requested_at
    return pending


@requires("messaging.poll_provider")
@require_POST
def provider_poll(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """Start a balance poll on a worker: the card ("Checking…") for htmx, else a message and back to ``next``."""
    provider = get_object_or_404(Provider, slug=slug)
    requested_at = timezone.now()
    try:
        background.start(POLL_TASK, [provider.pk], retry=False)  # the id only, never a secret
    except Exception:  # kombu raises several types when the broker is away
        log.warning("broker unavailable; Poll now of %s was not started", provider.slug, exc_info=True)
        if request.htmx:
            return render(request, CARD, {"card": overview_service.provider_card(provider), "poll_result": NOT_STARTED})
        messages.error(request, f"{provider.name}: {NOT_STARTED}")
        return _back(request)
    card = overview_service.provider_card(provider)
    if card.latest is not None and card.latest.fetched_at > requested_at:  # eager Celery, or a very quick worker
        return _poll_result(request, card)
    if request.htmx:
        return render(request, CARD, {"card": replace(card, poll_token=overview_service.poll_token(requested_at))})
    messages.info(request, f"Checking {provider.name} now: the result shows here in a few seconds (reload if not).")
    return _back(request)


@requires("messaging.poll_provider")
@require_GET
def provider_poll_status(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """What a "Checking…" card asks every 2 s: 204 while the poll is on its way, then the card with the result.

    ``since`` is the poll token from the card. Without a valid one, the card as it is (which stops the asking).
    """
    provider = get_object_or_404(Provider, slug=slug)
    requested_at = overview_service.poll_requested_at(request.GET.get("since"))
    if requested_at is None:
        return render(request, CARD, {"card": overview_service.provider_card(provider)})
    if overview_service.answered(provider, requested_at):
        card = overview_service.provider_card(provider)
        return render(request, CARD, {"card": card, "poll_result": card_note(card)})
    if overview_service.waiting_too_long(requested_at):
        return render(request, CARD, {"card": overview_service.provider_card(provider), "poll_result": NO_ANSWER})
    return HttpResponse(status=204)  # htmx swaps nothing and asks again


def card_note(card: overview_service.ProviderCard) -> str:
    """Poll now's result as the card says it: the summary without the status detail.

    The card already shows that detail (the reason for a status other than OK) just above its
    figures; the full summary repeated it, so a Low card said the same sentence three times.
    """
    provider = copy(card.provider)
    provider.status_detail = ""
    return overview_service.poll_summary(replace(card, provider=provider))


def _poll_result(request: HtmxHttpRequest, card: overview_service.ProviderCard) -> HttpResponse:
    summary = overview_service.poll_summary(card)
    if request.htmx:
        return render(request, CARD, {"card": card, "poll_result": card_note(card)})
    level = messages.SUCCESS if card.latest is not None and card.latest.ok else messages.WARNING
    messages.add_message(request, level, summary)
    return _back(request)


def _back(request: HtmxHttpRequest) -> HttpResponse:
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(target)
    return redirect("overview")
