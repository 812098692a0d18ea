"""Fast bulk writes: COPY for generated data, one-statement inserts for the ingest API.

The demo/benchmark generator loads tuples of plain Python values in the column
order given (:func:`bulk_insert`); the ingest API writes its batches with
:func:`insert_returning_ids`. Other application writes go through the ORM.
"""

from __future__ import annotations

import json
import operator
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db import connection
from django.db.models import Field, Model
from django.utils import timezone


def _column(field: Field[Any, Any]) -> str:
    """A concrete field's column; ``Field.column`` is None only for fields that have none."""
    if field.column is None:
        raise ValueError(f"{field} has no column")
    return field.column


def _type_name(field: Field[Any, Any]) -> str:
    """A concrete field's column type without its modifiers ("varchar(12)" -> "varchar")."""
    db_type = field.db_type(connection)
    if db_type is None:
        raise ValueError(f"{field} has no column type")
    return re.sub(r"\(.*", "", db_type)


def _field(model: type[Model], name: str) -> Field[Any, Any]:
    """The field ``name`` of ``model``; ``get_field`` also finds reverse relations, which have no column."""
    found = model._meta.get_field(name)
    if not isinstance(found, Field):
        raise ValueError(f"{model.__name__}.{name} is a reverse relation, not a column")
    return found


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
    cursor.execute("SELECT attname, atttypid FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0", [table])
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


def insert_returning_ids(model: type[Model], rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert ``rows`` (field attname -> value; fields left out get their defaults); the new ids, in order.

    On PostgreSQL the rows travel as one JSON parameter into ``jsonb_populate_recordset``,
    which takes the column types from the table: the ORM's ``bulk_create`` spends most of
    a 1,000-row batch preparing 20,000 values one by one (docs/performance.md). Values are
    plain JSON types, datetimes, UUIDs or Decimals; text must not hold NUL. Elsewhere it is
    ``bulk_create``. Constraint violations raise django.db.IntegrityError either way.
    """
    if not rows:
        return []
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    defaults = _defaults(fields)
    if connection.vendor != "postgresql":
        objs = model._default_manager.bulk_create([model(**{**defaults, **row}) for row in rows])
        return [obj.pk for obj in objs]
    document = json.dumps([{**defaults, **row} for row in rows], default=_json_encoder(), ensure_ascii=False)
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in (_column(f) for f in fields))
    selected = ", ".join(f"r.{connection.ops.quote_name(_column(f))}" for f in fields)
    # Rows are inserted, and RETURNING answers, in array order (as bulk_create relies on too).
    sql = (
        f"INSERT INTO {table} ({columns}) SELECT {selected} "
        f"FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb) WITH ORDINALITY AS r ORDER BY r.ordinality "
        f"RETURNING {connection.ops.quote_name(_column(model._meta.pk))}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [document])
        return [pk for (pk,) in cursor.fetchall()]


def copy_returning_ids(model: type[Model], rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """:func:`insert_returning_ids` for large batches of flat rows: binary COPY on PostgreSQL.

    Two statements instead of one (COPY cannot return ids, so they are taken from the
    table's sequence first), but for 1,000 sends about half the database time and a third
    of the CPU of the JSON insert. Values must be what the column types take in binary
    form (str, int, bool, datetime, UUID, Decimal, None).
    """
    if connection.vendor != "postgresql" or not rows:
        return insert_returning_ids(model, rows)
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    defaults = _defaults(fields)
    pk = model._meta.pk
    table = model._meta.db_table
    values_of = operator.itemgetter(*(f.attname for f in fields))
    # Type names from the model ("varchar(12)" -> "varchar"), so no catalogue query is needed.
    types = [_type_name(f) for f in (*fields, pk)]
    columns = ", ".join(connection.ops.quote_name(_column(f)) for f in (*fields, pk))
    sql = f"COPY {connection.ops.quote_name(table)} ({columns}) FROM STDIN (FORMAT BINARY)"
    with connection.cursor() as cursor:
        # MATERIALIZED: otherwise the sequence's name is looked up again for every id (5 ms per 1,000).
        cursor.execute(
            "WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence(%s, %s)::regclass AS seq) "
            "SELECT nextval(s.seq) FROM s, generate_series(1, %s)",
            [table, pk.column, len(rows)],
        )
        ids = sorted(pk_value for (pk_value,) in cursor.fetchall())
        started = time.monotonic()
        with connection.wrap_database_errors, cursor.cursor.copy(sql) as copy:
            copy.set_types(types)
            for row, pk_value in zip(rows, ids, strict=True):
                copy.write_row((*values_of({**defaults, **row}), pk_value))
        if connection.queries_logged:  # COPY bypasses Django's cursor: count it like any statement
            connection.queries_log.append(
                {"sql": f"{sql} -- {len(rows)} rows", "time": f"{time.monotonic() - started:.3f}"}
            )
    return ids


def update_where(model: type[Model], values: Mapping[str, Any], **where: Any) -> int:
    """``model.objects.filter(**where).update(**values)`` for ``field=`` and ``field__in=`` filters.

    The same SQL without compiling a query: the worker issues several updates per send, and
    compiling one costs it about a quarter of a millisecond of CPU (docs/performance.md).
    Returns the number of rows updated.
    """
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(_column(_field(model, name)))} = %s" for name in values)
    params = [_field(model, name).get_db_prep_save(value, connection) for name, value in values.items()]
    conditions = []
    for lookup, wanted in where.items():
        name, _, kind = lookup.partition("__")
        target = _field(model, name)
        column = quote(_column(target))
        if kind == "in":
            wanted = [target.get_db_prep_save(v, connection) for v in wanted]
            if not wanted:
                return 0
            conditions.append(f"{column} IN ({', '.join(['%s'] * len(wanted))})")
            params += wanted
        elif not kind:
            conditions.append(f"{column} = %s")
            params.append(target.get_db_prep_save(wanted, connection))
        else:
            raise ValueError(f"update_where takes field= and field__in= filters, not {lookup}")
    sql = f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE {' AND '.join(conditions)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def model_values(obj: Model) -> dict[str, Any]:
    """An unsaved instance's column values, for :func:`insert_returning_ids`."""
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields if not f.primary_key}


def _defaults(fields) -> dict[str, Any]:
    """What the ORM would write for each field left out, evaluated once per batch."""
    now = timezone.now()
    return {
        f.attname: now if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False) else f.get_default()
        for f in fields
    }


def _json_encoder():
    # A batch repeats the same few moments (received at, occurred at): format each once.
    formatted: dict[datetime, str] = {}

    def default(value: Any) -> str:
        if isinstance(value, datetime):
            text = formatted.get(value)
            if text is None:
                text = formatted[value] = value.isoformat()
            return text
        if isinstance(value, (UUID, Decimal)):
            return str(value)
        raise TypeError(f"{type(value).__name__} is not a column value insert_returning_ids can write")

    return default


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
