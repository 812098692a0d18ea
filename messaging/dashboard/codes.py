"""Every vendor's error codes with their meaning, advice and live counts; and the decoder.

The live counts are the errors of sends per vendor and code in the Errors page's 24 h
window, counted by messaging.traffic.figures as every other page counts them.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from messaging.dashboard.filters import FilterForm, one_of
from messaging.dashboard.http import HtmxHttpRequest
from messaging.traffic.figures import errors_by, preset_window
from messaging.vault.permissions import requires
from providers import ADAPTERS, Category, parse_error

MAX_DECODE_BODY = 256 * 1024
COUNTS_WINDOW = "24h"  # a preset of the Errors page


PAGE_SIZE = 25


class CodeFilterForm(FilterForm):
    """The catalogue's filters: text search, vendor, category, one exact code, and the page."""

    q = forms.CharField(required=False, max_length=200)
    kind = one_of("kind", list(ADAPTERS))
    category = one_of("category", [str(category) for category in Category])
    code = forms.CharField(required=False, strip=False, max_length=100)
    page = forms.IntegerField(
        required=False,
        min_value=1,
        error_messages={"invalid": "page must be a number", "min_value": "page starts at 1"},
    )

    def clean_q(self) -> str:
        return self.cleaned_data["q"].strip().lower()


@requires("messaging.view_errorevent")
def codes(request: HtmxHttpRequest) -> HttpResponse:
    form = CodeFilterForm(request.GET)
    context: dict[str, Any] = {"form": form, "kinds": _kinds(), "categories": [str(c) for c in Category]}
    if form.is_valid():
        data = form.cleaned_data
        window = preset_window(COUNTS_WINDOW)
        counts = errors_by(window, "provider__kind", "error_code")
        entries = [
            {"kind": adapter.kind, "label": adapter.label, "entry": entry, "count": counts.get((adapter.kind, code), 0)}
            for adapter in ADAPTERS.values()
            if not data["kind"] or adapter.kind == data["kind"]
            for code, entry in adapter.errors.items()
            if (not data["code"] or code == data["code"])
            and (not data["category"] or str(entry.category) == data["category"])
            and (
                not data["q"] or data["q"] in f"{code} {entry.description} {entry.resolution} {entry.category}".lower()
            )
        ]
        paginator = Paginator(entries, PAGE_SIZE)
        context.update(page=paginator.get_page(data["page"] or 1), total=len(entries), window=window)
    template = "messaging/codes.html#catalogue" if request.htmx else "messaging/codes.html"
    return render(request, template, context, status=200 if form.is_valid() else 400)


def entry_url(kind: str, code: str) -> str:
    """The catalogue filtered to one vendor's code: where the send page and the drill-down link."""
    return f"{reverse('messaging:codes')}?{urlencode({'kind': kind, 'code': code})}#catalogue"


@requires("messaging.view_errorevent")
@require_POST
def decode(request: HtmxHttpRequest) -> HttpResponse:
    """Normalize a pasted vendor response. POST because bodies are long; nothing is stored."""
    kind = request.POST.get("kind", "")
    problems = []
    if kind not in ADAPTERS:
        problems.append("choose a vendor")
    try:
        status = int(request.POST.get("status", ""))
        if not 100 <= status <= 599:
            raise ValueError
    except ValueError:
        status = None
        problems.append("the HTTP status must be a number from 100 to 599")
    body = request.POST.get("body", "")
    if len(body) > MAX_DECODE_BODY:
        problems.append("the body is longer than 256 KB")
    headers = {}
    for line in request.POST.get("headers", "").splitlines():
        if line.strip():
            name, sep, value = line.partition(":")
            if not sep or not name.strip():
                problems.append(f"header lines look like 'Retry-After: 15', not {line.strip()[:40]!r}")
                break
            headers[name.strip()] = value.strip()
    context = {"problems": problems, "kinds": _kinds()}
    if not problems:
        decoded = context["decoded"] = parse_error(kind, status, body, headers)
        if decoded.details:  # as JSON, the form the vendor sent it in
            context["details_json"] = json.dumps(decoded.details, indent=2, ensure_ascii=False, default=str)
    template = "messaging/codes.html#decoded" if request.htmx else "messaging/codes.html"
    return render(request, template, context, status=400 if problems else 200)


def _kinds() -> list[tuple[str, str]]:
    # (kind, label) pairs: templates would call an adapter class instead of reading its attributes.
    return [(adapter.kind, adapter.label) for adapter in ADAPTERS.values()]
