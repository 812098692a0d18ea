from __future__ import annotations

import pytest
from django.urls import reverse

from providers import ADAPTERS

pytestmark = pytest.mark.django_db


def test_the_catalogue_lists_every_code_of_every_vendor(client, viewer):
    client.force_login(viewer)
    body = client.get(reverse("messaging:codes")).content.decode()
    assert body.count('<th scope="row">') == sum(len(a.errors) for a in ADAPTERS.values())


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
