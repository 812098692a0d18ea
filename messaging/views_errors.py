"""The error-rate breakdown: page, HTMX partials, drill-down and CSV export.

Filters live in the query string (provider slugs, channel, window, group), so a
link can be shared and the back button works. One view serves the full page and
its ``#results`` partial when the request comes from htmx.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render

from messaging.charts import stacked_bars
from messaging.csv_export import csv_response
from messaging.models import Channel, ErrorEvent, Provider
from messaging.permissions import requires
from messaging.services.breakdown import SEND_SOURCES, WINDOWS, BadFilter, Window, breakdown, export_rows, parse_window
from providers import get_adapter_class

DRILLDOWN_LIMIT = 50


@dataclass
class ErrorFilters:
    providers: list[Provider] | None  # None: all providers
    channel: str
    window: Window
    group: str

    @classmethod
    def from_query(cls, params: QueryDict) -> ErrorFilters:
        slugs = [s for s in params.getlist("provider") if s]
        providers = None
        if slugs:
            providers = list(Provider.objects.filter(slug__in=slugs))
            missing = sorted(set(slugs) - {p.slug for p in providers})
            if missing:
                raise BadFilter(f"unknown provider: {', '.join(missing)}")
        channel = params.get("channel", "")
        if channel and channel not in Channel.values:
            raise BadFilter(f"channel must be one of {', '.join(Channel.values)}")
        group = params.get("group", "code") or "code"
        if group not in ("code", "category"):
            raise BadFilter("group must be 'code' or 'category'")
        window = parse_window(params.get("window"), params.get("start"), params.get("end"))
        return cls(providers, channel, window, group)


def _filters_or_error(request: HttpRequest) -> tuple[ErrorFilters | None, str]:
    try:
        return ErrorFilters.from_query(request.GET), ""
    except BadFilter as problem:
        return None, str(problem)


@requires("messaging.view_errorevent")
def errors(request: HttpRequest) -> HttpResponse:
    filters, problem = _filters_or_error(request)
    context = {
        "all_providers": Provider.objects.order_by("name"),
        "channels": Channel.choices,
        "windows": [*WINDOWS, "custom"],
        "filters": filters,
        "problem": problem,
        "selected": set(request.GET.getlist("provider")),
    }
    if filters is not None:
        result = breakdown(filters.window, providers=filters.providers, channel=filters.channel, group=filters.group)
        context.update(result=result, chart=stacked_bars([(s.label, s.rates) for s in result.series]))
    template = "messaging/errors.html#results" if request.htmx else "messaging/errors.html"
    return render(request, template, context, status=400 if problem else 200)


@requires("messaging.view_errorevent")
def error_code_events(request: HttpRequest) -> HttpResponse:
    """Drill-down: the latest events of one code at one provider, with the vendor's advice."""
    filters, problem = _filters_or_error(request)
    code = request.GET.get("code", "")
    provider = filters.providers[0] if filters and filters.providers and len(filters.providers) == 1 else None
    if not problem and (provider is None or not code):
        problem = "choose one provider and one error code"
    context = {"problem": problem, "filters": filters, "code": code, "provider": provider}
    if not problem:
        entry = get_adapter_class(provider.kind).errors.get(code)
        events = (
            ErrorEvent.objects.filter(
                provider=provider,
                error_code=code,
                source__in=SEND_SOURCES,
                occurred_at__gte=filters.window.start,
                occurred_at__lt=filters.window.end,
            )
            .select_related("send")
            .order_by("-occurred_at")[:DRILLDOWN_LIMIT]
        )
        context.update(entry=entry, events=events, limit=DRILLDOWN_LIMIT)
    template = "messaging/error_code.html#events" if request.htmx else "messaging/error_code.html"
    return render(request, template, context, status=400 if problem else 200)


@requires("messaging.view_errorevent")
def errors_export(request: HttpRequest) -> HttpResponse:
    """CSV of the breakdown with the same query parameters as the page."""
    filters, problem = _filters_or_error(request)
    if problem:
        return HttpResponse(problem + "\n", status=400, content_type="text/plain; charset=utf-8")
    result = breakdown(filters.window, providers=filters.providers, channel=filters.channel, group=filters.group)
    return csv_response(export_rows(result), f"sendwatch-errors-{filters.window.key}.csv")
