"""Fast bulk loading for generated data: COPY on PostgreSQL, executemany elsewhere.

Only the demo/benchmark generator uses this; application writes go through the
ORM. Rows are tuples of plain Python values in the column order given.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal

from django.db import connection


def _sqlite_value(value):
    # Match what Django's SQLite backend stores, so ORM range queries compare correctly.
    if isinstance(value, datetime):
        return str(value.astimezone(UTC).replace(tzinfo=None))
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if isinstance(value, Decimal):
        return str(value)
    return value


def _postgres_value(value):
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return value


def bulk_insert(table: str, columns: Sequence[str], rows: Iterable[tuple], chunk_size: int = 5000) -> int:
    """Insert rows into table; returns how many were written."""
    written = 0
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            raw = cursor.cursor  # the psycopg cursor under Django's wrapper
            with raw.copy(f"COPY {connection.ops.quote_name(table)} ({quoted}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([_postgres_value(v) for v in row])
                    written += 1
            return written
        placeholders = ", ".join(["%s"] * len(columns))
        sql = f"INSERT INTO {connection.ops.quote_name(table)} ({quoted}) VALUES ({placeholders})"
        chunk: list[tuple] = []
        for row in rows:
            chunk.append(tuple(_sqlite_value(v) for v in row))
            if len(chunk) >= chunk_size:
                cursor.executemany(sql, chunk)
                written += len(chunk)
                chunk = []
        if chunk:
            cursor.executemany(sql, chunk)
            written += len(chunk)
    return written


def next_ids(table: str, count: int) -> range:
    """Reserve ``count`` primary keys for explicit-id inserts (single writer: the generator)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {connection.ops.quote_name(table)}")
        start = cursor.fetchone()[0] + 1
    return range(start, start + count)


def reset_sequence(table: str) -> None:
    """After explicit-id inserts, move PostgreSQL's id sequence past the largest id."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence(%s, 'id'), COALESCE((SELECT MAX(id) FROM {table}), 1))",
            [table],
        )
