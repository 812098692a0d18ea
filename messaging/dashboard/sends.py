"""The send log: search, keyset pages, one send's attempts and errors, CSV export."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from messaging.dashboard import send_log
from messaging.dashboard.csv_export import csv_response
from messaging.models import Provider, Send, SendStatus
from messaging.vault.permissions import requires


@requires("messaging.view_send")
def sends(request: HttpRequest) -> HttpResponse:
    providers = list(Provider.objects.order_by("name").only("slug", "name"))
    context = {"providers": providers, "statuses": SendStatus.choices, "problem": ""}
    try:
        search = send_log.SendSearch.from_query(request.GET)
        context["page"] = send_log.page(search, request.GET.get("after") or None)
        context["rows"] = send_log.rows(context["page"].sends, providers)
    except send_log.BadFilter as problem:
        context["problem"] = str(problem)
    template = "messaging/sends.html#rows" if request.htmx else "messaging/sends.html"
    return render(request, template, context, status=400 if context["problem"] else 200)


@requires("messaging.view_send")
def send_detail(request: HttpRequest, pk: int) -> HttpResponse:
    send = get_object_or_404(Send.objects.select_related("provider"), pk=pk)
    return render(
        request,
        "messaging/send_detail.html",
        {
            "send": send,
            "attempts": send.attempt_rows.order_by("number"),
            "events": send.error_events.order_by("occurred_at"),
        },
    )


@requires("messaging.view_send")
def sends_export(request: HttpRequest) -> HttpResponse:
    try:
        search = send_log.SendSearch.from_query(request.GET)
    except send_log.BadFilter as problem:
        return HttpResponse(f"{problem}\n", status=400, content_type="text/plain; charset=utf-8")
    return csv_response(send_log.export(search), "sendwatch-sends.csv")
