"""Recipient search finds what support types: last digits, national format, spaces, no plus."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from hypothesis import given
from hypothesis import strategies as st

from messaging.dashboard.send_log import SendSearch, page
from messaging.models import Provider, Send, SendStatus, recipient_key
from messaging.traffic import numbers

pytestmark = pytest.mark.django_db

US = "+14155552671"
GB = "+447700900123"


@pytest.fixture
def sends(db):
    provider = Provider.objects.create(name="23 EU", slug="t23", kind="23telecom")
    now = timezone.now()
    made = {}
    for n, recipient in enumerate([US, GB, "+447700900124", "+61491570156", "someone@example.com"]):
        made[recipient] = Send.objects.create(
            provider=provider, recipient=recipient, status=SendStatus.ACCEPTED, created_at=now - timedelta(minutes=n)
        )
    return made


def found(text: str) -> set[str]:
    return {send.recipient for send in page(SendSearch(text)).sends}


@pytest.mark.parametrize(
    "typed",
    ["+14155552671", "14155552671", "+1 415 555 2671", "+1 (415) 555-2671", "(415) 555-2671", "415.555.2671", "2671"],
)
def test_a_us_number_is_found_however_it_is_typed(sends, typed, settings):
    settings.SENDWATCH_PHONE_REGION = "US"
    assert found(typed) == {US}


def test_a_national_number_is_read_in_the_configured_region(sends, settings):
    settings.SENDWATCH_PHONE_REGION = "GB"
    assert found("07700 900123") == {GB}
    # The same digits in another region are another number: no match, rather than a wrong one.
    settings.SENDWATCH_PHONE_REGION = "US"
    assert found("07700 900123") == set()


def test_last_digits_find_every_recipient_ending_in_them(sends):
    assert found("900123") == {GB}
    assert found("7700 9001") == set()  # digits in the middle are not an ending
    assert found("00124") == {"+447700900124"}
    assert found("7009001") == set()


def test_fewer_than_four_digits_search_nothing_by_number(sends):
    assert numbers.search_suffixes("123") == []
    assert found("671") == set()


def test_text_that_is_no_number_is_matched_exactly(sends):
    assert found("someone@example.com") == {"someone@example.com"}
    assert numbers.search_suffixes("someone@example.com") == []
    assert numbers.search_suffixes("req_1234") == []


def test_the_page_says_what_it_searched_for(client, admin_user, sends, settings):
    settings.SENDWATCH_PHONE_REGION = "GB"
    client.force_login(admin_user)
    response = client.get(reverse("messaging:sends"), {"q": "07700 900123"})
    text = response.content.decode()
    assert response.status_code == 200
    assert "Recipients ending in 07700900123 or 447700900123" in text
    assert GB in text and "+447700900124" not in text


@given(st.text(max_size=60))
def test_the_key_is_the_last_digits_reversed(recipient):
    key = recipient_key(recipient)
    digits = "".join(ch for ch in recipient if ch in "0123456789")
    assert key == digits[::-1][:20]
    assert digits.endswith(key[::-1])


@given(st.from_regex(r"\+?[0-9 ()\-.]{0,30}", fullmatch=True))
def test_suffixes_are_digits_the_key_can_hold(text):
    for suffix in numbers.search_suffixes(text):
        assert suffix.isdigit() and numbers.MIN_SEARCH_DIGITS <= len(suffix) <= 20


def test_every_writer_keeps_the_key(sends):
    provider = Provider.objects.get(slug="t23")
    Send.objects.bulk_create([Send(provider=provider, recipient="+33 6 12 34 56 78")])
    moved = sends[US]
    moved.recipient = "+12025550143"
    moved.save(update_fields=["recipient"])
    rows = Send.objects.values_list("recipient", "recipient_key")
    assert all(key == recipient_key(recipient) for recipient, key in rows)
    assert found("0143") == {"+12025550143"}
    assert found("5678") == {"+33 6 12 34 56 78"}


def test_the_search_uses_the_index_on_postgresql(sends):
    if connection.vendor != "postgresql":
        pytest.fail("this test reads PostgreSQL's plan; run it with DATABASE_URL pointing at PostgreSQL")
    sql, params = SendSearch("900123").queryset(endings_only=True).values("pk")[:51].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "send_recipient_key_idx" in plan, plan


def test_the_send_page_says_what_happened_and_what_to_do_with_links(client, admin_user, traffic):
    from messaging.models import ErrorEvent

    send = Send.objects.filter(error_events__error_code="INVALID_TO").first()
    Send.objects.filter(pk=send.pk).update(status=SendStatus.FAILED, error_code="INVALID_TO")
    entry = traffic["eu"].adapter_class.errors["INVALID_TO"]
    client.force_login(admin_user)
    body = client.get(reverse("messaging:send_detail", args=[send.pk])).content.decode()
    assert "What happened" in body
    assert escape(entry.description) in body and escape(entry.resolution) in body
    assert 'href="/codes/?kind=23telecom&amp;code=INVALID_TO#catalogue"' in body
    assert "/errors/code/?provider=t23&amp;code=INVALID_TO&amp;window=24h" in body  # the shortest window holding it
    # Both links lead somewhere that shows the code.
    assert "INVALID_TO" in client.get("/codes/?kind=23telecom&code=INVALID_TO").content.decode()
    drill = client.get("/errors/code/?provider=t23&code=INVALID_TO&window=24h")
    assert drill.status_code == 200 and reverse("messaging:send_detail", args=[send.pk]) in drill.content.decode()
    assert ErrorEvent.objects.filter(send=send).exists()


def test_an_old_send_links_to_a_custom_day_around_it(client, admin_user, traffic):
    send = Send.objects.filter(provider=traffic["eu"]).first()
    Send.objects.filter(pk=send.pk).update(
        error_code="INVALID_TO", created_at=timezone.now() - timedelta(days=60), status=SendStatus.FAILED
    )
    client.force_login(admin_user)
    body = client.get(reverse("messaging:send_detail", args=[send.pk])).content.decode()
    link = re.search(r'href="(/errors/code/\?[^"]+)"', body).group(1).replace("&amp;", "&")
    assert "start=" in link and "end=" in link
    assert client.get(link).status_code == 200


def test_an_uncatalogued_code_says_so_on_the_send_page(client, admin_user, traffic):
    send = Send.objects.filter(provider=traffic["eu"]).first()
    Send.objects.filter(pk=send.pk).update(error_code="NEVER_SEEN_42", status=SendStatus.FAILED)
    client.force_login(admin_user)
    body = client.get(reverse("messaging:send_detail", args=[send.pk])).content.decode()
    assert "NEVER_SEEN_42" in body and "Not in the vendor&#x27;s catalogue" in body


def test_the_demo_generator_writes_the_key_and_real_looking_numbers(db):
    from django.core.management import call_command

    call_command("seed_demo", sends=400, days=1, no_progress=True, simulator_url="http://sim.test/sim")
    rows = list(Send.objects.values_list("recipient", "recipient_key"))
    assert len(rows) >= 400 and all(key == recipient_key(recipient) for recipient, key in rows)
    # Every demo number is a valid number of its country, so national-format search works on the demo.
    assert all(numbers.to_e164(recipient) == recipient for recipient, _ in rows[:50])


def test_pages_of_a_number_search_hold_every_match_once_newest_first(sends):
    provider = Provider.objects.get(slug="t23")
    now = timezone.now()
    Send.objects.bulk_create(
        Send(provider=provider, recipient=f"+4479110{n:02d}1234", created_at=now - timedelta(seconds=n % 7))
        for n in range(120)
    )
    # A vendor message id that is the same digits matches too, wherever it falls in time.
    Send.objects.bulk_create(
        Send(
            provider=provider, recipient="+15550000000", vendor_message_id="1234", created_at=now - timedelta(seconds=s)
        )
        for s in (0, 3, 6)
    )
    expected = list(
        Send.objects.filter(Q(recipient__endswith="1234") | Q(vendor_message_id="1234"))
        .order_by("-created_at", "-id")
        .values_list("pk", flat=True)
    )
    seen, cursor = [], None
    while True:
        current = page(SendSearch("1234"), cursor, size=17)
        seen += [send.pk for send in current.sends]
        if current.next_cursor is None:
            break
        cursor = current.next_cursor
    assert seen == expected and len(expected) == 123


def test_the_drill_down_links_recipients_only_for_roles_that_may_open_sends(client, django_user_model, traffic):
    from django.contrib.auth.models import Permission

    manager = django_user_model.objects.create_user("am", password="a-long-test-password")
    manager.user_permissions.add(*Permission.objects.filter(codename__in=["view_errorevent", "view_provider"]))
    client.force_login(manager)
    body = client.get("/errors/code/?provider=t23&code=INVALID_TO&window=24h").content.decode()
    assert "+4477009" in body and "/sends/" not in body
    manager.user_permissions.add(Permission.objects.get(codename="view_send"))
    manager = django_user_model.objects.get(pk=manager.pk)  # permissions are cached per instance
    client.force_login(manager)
    assert "/sends/" in client.get("/errors/code/?provider=t23&code=INVALID_TO&window=24h").content.decode()
