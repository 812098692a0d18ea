"""Fast bulk loading for generated data: COPY on PostgreSQL, executemany elsewhere.

Only the demo/benchmark generator uses this; application writes go through the
ORM. Rows are tuples of plain Python values in the column order given.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
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


def _column_types(cursor, table: str, columns: Sequence[str]) -> list[int]:
    """The type OIDs of ``columns``, so binary COPY can pick its dumpers once, not per value."""
    cursor.execute(
        "SELECT attname, atttypid FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0", [table]
    )
    oids = dict(cursor.fetchall())
    return [oids[c] for c in columns]


def bulk_insert(table: str, columns: Sequence[str], rows: Iterable[tuple], chunk_size: int = 5000) -> int:
    """Insert rows into table; returns how many were written."""
    written = 0
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            raw = cursor.cursor  # the psycopg cursor under Django's wrapper
            types = _column_types(raw, table, columns)
            # Binary COPY with fixed types is about three times faster than text COPY's per-value adaptation.
            with raw.copy(f"COPY {connection.ops.quote_name(table)} ({quoted}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(types)
                for row in rows:
                    copy.write_row(row)
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


@contextmanager
def indexes_deferred(*models) -> Iterator[None]:
    """On PostgreSQL, when every table is empty, load without the models' Meta.indexes and foreign keys.

    Building an index once, and checking a foreign key once over the whole table,
    is much faster than doing both row by row. Indexes missing after an earlier
    interrupted load are built again at the end too.
    """
    deferred = connection.vendor == "postgresql" and not any(m.objects.exists() for m in models)
    foreign_keys: list[tuple[str, str, str]] = []
    if deferred:
        with connection.cursor() as cursor:
            for model in models:
                table = model._meta.db_table
                cursor.execute(
                    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = %s::regclass AND contype = 'f'",
                    [table],
                )
                foreign_keys += [(table, name, definition) for name, definition in cursor.fetchall()]
        with connection.schema_editor() as editor:
            for model, index in _present_indexes(models):
                editor.remove_index(model, index)
            for table, name, _ in foreign_keys:
                editor.execute(f"ALTER TABLE {editor.quote_name(table)} DROP CONSTRAINT {editor.quote_name(name)}")
    try:
        yield
    finally:
        if connection.vendor == "postgresql":
            present = {index.name for _, index in _present_indexes(models)}
            with connection.schema_editor() as editor:
                for model in models:
                    for index in model._meta.indexes:
                        if index.name not in present:
                            editor.add_index(model, index)
                for table, name, definition in foreign_keys:
                    editor.execute(
                        f"ALTER TABLE {editor.quote_name(table)} ADD CONSTRAINT {editor.quote_name(name)} {definition}"
                    )
            if deferred:
                # Fresh statistics, so the very next query on the new rows gets a good plan.
                with connection.cursor() as cursor:
                    cursor.execute(f"ANALYZE {', '.join(connection.ops.quote_name(m._meta.db_table) for m in models)}")


def _present_indexes(models) -> list:
    with connection.cursor() as cursor:
        return [
            (model, index)
            for model in models
            for index in model._meta.indexes
            if index.name in connection.introspection.get_constraints(cursor, model._meta.db_table)
        ]
