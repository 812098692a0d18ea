"""The error-rate breakdown: page, HTMX partials, drill-down and CSV export.

Filters live in the query string (provider slugs, channel, window, group), so a
link can be shared and the back button works; ErrorFilterForm reads them. One view
serves the full page and its ``#results`` partial when the request comes from htmx.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TypedDict
from urllib.parse import quote_plus, urlencode

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.text import Truncator

from messaging.dashboard.breakdown import (
    DEFAULT_WINDOW,
    SEND_SOURCES,
    SPARKLINE_ROWS,
    WINDOWS,
    Breakdown,
    BreakdownRow,
    Window,
    breakdown,
    custom_window,
    export_rows,
    preset_window,
)
from messaging.dashboard.charts import StackedChart, fixed, sparkline, stacked_bars
from messaging.dashboard.codes import entry_url
from messaging.dashboard.csv_export import csv_response
from messaging.dashboard.filters import FilterForm, MomentField, ProvidersField, one_of
from messaging.dashboard.http import HtmxHttpRequest
from messaging.models import Channel, ErrorEvent, Provider
from messaging.vault.permissions import requires

DRILLDOWN_LIMIT = 50
WINDOW_CHOICES = [*WINDOWS, "custom"]
MOMENT_EXAMPLE = "a date or date and time, such as 2026-11-20 or 2026-11-20T08:00"


class ErrorFilterForm(FilterForm):
    """The Errors page's filters (and its CSV's), bound to the query string.

    Cleans to what :func:`breakdown` takes: ``provider`` (the providers; None for all),
    ``channel`` ("" for all), ``window`` (a Window) and ``group``; ``rows`` is "all" for
    the whole table. A From or To date (``start``, ``end``) makes the window custom
    whatever ``window`` says, so a date typed in is never silently ignored.
    """

    provider = ProvidersField(required=False)
    channel = one_of("channel", Channel.values)
    window = one_of("window", WINDOW_CHOICES, default=DEFAULT_WINDOW)
    start = MomentField(required=False, error_messages={"invalid": f"start must be {MOMENT_EXAMPLE}"})
    end = MomentField(required=False, error_messages={"invalid": f"end must be {MOMENT_EXAMPLE}"})
    group = one_of("group", ["code", "category"], default="code", message="group must be 'code' or 'category'")
    rows = one_of("rows", ["all"], message="rows must be 'all', or left out for the codes with the most errors")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if any(name in self.errors for name in ("window", "start", "end")):
            return data
        start, end = data.get("start"), data.get("end")
        if start is None and end is None and data["window"] != "custom":
            data["window"] = preset_window(data["window"])
            return data
        if start is None:
            self.add_error("start", "a custom window needs a start")
        if end is None:
            self.add_error("end", "a custom window needs an end")
        if start is not None and end is not None:
            try:
                data["window"] = custom_window(start, end)
            except ValueError as problem:
                self.add_error(None, str(problem))
        return data

    @property
    def window_key(self) -> str:
        """The window to show as chosen: custom as soon as From or To is filled in."""
        if self["start"].value() or self["end"].value():
            return "custom"
        key = self["window"].value()
        return key if key in WINDOW_CHOICES else DEFAULT_WINDOW

    @property
    def window_switched(self) -> bool:
        """From or To made the window custom though the Window menu says otherwise."""
        return self.window_key == "custom" and self["window"].value() != "custom"


class ErrorCodeForm(ErrorFilterForm):
    """The drill-down's filters: the page's, with exactly one provider and one vendor error ``code``."""

    code = forms.CharField(required=False, strip=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()  # ErrorFilterForm.clean: the cleaned data
        if not self.errors and (len(data["provider"] or []) != 1 or not data["code"]):
            raise ValidationError("choose one provider and one error code")
        return data


@requires("messaging.view_errorevent")
def errors(request: HtmxHttpRequest) -> HttpResponse:
    form = ErrorFilterForm(request.GET)
    context: dict[str, Any] = {
        "all_providers": Provider.objects.order_by("name"),
        "channels": Channel.choices,
        "windows": WINDOW_CHOICES,
        "form": form,
    }
    if form.is_valid():
        data = form.cleaned_data
        result = breakdown(data["window"], providers=data["provider"], channel=data["channel"], group=data["group"])
        # By default the rows that have a trend; the long tail is a link (and always in the CSV).
        shown = result.rows if data["rows"] == "all" else result.rows[:SPARKLINE_ROWS]
        context.update(
            result=result,
            chart=_chart(result),
            **_chart_share(result),
            chart_table=_chart_table(result),
            table=_table(request, result.group, shown),
            hidden_rows=len(result.rows) - len(shown),
        )
    template = "messaging/errors.html#results" if request.htmx else "messaging/errors.html"
    return render(request, template, context, status=200 if form.is_valid() else 400)


def _chart(result: Breakdown) -> StackedChart:
    """The stacked chart: the top codes (or categories) as the breakdown chose them, then "other", quiet.

    Its time axis runs from the first bucket's start to the last one's end.
    """
    _, step = result.window.buckets()
    starts = result.bucket_starts
    return stacked_bars(
        [(s.label, s.rates) for s in result.series],
        starts=starts,
        end=starts[-1] + step if starts else None,
        unit="per 100 sends",
    )


def _chart_share(result: Breakdown) -> dict[str, Any]:
    """How much the chart's named series carry: their count, the count folded into "other", their share in %."""
    named = [s for s in result.series if s.label != "other"]
    carried = sum(row.errors for row in result.rows[: len(named)])
    return {
        "chart_named": len(named),
        "chart_other": max(len(result.rows) - len(named), 0),
        "chart_named_share": fixed(100.0 * carried / result.total_errors, 0) if result.total_errors else "0",
    }


class ChartRow(TypedDict):
    """One chart bucket as numbers, listed under the chart ("The chart's numbers") for screen readers and checks."""

    start: datetime
    errors: int
    sends: int
    series: list[tuple[str, int]]  # (series label, its errors in the bucket), as stacked in the chart


def _chart_table(result: Breakdown) -> list[ChartRow]:
    """The chart's buckets as numbers; the first starts where the window does (a chart bucket may start earlier)."""
    return [
        ChartRow(
            start=max(start, result.window.start),
            errors=result.bucket_errors[index],
            sends=result.bucket_sends[index],
            series=[(series.label, series.errors[index]) for series in result.series],
        )
        for index, start in enumerate(result.bucket_starts)
    ]


class TableRow(TypedDict):
    """One row of the breakdown table as text, formatted once in Python.

    A template loop over ~170 rows with links, filters and property lookups in each
    was most of the page's time; the template now only places these strings (a dict:
    the template engine looks keys up before attributes).
    """

    provider: str
    provider_slug: str
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
            provider_slug=row.provider.slug if row.provider else "",
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
def error_code_events(request: HtmxHttpRequest) -> HttpResponse:
    """Drill-down: the latest events of one code at one provider, with the vendor's advice."""
    form = ErrorCodeForm(request.GET)
    context: dict[str, Any] = {"form": form, "code": form["code"].value() or ""}
    if form.is_valid():
        data = form.cleaned_data
        [provider], code, window = data["provider"], data["code"], data["window"]
        events = (
            ErrorEvent.objects.filter(
                provider=provider,
                error_code=code,
                source__in=SEND_SOURCES,
                occurred_at__gte=window.start,
                occurred_at__lt=window.end,
            )
            .select_related("send")
            .order_by("-occurred_at")[:DRILLDOWN_LIMIT]
        )
        entry = provider.adapter_class.errors.get(code)
        context.update(
            provider=provider,
            entry=entry,
            events=events,
            limit=DRILLDOWN_LIMIT,
            window=window,
            catalogue_url=entry_url(provider.kind, code),
        )
    template = "messaging/error_code.html#events" if request.htmx else "messaging/error_code.html"
    return render(request, template, context, status=200 if form.is_valid() else 400)


@requires("messaging.view_errorevent")
def errors_export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """CSV of the breakdown with the same query parameters as the page."""
    form = ErrorFilterForm(request.GET)
    if not form.is_valid():
        problems = "".join(f"{problem}\n" for problem in form.problems)
        return HttpResponse(problems, status=400, content_type="text/plain; charset=utf-8")
    data = form.cleaned_data
    result = breakdown(
        data["window"], providers=data["provider"], channel=data["channel"], group=data["group"], trends=False
    )
    return csv_response(export_rows(result), export_filename(data["window"]))


def export_filename(window: Window) -> str:
    """The CSV's name states its window, as the page does: sendwatch-errors-24h-20261120T1300Z-20261121T1300Z.csv."""
    bounds = "-".join(moment.astimezone(UTC).strftime("%Y%m%dT%H%MZ") for moment in (window.start, window.end))
    return f"sendwatch-errors-{window.key}-{bounds}.csv"
