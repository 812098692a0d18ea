"""The send log: search, keyset pages, one send's attempts and errors, CSV export.

Filters live in the query string, so a link can be shared and the back button works;
SendFilterForm reads them. One view serves the full page and its ``#rows`` partial for htmx.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render

from messaging.dashboard import send_log
from messaging.dashboard.csv_export import csv_response
from messaging.dashboard.filters import CursorField, FilterForm, IsoDateField, ProviderField, one_of
from messaging.dashboard.http import HtmxHttpRequest
from messaging.models import Provider, Send, SendStatus
from messaging.vault.permissions import requires

MAX_SEARCH_LENGTH = 320  # longer text is cut: no recipient or id is longer


class SendFilterForm(FilterForm):
    """The send log's filters (and its CSV's), bound to the query string.

    Cleans to :class:`send_log.SendSearch`'s values (``q`` is its ``text``) and the page's
    cursor, ``after``. ``since`` and ``until`` read the parameters ``from`` and ``to``,
    which are Python keywords.
    """

    PARAMETERS = {"since": "from", "until": "to"}

    q = forms.CharField(
        required=False, error_messages={"null_characters_not_allowed": "q must not hold null characters"}
    )
    status = one_of("status", SendStatus.values)
    provider = ProviderField(required=False)
    since = IsoDateField(required=False, error_messages={"invalid": "'from' must be a date such as 2026-11-20"})
    until = IsoDateField(required=False, error_messages={"invalid": "'to' must be a date such as 2026-11-20"})
    after = CursorField(send_log.decode_cursor)

    def add_prefix(self, field_name: str) -> str:
        return super().add_prefix(self.PARAMETERS.get(field_name, field_name))

    def clean_q(self) -> str:
        return self.cleaned_data["q"][:MAX_SEARCH_LENGTH]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error(None, "'to' must not be before 'from'")
        return data

    def search(self) -> send_log.SendSearch:
        """The cleaned filters as the send log's query functions take them."""
        data = self.cleaned_data
        return send_log.SendSearch(data["q"], data["status"], data["provider"], data["since"], data["until"])


class SendExportForm(SendFilterForm):
    """The CSV has every match, so it has no pages: ``after`` is not read."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["after"]


@requires("messaging.view_send")
def sends(request: HtmxHttpRequest) -> HttpResponse:
    providers = list(Provider.objects.order_by("name").only("slug", "name"))
    form = SendFilterForm(request.GET)
    context: dict[str, Any] = {"providers": providers, "statuses": SendStatus.choices, "form": form}
    if form.is_valid():
        search = form.search()
        context["endings"] = search.recipient_endings
        context["page"] = send_log.page(search, form.cleaned_data["after"])
        context["rows"] = send_log.rows(context["page"].sends, providers)
    template = "messaging/sends.html#rows" if request.htmx else "messaging/sends.html"
    return render(request, template, context, status=200 if form.is_valid() else 400)


@requires("messaging.view_send")
def send_detail(request: HttpRequest, pk: int) -> HttpResponse:
    send = get_object_or_404(Send.objects.select_related("provider"), pk=pk)
    attempts = list(send.attempt_rows.order_by("number"))
    events = list(send.error_events.order_by("occurred_at"))
    return render(
        request,
        "messaging/send_detail.html",
        {
            "send": send,
            "attempts": attempts,
            "facts": send_log.call_facts(send, attempts),  # what the log's row says too
            # What happened and what to do: the send's last error first, then each event's own.
            "advice": send_log.advice(send.provider, send.error_code, send.created_at) if send.error_code else None,
            "events": [(e, send_log.advice(send.provider, e.error_code, e.occurred_at)) for e in events],
        },
    )


@requires("messaging.view_send")
def sends_export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    form = SendExportForm(request.GET)
    if not form.is_valid():
        problems = "".join(f"{problem}\n" for problem in form.problems)
        return HttpResponse(problems, status=400, content_type="text/plain; charset=utf-8")
    return csv_response(send_log.export(form.search()), "sendwatch-sends.csv")
