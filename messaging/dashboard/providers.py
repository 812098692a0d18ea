"""Provider pages: the list, one provider's state, its thresholds, watching it, and (admins) creating and editing.

One view serves a full page and, for htmx, its fragment. Every change is a POST,
saved in one transaction with its audit entry (messaging/services/providers.py).
An edit that moves the API to another origin (scheme://host:port) needs the password
re-entered first, as key actions do: the provider's keys are bound to the origin they
were verified for (docs/security.md, "Keys bound to their host").
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods, require_POST

from messaging.dashboard import providers_data as service
from messaging.dashboard.http import HtmxHttpRequest
from messaging.dashboard.provider_forms import ProviderForm, ThresholdsForm, threshold_rows
from messaging.models import Provider
from messaging.vault.actor import Actor
from messaging.vault.permissions import recently_authenticated, requires

DETAIL_TEMPLATE = "messaging/provider_detail.html"
THRESHOLDS_TEMPLATE = "messaging/provider_thresholds.html"
FORM_TEMPLATE = "messaging/provider_form.html"
PROVIDER_FIELDS = ProviderForm.Meta.fields


@requires("messaging.view_provider")
def provider_list(request: HttpRequest) -> HttpResponse:
    rows = service.provider_rows(Provider.objects.order_by("name"))
    return render(request, "messaging/providers.html", {"rows": rows})


@requires("messaging.view_provider")
def provider_detail(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    provider = get_object_or_404(service.with_latest_reading(Provider.objects.all()), slug=slug)
    days = request.GET.get("days", str(service.HISTORY_DAYS[0]))
    if days not in {str(d) for d in service.HISTORY_DAYS}:
        return HttpResponse("days must be 7 or 30\n", status=400, content_type="text/plain; charset=utf-8")
    detail = service.provider_detail(
        provider, request.user, days=int(days), with_credentials=request.user.has_perm("messaging.manage_credentials")
    )
    if request.htmx:
        return render(request, f"{DETAIL_TEMPLATE}#history", {"provider": provider, "detail": detail})
    context = {
        "provider": provider,
        "detail": detail,
        "threshold_rows": threshold_rows(provider),
    }
    if request.user.has_perm("messaging.edit_thresholds"):
        context["form"] = ThresholdsForm(instance=provider)
    return render(request, DETAIL_TEMPLATE, context)


@requires("messaging.edit_thresholds")
@require_http_methods(["GET", "POST"])
def provider_thresholds(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    provider = get_object_or_404(Provider, slug=slug)
    form = ThresholdsForm(request.POST or None, instance=provider)
    context: dict[str, Any] = {"provider": provider, "form": form}
    if request.method == "POST":
        before = service.snapshot_of(provider, form.fields)  # validating the form changes the instance
        if form.is_valid():
            changed = service.save_thresholds(Actor.from_request(request), form.instance, before)
            outcome = _thresholds_outcome(provider, form, changed)
            if not request.htmx:
                messages.success(request, outcome)
                return redirect("messaging:provider_detail", slug=slug)
            context.update(form=ThresholdsForm(instance=provider), saved=outcome)
    if request.htmx:
        # A refused form is still a 200 here: the fragment carries the errors next to their fields, and a
        # 4xx would also be logged as a failed request in the browser console.
        return render(request, f"{THRESHOLDS_TEMPLATE}#form", context)
    return render(request, THRESHOLDS_TEMPLATE, context, status=400 if form.errors else 200)


def _thresholds_outcome(provider: Provider, form: ThresholdsForm, changed: dict[str, list]) -> str:
    if not changed:
        return "Nothing changed."
    items = "; ".join(
        f"{form.fields[name].label} {_shown(old)} → {_shown(new)}" for name, (old, new) in changed.items()
    )
    text = f"Thresholds saved: {items}. They take effect at the next evaluation (the next balance poll or error check)."
    if provider.kind == "23telecom" and provider.poll_interval_seconds < 300:
        text += " Note: 23 Telecom asks to be polled no more often than every 300 seconds."
    return text


def _shown(value) -> str:
    return "not checked" if value is None else str(value)


@requires("messaging.view_provider")
@require_POST
def provider_watch(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """Start or stop emailing the current user this provider's alerts (the form says which: idempotent)."""
    provider = get_object_or_404(Provider, slug=slug)
    wanted = request.POST.get("watch")
    if wanted not in ("on", "off"):
        return HttpResponse("watch must be 'on' or 'off'\n", status=400, content_type="text/plain; charset=utf-8")
    service.set_watching(Actor.from_request(request), provider, wanted == "on")
    outcome = (
        f"You now get {provider.name}'s alert emails."
        if wanted == "on"
        else f"You no longer get {provider.name}'s alert emails."
    )
    if request.htmx:
        context = {"provider": provider, "watching": wanted == "on", "watch_outcome": outcome}
        return render(request, f"{DETAIL_TEMPLATE}#watch", context)
    messages.success(request, outcome)
    return redirect("messaging:provider_detail", slug=slug)


@requires("messaging.add_provider")
@require_http_methods(["GET", "POST"])
def provider_create(request: HttpRequest) -> HttpResponse:
    form = ProviderForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        provider = form.save(commit=False)
        service.save_provider(Actor.from_request(request), provider, None, PROVIDER_FIELDS)
        messages.success(request, f"{provider.name} created. Add its API key next, then test the connection.")
        return redirect("messaging:provider_detail", slug=provider.slug)
    status = 400 if request.method == "POST" else 200
    return render(request, FORM_TEMPLATE, {"form": form, "provider": None}, status=status)


@requires("messaging.change_provider")
@require_http_methods(["GET", "POST"])
def provider_edit(request: HttpRequest, slug: str) -> HttpResponse:
    provider = get_object_or_404(Provider, slug=slug)
    before = service.snapshot_of(provider, PROVIDER_FIELDS)
    saved_host = {"origin": provider.api_origin, "custom": provider.uses_custom_host}
    form = ProviderForm(request.POST or None, instance=provider)
    if request.method == "POST" and form.is_valid():
        edited = form.save(commit=False)
        moved = service.origin_change(before, edited)
        if moved is not None and not recently_authenticated(request):
            # As for key actions: nothing changes, the browser goes to the password prompt and back
            # to this page (a POST is never replayed). The keys would follow the URL to the new host.
            messages.warning(
                request,
                f"Nothing was saved: moving {before['name']}'s API from {moved[0]} to {moved[1]} needs your "
                "password again. Confirm it, then make the change again.",
            )
            back = reverse("messaging:provider_edit", args=[slug])
            return redirect(reverse("messaging:reauth") + "?" + urlencode({"next": back}))
        changed = service.save_provider(Actor.from_request(request), edited, before, PROVIDER_FIELDS)
        if moved is not None:
            hints = ", ".join("…" + credential.hint for credential in service.keys_to_verify(edited))
            messages.warning(
                request,
                f"{provider.name} saved. Its API moved from {moved[0]} to {moved[1]}"
                + (f": its keys ({hints}) are not sent there until each is verified again." if hints else "."),
            )
        else:
            messages.success(request, f"{provider.name} saved." if changed else "Nothing changed.")
        return redirect("messaging:provider_detail", slug=slug)
    status = 400 if request.method == "POST" else 200
    # The name as saved: a refused form has already changed the instance in memory.
    context = {"form": form, "provider": provider, "saved_name": before["name"], "saved_host": saved_host}
    return render(request, FORM_TEMPLATE, context, status=status)
