"""The error-rate breakdown: page, HTMX partials, drill-down and CSV export.

Filters live in the query string (provider slugs, channel, window, group), so a
link can be shared and the back button works. One view serves the full page and
its ``#results`` partial when the request comes from htmx.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TypedDict
from urllib.parse import quote_plus, urlencode

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils.text import Truncator

from messaging.dashboard.breakdown import (
    SEND_SOURCES,
    SPARKLINE_ROWS,
    WINDOWS,
    BadFilter,
    BreakdownRow,
    Window,
    breakdown,
    export_rows,
    parse_window,
)
from messaging.dashboard.charts import fixed, sparkline, stacked_bars
from messaging.dashboard.csv_export import csv_response
from messaging.dashboard.filters import one_of, providers_named
from messaging.models import Channel, ErrorEvent, Provider
from messaging.vault.permissions import requires
from providers import get_adapter_class

DRILLDOWN_LIMIT = 50


@dataclass
class ErrorFilters:
    providers: list[Provider] | None  # None: all providers
    channel: str
    window: Window
    group: str
    all_rows: bool  # the whole table, not only the codes with the most errors

    @classmethod
    def from_query(cls, params: QueryDict) -> ErrorFilters:
        slugs = [s for s in params.getlist("provider") if s]
        providers = providers_named(slugs) if slugs else None
        channel = one_of(params.get("channel", ""), Channel.values, "channel")
        group = params.get("group", "code") or "code"
        if group not in ("code", "category"):
            raise BadFilter("group must be 'code' or 'category'")
        rows = params.get("rows", "")
        if rows not in ("", "all"):
            raise BadFilter("rows must be 'all', or left out for the codes with the most errors")
        window = parse_window(params.get("window"), params.get("start"), params.get("end"))
        return cls(providers, channel, window, group, all_rows=rows == "all")


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
        # By default the rows that have a trend; the long tail is a link (and always in the CSV).
        shown = result.rows if filters.all_rows else result.rows[:SPARKLINE_ROWS]
        context.update(
            result=result,
            chart=stacked_bars([(s.label, s.rates) for s in result.series]),
            table=_table(request, result.group, shown),
            hidden_rows=len(result.rows) - len(shown),
        )
    template = "messaging/errors.html#results" if request.htmx else "messaging/errors.html"
    return render(request, template, context, status=400 if problem else 200)


class TableRow(TypedDict):
    """One row of the breakdown table as text, formatted once in Python.

    A template loop over ~170 rows with links, filters and property lookups in each
    was most of the page's time; the template now only places these strings (a dict:
    the template engine looks keys up before attributes).
    """

    provider: str
    code: str
    link: str  # the drill-down, as {% querystring provider=… code=… group=None %} builds it
    description: str  # the vendor's description, shortened
    category: str
    errors: str
    share: str
    rate: str
    change: str
    sparkline: str  # SVG polyline points; "" for rows without one


def _table(request: HttpRequest, group: str, rows: list[BreakdownRow]) -> list[TableRow]:
    link = _drilldown_link_format(request) if group == "code" else ""
    return [
        TableRow(
            provider=row.provider.name if row.provider else "",
            code=row.key,
            link=link.format(provider=quote_plus(row.provider.slug if row.provider else ""), code=quote_plus(row.key)),
            description=_shortened(row.description),
            category=row.category,
            errors=str(row.errors),
            share=fixed(row.share, 1),
            rate=fixed(row.rate, 2) if row.rate is not None else "—",
            change=_signed_percent(row.change),
            sparkline=sparkline(row.sparkline) if row.sparkline else "",
        )
        for row in rows
    ]


def _drilldown_link_format(request: HttpRequest) -> str:
    """The drill-down URL with {provider} and {code} slots, where {% querystring %} would put them.

    The page's other parameters are encoded once rather than once per row; encoded
    text holds no braces, so str.format fills only the two slots.
    """
    params = request.GET.copy()
    params.pop("group", None)
    params["provider"] = params["code"] = ""  # in place when the query has them, else appended in this order
    parts = []
    for key, values in params.lists():
        if key in ("provider", "code"):
            parts.append(f"{key}={{{key}}}")
        else:
            parts.extend(urlencode({key: value}) for value in values)
    return f"{reverse('messaging:error_code')}?{'&'.join(parts)}"


def _signed_percent(change: float | None) -> str:
    """+12% / -3% / — for a change that may be missing."""
    return "—" if change is None else f"{change:+.0f}%"


@lru_cache(maxsize=2048)
def _shortened(description: str) -> str:
    """The description cut to 90 characters, as truncatechars:90 does; the catalogue's texts repeat on every page."""
    return Truncator(description).chars(90)


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
    result = breakdown(
        filters.window, providers=filters.providers, channel=filters.channel, group=filters.group, trends=False
    )
    return csv_response(export_rows(result), f"sendwatch-errors-{filters.window.key}.csv")
