from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse

from messaging.dashboard.codes import PAGE_SIZE
from providers import ADAPTERS

pytestmark = pytest.mark.django_db


def listed(body: str) -> list[tuple[str, str]]:
    return re.findall(r'<tr data-kind="([^"]+)" data-key="([^"]*)">', body)


def test_the_catalogue_lists_every_code_of_every_vendor_once_across_its_pages(client, viewer):
    client.force_login(viewer)
    catalogued = {(a.kind, code) for a in ADAPTERS.values() for code in a.errors}
    seen: list[tuple[str, str]] = []
    for number in range(1, -(-len(catalogued) // PAGE_SIZE) + 1):
        body = client.get(reverse("messaging:codes"), {"page": number}).content.decode()
        rows = listed(body)
        assert len(rows) == min(PAGE_SIZE, len(catalogued) - len(seen))
        assert f"Page {number} of {-(-len(catalogued) // PAGE_SIZE)}" in body
        seen += rows
    assert len(seen) == len(set(seen)) and set(seen) == {(k, html.escape(c)) for k, c in catalogued}


def test_the_catalogue_filters_by_vendor_category_and_exact_code(client, viewer):
    client.force_login(viewer)
    url = reverse("messaging:codes")
    rows = listed(client.get(url, {"kind": "telnxo", "category": "balance"}).content.decode())
    expected = {c for c, e in ADAPTERS["telnxo"].errors.items() if str(e.category) == "balance"}
    assert rows and {code for _, code in rows} == expected and all(kind == "telnxo" for kind, _ in rows)
    one = client.get(url, {"kind": "8x8", "code": "1002"}).content.decode()
    assert listed(one) == [("8x8", "1002")] and "Show every code of this vendor" in one


@pytest.mark.parametrize(
    "params", [{"page": "two"}, {"page": "0"}, {"kind": "pigeon"}, {"category": "oops"}, {"q": "x" * 201}]
)
def test_a_bad_catalogue_filter_is_a_400_naming_it(client, viewer, params):
    client.force_login(viewer)
    response = client.get(reverse("messaging:codes"), params)
    assert response.status_code == 400 and "<tr data-kind" not in response.content.decode()


def test_a_page_past_the_end_shows_the_last_page(client, viewer):
    client.force_login(viewer)
    body = client.get(reverse("messaging:codes"), {"kind": "8x8", "page": 999}).content.decode()
    pages = -(-len(ADAPTERS["8x8"].errors) // PAGE_SIZE)
    assert f"Page {pages} of {pages}" in body or pages == 1


def test_search_and_live_counts(client, viewer, traffic):
    client.force_login(viewer)
    response = client.get(
        reverse("messaging:codes"), {"q": "invalid_to", "kind": "23telecom"}, headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert "<html" not in body and "INVALID_TO" in body and "INSUFFICIENT_BALANCE" not in body
    assert '<td class="num" data-figure="errors">8</td>' in body  # errors on sends in the 24 h window


def test_the_decoder_normalizes_a_pasted_response(client, viewer):
    client.force_login(viewer)
    response = client.post(
        reverse("messaging:decode"),
        {
            "kind": "textingblue",
            "status": "429",
            "headers": "Retry-After: 30",
            "body": '{"error": {"code": "rate_limited", "message": "Rate limit exceeded. Retry after 15 seconds."}}',
        },
        headers={"HX-Request": "true"},
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "rate_limited" in body and "after 30 s" in body and "<html" not in body


def test_the_decoder_explains_bad_input(client, viewer):
    client.force_login(viewer)
    response = client.post(reverse("messaging:decode"), {"kind": "nope", "status": "abc", "headers": "junk"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "choose a vendor" in body and "100 to 599" in body and "Retry-After: 15" in body


def test_decoding_needs_post(client, viewer):
    client.force_login(viewer)
    assert client.get(reverse("messaging:decode")).status_code == 405
