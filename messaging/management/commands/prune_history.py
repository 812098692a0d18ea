"""Retention: delete old raw sends and error events, blank old bodies; the rollups stay.

    prune_history --raw-days 90 --body-days 30 [--batch 10000] [--dry-run]

The error breakdown reads the rollups, so its numbers for old windows do not
change when raw rows go; only the drill-down to single events and the send log
lose what was pruned. Rows are handled in batches of ``--batch`` ids, each batch
in its own short transaction, so the tables stay usable while it runs.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from messaging.models import ErrorEvent, Send, SendAttempt


class Command(BaseCommand):
    help = "Delete raw sends and error events older than --raw-days and blank bodies older than --body-days."

    def add_arguments(self, parser):
        parser.add_argument("--raw-days", type=int, default=90, help="Keep raw rows this many days (default 90).")
        parser.add_argument("--body-days", type=int, default=30, help="Keep message and vendor bodies this long.")
        parser.add_argument("--batch", type=int, default=10_000, help="Rows per transaction (default 10,000).")
        parser.add_argument("--dry-run", action="store_true", help="Count what would change; change nothing.")

    def handle(self, *args, raw_days: int, body_days: int, batch: int, dry_run: bool, **options):
        if raw_days < 1 or body_days < 1:
            raise CommandError("--raw-days and --body-days must be at least 1")
        if body_days > raw_days:
            raise CommandError("--body-days must not be longer than --raw-days (older rows are deleted anyway)")
        if batch < 1:
            raise CommandError("--batch must be at least 1")
        now = timezone.now()
        raw_cutoff, body_cutoff = now - timedelta(days=raw_days), now - timedelta(days=body_days)
        verb = "Would" if dry_run else "Did"
        steps = [
            ("delete", ErrorEvent, "occurred_at", raw_cutoff, "", "error events"),
            ("delete", Send, "created_at", raw_cutoff, "", "sends (with their attempts)"),
            ("blank", Send, "created_at", body_cutoff, "body", "message bodies"),
            ("blank", ErrorEvent, "occurred_at", body_cutoff, "raw_body", "vendor response bodies"),
        ]
        for action, model, time_column, cutoff, column, label in steps:
            # Rows older than the raw cutoff are deleted, not blanked (so a dry run counts the same).
            since = raw_cutoff if action == "blank" else None
            count = _process(action, model, time_column, since, cutoff, column, batch, dry_run)
            cut = f"older than {cutoff:%Y-%m-%d %H:%M} UTC"
            self.stdout.write(f"{verb} {action} {count:,} {label} {cut}.")
        self.stdout.write("Rollups are kept: the error breakdown of pruned windows is unchanged.")


def _process(action: str, model, time_column: str, since, cutoff, column: str, batch: int, dry_run: bool) -> int:
    """Walk the old rows by id, one batch per transaction; returns how many rows were (or would be) changed."""
    table = connection.ops.quote_name(model._meta.db_table)
    moment = connection.ops.quote_name(time_column)
    old, params = f"{moment} < %s", [connection.ops.adapt_datetimefield_value(cutoff)]
    if since is not None:
        old += f" AND {moment} >= %s"
        params.append(connection.ops.adapt_datetimefield_value(since))
    if action == "blank":
        old += f" AND {connection.ops.quote_name(column)} <> ''"
    total, last_id = 0, 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id FROM {table} WHERE {old} AND id > %s ORDER BY id LIMIT %s",  # noqa: S608
                [*params, last_id, batch],
            )
            ids = [row[0] for row in cursor.fetchall()]
            if not ids:
                return total
            last_id = ids[-1]
            total += len(ids)
            if not dry_run:
                _change(cursor, action, model, column, ids)


def _change(cursor, action: str, model, column: str, ids: list[int]) -> None:
    marks = ", ".join(["%s"] * len(ids))
    table = connection.ops.quote_name(model._meta.db_table)
    if action == "blank":
        cursor.execute(f"UPDATE {table} SET {connection.ops.quote_name(column)} = '' WHERE id IN ({marks})", ids)  # noqa: S608
        return
    if model is Send:
        # Plain SQL, as in demo.clear_history: the ORM's collector would load every row.
        cursor.execute(f"DELETE FROM {SendAttempt._meta.db_table} WHERE send_id IN ({marks})", ids)  # noqa: S608
        cursor.execute(f"UPDATE {ErrorEvent._meta.db_table} SET send_id = NULL WHERE send_id IN ({marks})", ids)  # noqa: S608
    cursor.execute(f"DELETE FROM {table} WHERE id IN ({marks})", ids)  # noqa: S608
