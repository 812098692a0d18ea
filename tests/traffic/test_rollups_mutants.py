"""The rollups' repair paths, pinned where bin/mutation found them unpinned.

rebuild() for some providers recounts only theirs; delete() forgets only theirs; an empty
list touches nothing; counts from sends and errors written together land in both tables.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from messaging.models import ErrorEvent, ErrorRollup, Provider, Send, SendRollup
from messaging.traffic import rollups

pytestmark = pytest.mark.django_db

AT = datetime(2026, 11, 20, 10, 7, 30, tzinfo=UTC)


@pytest.fixture
def two():
    made = []
    for slug in ("one", "two"):
        provider = Provider.objects.create(name=slug, slug=slug, kind="23telecom")
        sends = Send.objects.bulk_create(
            Send(provider=provider, recipient=f"+44740012345{n}", created_at=AT + timedelta(minutes=n))
            for n in range(3)
        )
        events = ErrorEvent.objects.bulk_create(
            [
                ErrorEvent(provider=provider, error_code="INVALID_TO", category="validation", occurred_at=AT),
                ErrorEvent(provider=provider, error_code="X", category="server", occurred_at=AT, source="balance"),
            ]
        )
        rollups.record(sends=sends, errors=events)
        made.append(provider)
    return made


def counts(provider: Provider) -> tuple[int, int]:
    sends = sum(SendRollup.objects.filter(provider=provider, grain=300).values_list("sends", flat=True))
    errors = sum(ErrorRollup.objects.filter(provider=provider, grain=300).values_list("errors", flat=True))
    return sends, errors


def test_both_tables_are_counted_from_one_write(two):
    first, _ = two
    assert counts(first) == (3, 1)  # the balance-poll error is not an error of a send
    buckets = SendRollup.objects.filter(provider=first, grain=300).values_list("bucket", "sends")
    assert sorted(buckets) == [(datetime(2026, 11, 20, 10, 5, tzinfo=UTC), 3)]
    hourly = ErrorRollup.objects.get(provider=first, grain=3600)
    assert (hourly.bucket, hourly.error_code, hourly.category) == (
        datetime(2026, 11, 20, 10, tzinfo=UTC),
        "INVALID_TO",
        "validation",
    )


def test_rebuilding_some_providers_recounts_only_theirs(two):
    first, second = two
    SendRollup.objects.update(sends=99)
    ErrorRollup.objects.update(errors=99)
    rollups.rebuild([first])
    assert counts(first) == (3, 1)
    assert counts(second) == (99, 99)  # left as it was
    rollups.rebuild()
    assert counts(second) == (3, 1)
    assert SendRollup.objects.filter(provider=first).count() == 3  # one row per grain
    assert {r.bucket for r in SendRollup.objects.filter(provider=first, grain=86400)} == {
        datetime(2026, 11, 20, tzinfo=UTC)
    }


def test_rebuilding_two_providers_of_three_leaves_the_third(two):
    third = Provider.objects.create(name="three", slug="three", kind="8x8")
    rollups.record(sends=Send.objects.bulk_create([Send(provider=third, recipient="+6590012345", created_at=AT)]))
    SendRollup.objects.update(sends=99)
    rollups.rebuild(two)
    assert [counts(p)[0] for p in two] == [3, 3]
    assert counts(third)[0] == 99


def test_rebuilding_an_empty_list_touches_nothing(two):
    SendRollup.objects.update(sends=7)
    rollups.rebuild([])
    assert set(SendRollup.objects.values_list("sends", flat=True)) == {7}


def test_delete_forgets_only_the_providers_named(two):
    first, second = two
    rollups.delete([first])
    assert counts(first) == (0, 0) and counts(second) == (3, 1)


def test_buckets_are_utc_whatever_the_moment_s_zone():
    from zoneinfo import ZoneInfo

    moment = datetime(2026, 11, 20, 11, 7, tzinfo=ZoneInfo("Europe/Berlin"))  # 10:07 UTC
    assert rollups.floor(moment, timedelta(hours=1)) == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert rollups.floor(moment, timedelta(hours=1)).tzinfo == UTC
