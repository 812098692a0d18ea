"""Every vendor's error codes with their meaning, advice and live counts; and the decoder.

The live counts are the errors of sends per vendor and code in the Errors page's 24 h
window, counted by messaging.traffic.figures as every other page counts them.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from messaging.dashboard.http import HtmxHttpRequest
from messaging.traffic.figures import errors_by, preset_window
from messaging.vault.permissions import requires
from providers import ADAPTERS, parse_error

MAX_DECODE_BODY = 256 * 1024
COUNTS_WINDOW = "24h"  # a preset of the Errors page


@requires("messaging.view_errorevent")
def codes(request: HtmxHttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip().lower()
    kind = request.GET.get("kind", "")
    window = preset_window(COUNTS_WINDOW)
    counts = errors_by(window, "provider__kind", "error_code")
    entries = [
        {"kind": adapter.kind, "label": adapter.label, "entry": entry, "count": counts.get((adapter.kind, code), 0)}
        for adapter in ADAPTERS.values()
        if not kind or adapter.kind == kind
        for code, entry in adapter.errors.items()
        if not query or query in f"{code} {entry.description} {entry.resolution} {entry.category}".lower()
    ]
    context = {"entries": entries, "kinds": _kinds(), "query": query, "kind": kind, "window": window}
    template = "messaging/codes.html#catalogue" if request.htmx else "messaging/codes.html"
    return render(request, template, context)


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
        context["decoded"] = parse_error(kind, status, body, headers)
    template = "messaging/codes.html#decoded" if request.htmx else "messaging/codes.html"
    return render(request, template, context, status=400 if problems else 200)


def _kinds() -> list[tuple[str, str]]:
    # (kind, label) pairs: templates would call an adapter class instead of reading its attributes.
    return [(adapter.kind, adapter.label) for adapter in ADAPTERS.values()]
