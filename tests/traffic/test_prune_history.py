"""Retention deletes old raw rows and blanks old bodies in batches, and the breakdown of old windows stays."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from messaging.dashboard.breakdown import breakdown, parse_window
from messaging.models import ErrorEvent, Provider, Send, SendAttempt
from messaging.traffic import rollups

pytestmark = pytest.mark.django_db


@pytest.fixture
def history():
    provider = Provider.objects.create(name="23 EU", slug="t23", kind="23telecom")
    now = timezone.now()
    rows = {}
    for label, days_ago in (("old", 120), ("middle", 45), ("new", 2)):
        at = now - timedelta(days=days_ago)
        sends = Send.objects.bulk_create(
            Send(provider=provider, recipient="+447700900001", body=f"{label} body", created_at=at) for _ in range(5)
        )
        events = ErrorEvent.objects.bulk_create(
            ErrorEvent(
                provider=provider, send=s, occurred_at=at, error_code="INVALID_TO", category="validation", raw_body="{}"
            )
            for s in sends[:2]
        )
        SendAttempt.objects.bulk_create(SendAttempt(send=s, number=1, started_at=at, outcome="failed") for s in sends)
        rollups.record(sends=sends, errors=events)
        rows[label] = at
    return provider, rows


def prune(*args) -> str:
    out = StringIO()
    call_command("prune_history", *args, stdout=out)
    return out.getvalue()


def old_breakdown(at):
    day = at.strftime("%Y-%m-%d")
    return [(r.key, r.errors, r.sends) for r in breakdown(parse_window("custom", day, f"{day}T23:59")).rows]


def test_old_raw_rows_go_old_bodies_are_blanked_and_rollups_stay(history):
    _, at = history
    before = old_breakdown(at["old"])
    assert before == [("INVALID_TO", 2, 5)]
    output = prune("--raw-days", "90", "--body-days", "30", "--batch", "3")
    assert "Did delete 2 error events" in output and "Did delete 5 sends" in output
    assert "Did blank 5 message bodies" in output and "Did blank 2 vendor response bodies" in output
    assert Send.objects.count() == 10 and ErrorEvent.objects.count() == 4
    assert SendAttempt.objects.count() == 10
    assert set(Send.objects.values_list("body", flat=True)) == {"", "new body"}
    assert not Send.objects.filter(created_at__gte=at["new"], body="").exists()
    assert ErrorEvent.objects.filter(occurred_at=at["middle"], raw_body="").count() == 2
    assert ErrorEvent.objects.filter(occurred_at=at["new"], raw_body="{}").count() == 2
    # The breakdown of the pruned window reads the rollups: unchanged.
    assert old_breakdown(at["old"]) == before


def test_a_dry_run_counts_and_changes_nothing(history):
    output = prune("--dry-run")
    assert "Would delete 5 sends" in output and "Would blank 5 message bodies" in output
    assert "Would blank 2 vendor response bodies" in output
    assert Send.objects.count() == 15 and ErrorEvent.objects.count() == 6
    assert not Send.objects.filter(body="").exists()


def test_a_second_run_finds_nothing_left(history):
    prune()
    assert "Did delete 0 sends" in prune()


@pytest.mark.parametrize("args", [("--raw-days", "0"), ("--body-days", "100"), ("--batch", "0")])
def test_bad_arguments_are_refused(args):
    with pytest.raises(CommandError):
        call_command("prune_history", *args, stdout=StringIO())
