"""The alerts pages: the list, one alert with its history and notifications, acknowledge and resolve.

Filters live in the query string, so a link can be shared and the back button
works; AlertFilterForm reads them. One view serves the full page and its
``#alert-rows`` partial for htmx.
Acknowledge and resolve are POSTs that answer htmx with the ``#alert-lifecycle``
fragment and plain forms with a redirect and a message.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from django import forms
from django.contrib import messages
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from messaging.alerts import lifecycle as alerts
from messaging.alerts.runway import runway_for_providers
from messaging.alerts.spikes import evidence_window
from messaging.dashboard import alert_list
from messaging.dashboard.filters import CursorField, FilterForm, ProviderField, one_of
from messaging.dashboard.http import HtmxHttpRequest
from messaging.models import Alert, AlertEvent, Notification, Provider
from messaging.vault.permissions import requires

DETAIL_TEMPLATE = "messaging/alert_detail.html"
# Kinds whose page shows the provider's balance and runway now.
BALANCE_KINDS = (Alert.Kind.LOW_BALANCE, Alert.Kind.QUOTA_NEAR, Alert.Kind.BALANCE_BLOCKED)


class AlertFilterForm(FilterForm):
    """The alerts list's filters, bound to the query string: :class:`alert_list.AlertFilters`' values and ``after``."""

    state = one_of("state", [str(key) for key in alert_list.TAB_STATES], default=alert_list.ACTIVE)
    provider = ProviderField(required=False)
    kind = one_of("kind", Alert.Kind.values)
    severity = one_of("severity", Alert.Severity.values)
    after = CursorField(alert_list.decode_cursor)

    def filters(self) -> alert_list.AlertFilters:
        """The cleaned filters as the alert list's query functions take them."""
        data = self.cleaned_data
        return alert_list.AlertFilters(data["state"], data["provider"], data["kind"], data["severity"])


class NoteForm(forms.Form):
    note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


@requires("messaging.view_alert")
def alerts_page(request: HtmxHttpRequest) -> HttpResponse:
    form = AlertFilterForm(request.GET)
    context: dict[str, Any] = {
        "providers": Provider.objects.order_by("name"),
        "kinds": Alert.Kind.choices,
        "severities": Alert.Severity.choices,
        "form": form,
    }
    if form.is_valid():
        context["filters"] = form.filters()
        context["page"] = alert_list.page(context["filters"], form.cleaned_data["after"])
    template = "messaging/alerts.html#alert-rows" if request.htmx else "messaging/alerts.html"
    return render(request, template, context, status=200 if form.is_valid() else 400)


@requires("messaging.view_alert")
def alert_detail(request: HttpRequest, pk: int) -> HttpResponse:
    alert = _alert(pk)
    shows_balance = alert.kind in BALANCE_KINDS
    runway = None
    # Support reads alerts but not balance history: today's runway is for those who may see balances.
    if shows_balance and alert.provider and request.user.has_perm("messaging.view_balancesnapshot"):
        runway = runway_for_providers([alert.provider]).get(alert.provider.pk)
    context = {
        **_lifecycle_context(alert, NoteForm()),
        "runway": runway,
        "shows_balance": shows_balance,
        "evidence": evidence_links(alert),
    }
    return render(request, DETAIL_TEMPLATE, context)


def evidence_links(alert: Alert) -> dict[str, Any] | None:
    """Links to the Errors page for exactly the alert's provider and evidence window, one per top code.

    The window (whole 5-minute buckets covering the one the alert's counts are from) is written in
    the reader's time zone, as the page's From and To inputs show and read it.
    """
    if alert.kind != Alert.Kind.ERROR_SPIKE or alert.provider is None:
        return None
    evidence = evidence_window(alert)
    if evidence is None:
        return None
    start, end = (timezone.localtime(moment) for moment in evidence)
    provider = {"provider": alert.provider.slug}
    window = {"window": "custom", "start": _moment(start), "end": _moment(end)}
    codes = []
    for row in alert.details.get("top_codes") or []:
        if isinstance(row, dict) and isinstance(row.get("code"), str):
            link = f"{reverse('messaging:error_code')}?{urlencode({**provider, 'code': row['code'], **window})}"
            codes.append({"code": row["code"], "count": row.get("count"), "url": link})
    errors = f"{reverse('messaging:errors')}?{urlencode({**provider, **window})}"
    return {"start": start, "end": end, "errors_url": errors, "codes": codes}


def _moment(local: datetime) -> str:
    """A From or To value in the reader's zone; in UTC (with ``Z``) for the hour a clock change makes ambiguous."""
    if local.replace(fold=0).utcoffset() == local.replace(fold=1).utcoffset():
        return f"{local:%Y-%m-%dT%H:%M}"
    return f"{local.astimezone(UTC):%Y-%m-%dT%H:%MZ}"


@requires("messaging.view_alert", "messaging.acknowledge_alert")
@require_POST
def alert_acknowledge(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _change(request, pk, alerts.acknowledge, "Alert acknowledged.")


@requires("messaging.view_alert", "messaging.acknowledge_alert")
@require_POST
def alert_resolve(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _change(request, pk, alerts.resolve, "Alert resolved.")


def _change(request: HtmxHttpRequest, pk: int, action, outcome: str) -> HttpResponse:
    """Run one lifecycle action; a bad note or a resolved alert changes nothing and says why."""
    alert = get_object_or_404(Alert, pk=pk)
    form = NoteForm(request.POST)
    problem = ""
    if not form.is_valid():
        problem = "; ".join(str(message) for message in form.errors["note"])
    else:
        try:
            action(alert, request.user, form.cleaned_data["note"])
        except alerts.AlertStateError as refused:
            problem = str(refused)
    if request.htmx:
        context = _lifecycle_context(_alert(pk), form if problem else NoteForm())
        context.update(problem=problem, outcome="" if problem else outcome)
        return render(request, f"{DETAIL_TEMPLATE}#alert-lifecycle", context, status=400 if problem else 200)
    if problem:
        messages.error(request, problem)
    else:
        messages.success(request, outcome)
    return redirect("messaging:alert_detail", pk=pk)


def _alert(pk: int) -> Alert:
    return get_object_or_404(
        Alert.objects.select_related("provider", "acknowledged_by", "resolved_by").prefetch_related(
            Prefetch(
                "events",
                queryset=AlertEvent.objects.select_related("actor")
                .order_by("at", "id")
                .prefetch_related(Prefetch("notifications", queryset=Notification.objects.order_by("id"))),
            )
        ),
        pk=pk,
    )


def _lifecycle_context(alert: Alert, form: NoteForm) -> dict:
    for event in alert.events.all():
        for notification in event.notifications.all():
            # For the template only, so not a model attribute.
            setattr(notification, "shown_recipient", shown_recipient(notification))  # noqa: B010
    return {"alert": alert, "form": form, "problem": "", "outcome": ""}


def shown_recipient(notification: Notification) -> str:
    """An email address as is; a webhook by its host only: Slack-style URLs carry a secret token in the path."""
    if notification.channel == Notification.Channel.WEBHOOK:
        parts = urlsplit(notification.recipient)
        return f"{parts.scheme}://{parts.hostname or '?'}/…"
    return notification.recipient
