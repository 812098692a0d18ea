"""Rollups: sends and errors counted per provider, channel (and code) and time bucket.

Every writer of Send or ErrorEvent rows calls :func:`record` in the same
transaction as the rows, so the counts are exactly the raw rows' counts and a
rolled-back write leaves no count behind. Each row is counted at three grains
(5 minutes, 1 hour, 1 day): the breakdown reads the coarsest grain its window
allows (docs/performance.md). Only errors of sends count (source send or
ingest), as on the breakdown page.

Increments are merged per key in Python first: one INSERT … ON CONFLICT may not
touch the same row twice, and fewer rows mean fewer row locks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from django.db import connection

from messaging.models import ErrorEvent, ErrorRollup, Provider, Send, SendRollup

GRAINS = (timedelta(minutes=5), timedelta(hours=1), timedelta(days=1))
SEND_SOURCES = (ErrorEvent.Source.SEND, ErrorEvent.Source.INGEST)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Rows per SQLite statement: a full ingest batch (1,000 events x 3 grains) fits in one,
# and 3,000 rows x 7 values stay under SQLite's limit of 32,766 parameters.
ROWS_PER_STATEMENT = 3000

SEND_KEY = ("grain", "provider_id", "bucket", "channel")
ERROR_KEY = ("grain", "provider_id", "bucket", "channel", "error_code", "category")


def floor(moment: datetime, step: timedelta) -> datetime:
    """The start of the bucket of length ``step`` that holds ``moment``, in UTC (days are UTC days)."""
    moment = moment.astimezone(UTC)
    return moment - (moment - EPOCH) % step


def ceil(moment: datetime, step: timedelta) -> datetime:
    """The start of the first bucket of length ``step`` that begins at or after ``moment``."""
    start = floor(moment, step)
    return start if start == moment else start + step


def record(sends: Iterable[Send] = (), errors: Iterable[ErrorEvent] = ()) -> None:
    """Count new sends and error events (saved or not) into the rollups."""
    sent = Counter((send.provider_id, send.channel, send.created_at) for send in sends)
    add(sent, error_counts(errors))


def error_counts(errors: Iterable[ErrorEvent]) -> Counter:
    """The ``failed`` counts :func:`add` takes, from error events (saved or not); only errors of sends."""
    return Counter(
        (event.provider_id, event.channel, event.occurred_at, event.error_code, event.category)
        for event in errors
        if event.source in SEND_SOURCES
    )


def add(sent: Counter, failed: Counter) -> None:
    """Add counts to the rollups at every grain.

    ``sent`` counts sends by (provider_id, channel, moment); ``failed`` counts
    errors of sends by (provider_id, channel, moment, error_code, category).
    """
    send_counts: Counter = Counter()
    for (provider_id, channel, moment), n in sent.items():
        for grain in GRAINS:
            send_counts[(grain, provider_id, floor(moment, grain), channel)] += n
    error_counts: Counter = Counter()
    for (provider_id, channel, moment, code, category), n in failed.items():
        for grain in GRAINS:
            error_counts[(grain, provider_id, floor(moment, grain), channel, code, category)] += n
    tables = [(SendRollup, SEND_KEY, "sends", send_counts), (ErrorRollup, ERROR_KEY, "errors", error_counts)]
    _upsert([table for table in tables if table[3]])


COLUMN_TYPES = {
    "grain": "integer",
    "provider_id": "bigint",
    "bucket": "timestamptz",
    "channel": "text",
    "error_code": "text",
    "category": "text",
    "sends": "bigint",
    "errors": "bigint",
}


def _upsert(tables: list[tuple]) -> None:
    """Add each (model, key columns, count column, counts) to its table; one statement on PostgreSQL."""
    if not tables:
        return
    if connection.vendor == "postgresql":
        # One array per column: a handful of parameters whatever the batch, so the statement
        # stays cheap to build and parse. Both tables in one statement (the sends in a
        # data-modifying WITH): one round trip, and as every writer runs the same statement
        # shape, concurrent writers still take the row locks in one order.
        statements, params = [], []
        for model, key_columns, count_column, counts in tables:
            arrays = ", ".join(f"%s::{COLUMN_TYPES[c]}[]" for c in (*key_columns, count_column))
            source = f"SELECT * FROM unnest({arrays})"  # noqa: S608 (column types from COLUMN_TYPES, values bound)
            statements.append(_upsert_sql(model, key_columns, count_column, source))
            params += [list(column) for column in zip(*_rows(counts), strict=True)]
        sql = f"WITH sent AS ({statements[0]}) {statements[1]}" if len(statements) == 2 else statements[0]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        return
    with connection.cursor() as cursor:
        for model, key_columns, count_column, counts in tables:
            rows, row_marks = _rows(counts), "(" + ", ".join(["%s"] * (len(key_columns) + 1)) + ")"
            for start in range(0, len(rows), ROWS_PER_STATEMENT):
                chunk = rows[start : start + ROWS_PER_STATEMENT]
                chunk_params = [
                    connection.ops.adapt_datetimefield_value(v) if isinstance(v, datetime) else v
                    for row in chunk
                    for v in row
                ]
                values = f"VALUES {', '.join([row_marks] * len(chunk))}"
                cursor.execute(_upsert_sql(model, key_columns, count_column, values), chunk_params)


def _rows(counts: Counter) -> list[tuple]:
    # Keys in one order for every writer, so two transactions lock shared rows in the same order.
    return [
        (int(grain.total_seconds()), provider_id, bucket, *rest, n)
        for (grain, provider_id, bucket, *rest), n in sorted(counts.items())
    ]


def _upsert_sql(model, key_columns: Sequence[str], count_column: str, source: str) -> str:
    quote = connection.ops.quote_name
    table, count = quote(model._meta.db_table), quote(count_column)
    column_list = ", ".join(quote(c) for c in (*key_columns, count_column))
    keys = ", ".join(quote(c) for c in key_columns)
    return (
        f"INSERT INTO {table} ({column_list}) {source} "
        f"ON CONFLICT ({keys}) DO UPDATE SET {count} = {table}.{count} + EXCLUDED.{count}"
    )


def rebuild(providers: Sequence[Provider] | None = None, *, using=None) -> None:
    """Recount the rollups of ``providers`` (all when None) from the raw rows, in SQL.

    For the migration that created the rollups, and for repairs. Raw rows already
    pruned are lost to a rebuild, so nothing runs it on a schedule.
    """
    conn = using or connection
    send_table, error_table = Send._meta.db_table, ErrorEvent._meta.db_table
    where, params = "", []
    if providers is not None:
        ids = [p.pk for p in providers]
        if not ids:
            return
        where = f" WHERE provider_id IN ({', '.join(['%s'] * len(ids))})"
        params = ids
    sources = ", ".join(f"'{s}'" for s in SEND_SOURCES)
    with conn.cursor() as cursor:
        cursor.execute(f"DELETE FROM {SendRollup._meta.db_table}{where}", params)  # noqa: S608
        cursor.execute(f"DELETE FROM {ErrorRollup._meta.db_table}{where}", params)  # noqa: S608
        and_where = where.replace(" WHERE ", " AND ") if where else ""
        for grain in GRAINS:
            seconds = int(grain.total_seconds())
            sent_bucket = _bucket_sql(conn, "created_at", seconds)
            cursor.execute(
                f"INSERT INTO {SendRollup._meta.db_table} (grain, provider_id, bucket, channel, sends) "  # noqa: S608
                f"SELECT {seconds}, provider_id, {sent_bucket}, channel, COUNT(*) FROM {send_table}{where} "
                f"GROUP BY provider_id, {sent_bucket}, channel",
                params,
            )
            error_bucket = _bucket_sql(conn, "occurred_at", seconds)
            cursor.execute(
                f"INSERT INTO {ErrorRollup._meta.db_table} "  # noqa: S608
                "(grain, provider_id, bucket, channel, error_code, category, errors) "
                f"SELECT {seconds}, provider_id, {error_bucket}, channel, error_code, category, COUNT(*) "
                f"FROM {error_table} WHERE source IN ({sources}){and_where} "
                f"GROUP BY provider_id, {error_bucket}, channel, error_code, category",
                params,
            )


def _bucket_sql(conn, column: str, seconds: int) -> str:
    """SQL for the UTC bucket start of ``column``, stored as Django stores datetimes on that backend."""
    if conn.vendor == "postgresql":
        return f"date_bin('{seconds} seconds', {column}, TIMESTAMPTZ '1970-01-01 00:00:00+00')"
    return f"datetime((CAST(strftime('%%s', {column}) AS INTEGER) / {seconds}) * {seconds}, 'unixepoch')"


def delete(providers: Sequence[Provider]) -> None:
    """Forget the rollups of ``providers`` (the demo's reset)."""
    ErrorRollup.objects.filter(provider__in=providers).delete()
    SendRollup.objects.filter(provider__in=providers).delete()
