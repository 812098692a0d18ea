"""Routes (admins): every route with its providers' live state, the sends that failed over, create, edit, delete.

Which provider takes traffic is worked out as messaging.traffic.routing.choose works it out, for
a recipient without a country, from ``routing.unusable_because`` (asked once per provider for the
whole page) and without choose's random pick among steps that share a position: those are
"split by weight". Steps are saved by replacing them all in one transaction, audited with the
steps before and after, so swapping two providers between rows never trips the one-step-per-provider
constraint half-way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import phonenumbers
from django import forms
from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.db.models import Prefetch
from django.forms.models import BaseInlineFormSet, inlineformset_factory
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from messaging.dashboard import overview_data
from messaging.models import Provider, Route, RouteStep, Send
from messaging.traffic import routing
from messaging.vault import audit
from messaging.vault.actor import Actor
from messaging.vault.permissions import requires

FORM_TEMPLATE = "messaging/route_form.html"
# "routes/new/" is the create page, so no route may be called "new".
RESERVED_SLUGS = frozenset({"new"})
ROUTE_FIELDS = ("slug", "name", "enabled")
BLANK_ROWS_NEW, BLANK_ROWS_EDIT = 3, 2
FAILOVERS_SHOWN = 20
MAX_POSITION, MAX_WEIGHT = 99, 1000


# -- forms --------------------------------------------------------------------------------------


class RouteForm(forms.ModelForm):
    class Meta:
        model = Route
        fields = ROUTE_FIELDS
        labels = {"enabled": "Enabled (the send API may use it)"}
        help_texts = {"slug": "What the send API names the route by: letters, digits, - and _."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # Callers of the send API name the route by its slug: renaming it would break them.
            self.fields["slug"].disabled = True
            self.fields["slug"].help_text = "Fixed once the route exists: senders name it by this."

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"]
        if slug in RESERVED_SLUGS:
            raise forms.ValidationError(f"“{slug}” is reserved; choose another slug.")
        return slug


def country_list(text: str) -> str:
    """Comma-separated ISO 3166 alpha-2 codes, checked and written "GB, DE"; ValidationError naming the bad ones."""
    codes: list[str] = []
    for part in text.split(","):
        code = part.strip().upper()
        if code and code not in codes:
            codes.append(code)
    unknown = [code for code in codes if code not in phonenumbers.SUPPORTED_REGIONS]
    if unknown:
        raise forms.ValidationError(
            f"Not a country code: {', '.join(unknown)}. Use ISO 3166 two-letter codes separated by commas, e.g. GB, DE."
        )
    return ", ".join(codes)


class StepForm(forms.ModelForm):
    provider = forms.ModelChoiceField(
        queryset=Provider.objects.order_by("name"), required=True, empty_label="— choose a provider —"
    )
    position = forms.IntegerField(
        min_value=1,
        max_value=MAX_POSITION,
        help_text="Lower first.",
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    weight = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_WEIGHT,
        help_text="Share among steps at the same position; blank: 1.",
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    countries = forms.CharField(
        required=False, max_length=200, help_text="e.g. GB, DE; blank: every country.", strip=True
    )

    class Meta:
        model = RouteStep
        fields = ("provider", "position", "weight", "countries")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["provider"].label_from_instance = lambda p: f"{p.name} ({p.slug})"  # type: ignore[attr-defined]

    def clean_countries(self) -> str:
        return country_list(self.cleaned_data["countries"])

    def validate_unique(self) -> None:
        """Not against the saved steps: they are all replaced on save; StepFormSet.clean checks the rows."""

    def validate_constraints(self) -> None:
        """One step per provider is checked across the rows (StepFormSet.clean), not against the saved steps."""


class StepFormSet(BaseInlineFormSet):
    def live_forms(self) -> list[forms.ModelForm]:
        """The rows that become steps: filled in and not marked for deletion."""
        return [
            form
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE") and form.cleaned_data.get("provider")
        ]

    def clean(self) -> None:
        if any(self.errors):
            return  # each row's own errors first
        live = self.live_forms()
        if not live:
            raise forms.ValidationError("A route needs at least one provider: choose one in a row below.")
        seen: dict[int, int] = {}
        repeated = []
        for number, form in enumerate(live, start=1):
            provider = form.cleaned_data["provider"]
            if provider.pk in seen:
                form.add_error(
                    "provider", f"{provider.name} is already in row {seen[provider.pk]}: one row per provider."
                )
                repeated.append(provider.name)
            else:
                seen[provider.pk] = number
        if repeated:
            raise forms.ValidationError(
                f"Each provider may appear once in a route: {', '.join(sorted(set(repeated)))} appears more than once."
            )

    def steps(self) -> list[dict[str, Any]]:
        """The steps the rows describe, by position then row order."""
        rows = [
            {
                "provider": form.cleaned_data["provider"],
                "position": form.cleaned_data["position"],
                "weight": form.cleaned_data["weight"],
                "countries": form.cleaned_data["countries"],
            }
            for form in self.live_forms()
        ]
        return sorted(rows, key=lambda row: row["position"])


def step_formset(route: Route, data: Any = None) -> StepFormSet:
    steps = list(route.steps.order_by("position", "id")) if route.pk else []
    blank = BLANK_ROWS_EDIT if steps else BLANK_ROWS_NEW
    factory = inlineformset_factory(
        Route,
        RouteStep,
        form=StepForm,
        formset=StepFormSet,
        extra=blank,
        can_delete=True,
        can_delete_extra=False,
        max_num=200,
    )
    last = max((step.position for step in steps), default=0)
    initial = [{"position": last + n} for n in range(1, blank + 1)]
    return factory(data, instance=route, prefix="steps", initial=initial)  # type: ignore[return-value]


# -- changes, audited ---------------------------------------------------------------------------


def described(steps: Iterable[RouteStep] | Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Steps as the audit log keeps them: provider slug, position, weight, countries (never anything secret)."""
    rows = []
    for step in steps:
        values = (
            step
            if isinstance(step, dict)
            else {n: getattr(step, n) for n in ("provider", "position", "weight", "countries")}
        )
        rows.append(
            {
                "provider": values["provider"].slug,
                "position": values["position"],
                "weight": values["weight"],
                "countries": values["countries"],
            }
        )
    return rows


def save_route(actor: Actor, route: Route, before: dict[str, Any] | None, steps: Sequence[dict[str, Any]]) -> bool:
    """Create (``before`` is None) or update ``route`` with exactly ``steps``, audited; True when anything changed."""
    with transaction.atomic():
        if before is None:
            route.save()
            RouteStep.objects.bulk_create(RouteStep(route=route, **step) for step in steps)
            audit.record(
                actor,
                "route.create",
                route,
                values={n: getattr(route, n) for n in ROUTE_FIELDS},
                steps=described(steps),
            )
            return True
        Route.objects.select_for_update().filter(pk=route.pk).first()  # one edit of this route at a time
        old_steps = described(routing.steps_of(route))
        new_steps = described(steps)
        changed = {
            name: [before[name], getattr(route, name)] for name in ROUTE_FIELDS if before[name] != getattr(route, name)
        }
        if not changed and old_steps == new_steps:
            return False
        if changed:
            route.save(update_fields=[*changed, "updated_at"])
        else:
            Route.objects.filter(pk=route.pk).update(updated_at=timezone.now())
        details: dict[str, Any] = {"changes": changed}
        if old_steps != new_steps:
            route.steps.all().delete()
            RouteStep.objects.bulk_create(RouteStep(route=route, **step) for step in steps)
            details["steps_before"], details["steps_after"] = old_steps, new_steps
        audit.record(actor, "route.change", route, **details)
        return True


def delete_route(actor: Actor, route: Route) -> None:
    with transaction.atomic():
        values = {n: getattr(route, n) for n in ROUTE_FIELDS}
        steps = described(routing.steps_of(route))
        audit.record(actor, "route.delete", route, values=values, steps=steps)
        route.delete()


# -- live state ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepState:
    step: RouteStep
    state: str  # "now" (takes traffic now), "split", "countries", "standby" or "unusable": the CSS class
    words: str


@dataclass(frozen=True)
class RouteState:
    route: Route
    steps: list[StepState]
    summary: str


def _weight(step: RouteStep) -> int:
    return step.weight if step.weight is not None else 1


def route_state(route: Route, steps: Sequence[RouteStep], reasons: dict[int, str]) -> RouteState:
    """Each step's live state, as routing.choose would decide for a recipient with no country.

    ``reasons`` holds routing.unusable_because of each step's provider ("" when usable).
    """
    usable = [step for step in steps if not reasons[step.provider_id]]
    everywhere = [step for step in usable if not step.country_codes]
    first = min((step.position for step in everywhere), default=None)
    sharing = [step for step in everywhere if step.position == first]
    total = sum(_weight(step) for step in sharing)
    if sharing and total == 0:
        sharing = sharing[:1]  # routing._weighted takes the first when every weight is 0
    verb = "takes" if route.enabled else "would take"
    states = []
    for step in steps:
        provider = step.provider
        reason = reasons[provider.pk]
        if reason:
            states.append(StepState(step, "unusable", f"not used: {reason}"))
        elif step.country_codes:
            earlier = [other for other in usable if other.position < step.position]
            if any(not other.country_codes for other in earlier):
                states.append(
                    StepState(step, "standby", "standby: a provider above takes its countries' traffic first")
                )
                continue
            served = set().union(*(other.country_codes for other in earlier))
            mine = sorted(step.country_codes - served)
            if mine:
                states.append(StepState(step, "countries", f"{verb} traffic to {', '.join(mine)} now"))
            else:
                states.append(StepState(step, "standby", "standby: a provider above serves its countries first"))
        elif step in sharing and len(sharing) == 1:
            states.append(StepState(step, "now", f"{verb} traffic now"))
        elif step in sharing:
            share = _weight(step) / total
            states.append(StepState(step, "split", f"split by weight: {verb} {share:.0%} of traffic now"))
        elif first is not None and step.position == first:
            states.append(StepState(step, "standby", "standby: weight 0, used when the others at its position can't"))
        else:
            states.append(StepState(step, "standby", "standby: takes traffic when the providers above fail or can't"))
    if not steps:
        summary = "No providers: no message can go through this route."
    elif not sharing:
        summary = "No provider takes traffic to recipients of every country now: see why below."
    else:
        names = " and ".join(step.provider.name for step in sharing)
        summary = (
            f"{names} {verb} traffic now." if route.enabled else f"Disabled. If enabled, {names} would take traffic."
        )
    return RouteState(route, states, summary)


def route_states(routes: Sequence[Route], now: datetime | None = None) -> list[RouteState]:
    """The state of every route; each provider is asked once whatever the number of routes it is in."""
    now = now or timezone.now()
    reasons: dict[int, str] = {}
    for route in routes:
        for step in route.steps.all():  # prefetched
            if step.provider_id not in reasons:
                reasons[step.provider_id] = routing.unusable_because(step.provider, now)
    return [route_state(route, list(route.steps.all()), reasons) for route in routes]


def routes_with_steps():
    return Route.objects.order_by("slug").prefetch_related(
        Prefetch("steps", queryset=RouteStep.objects.select_related("provider").order_by("position", "id"))
    )


def failed_over_sends(now: datetime | None = None, limit: int = FAILOVERS_SHOWN) -> list[Send]:
    """The newest sends of the last 24 h that failed over, at most ``limit`` (two queries)."""
    ids = overview_data.failed_over_ids(now)[:limit]
    sends = Send.objects.filter(pk__in=ids).select_related("provider", "route").order_by("-created_at", "-pk")
    return list(sends)


def trail(send: Send) -> str:
    """The providers a send went through, in order: "t23 → e8"."""
    slugs: list[str] = []
    for entry in send.routing:
        slug = entry.get("provider") if isinstance(entry, dict) else None
        if slug and (not slugs or slugs[-1] != slug):
            slugs.append(slug)
    return " → ".join(slugs)


# -- views ----------------------------------------------------------------------------------------


@requires("messaging.view_route")
def route_list(request: HttpRequest) -> HttpResponse:
    states = route_states(list(routes_with_steps()))
    failovers = [(send, trail(send)) for send in failed_over_sends()] if states else []
    context = {"states": states, "failovers": failovers, "simulator": settings.SENDWATCH_SIMULATOR_ENABLED}
    return render(request, "messaging/routes.html", context)


def _form_page(
    request: HttpRequest, route: Route | None, form: RouteForm, steps: StepFormSet, status: int
) -> HttpResponse:
    context = {"form": form, "steps": steps, "route": route, "saved_slug": route.slug if route else ""}
    return render(request, FORM_TEMPLATE, context, status=status)


@requires("messaging.view_route", "messaging.manage_routes")
@require_http_methods(["GET", "POST"])
def route_create(request: HttpRequest) -> HttpResponse:
    route = Route()
    form = RouteForm(request.POST or None, instance=route)
    steps = step_formset(route, request.POST or None)
    if request.method == "POST":
        if form.is_valid() and steps.is_valid():
            save_route(Actor.from_request(request), form.save(commit=False), None, steps.steps())
            messages.success(request, f"Route {route.slug} created.")
            return redirect(f"{_list_url()}#route-{route.slug}")
        return _form_page(request, None, form, steps, 400)
    return _form_page(request, None, form, steps, 200)


@requires("messaging.view_route", "messaging.manage_routes")
@require_http_methods(["GET", "POST"])
def route_edit(request: HttpRequest, slug: str) -> HttpResponse:
    route = get_object_or_404(Route, slug=slug)
    before = {name: getattr(route, name) for name in ROUTE_FIELDS}
    form = RouteForm(request.POST or None, instance=route)
    steps = step_formset(route, request.POST or None)
    if request.method == "POST":
        if form.is_valid() and steps.is_valid():
            changed = save_route(Actor.from_request(request), form.save(commit=False), before, steps.steps())
            messages.success(request, f"Route {route.slug} saved." if changed else "Nothing changed.")
            return redirect(f"{_list_url()}#route-{route.slug}")
        return _form_page(request, route, form, steps, 400)
    return _form_page(request, route, form, steps, 200)


@requires("messaging.view_route", "messaging.manage_routes")
@require_http_methods(["GET", "POST"])
def route_delete(request: HttpRequest, slug: str) -> HttpResponse:
    route = get_object_or_404(Route, slug=slug)
    if request.method == "POST":
        delete_route(Actor.from_request(request), route)
        messages.success(request, f"Route {slug} deleted.")
        return redirect("messaging:routes")
    return render(request, "messaging/route_delete.html", {"route": route, "steps": routing.steps_of(route)})


def _list_url() -> str:
    return reverse("messaging:routes")
