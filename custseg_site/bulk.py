"""Fast bulk inserts of a pandas DataFrame into a model's table.

PostgreSQL gets psycopg 3's COPY FROM STDIN (CSV written by Arrow), an order of magnitude faster than
INSERT for the millions of rows that demo data, imports and memberships write. Other
databases (the embedded SQLite) get batched bulk_create. Either way the rows go through
the current connection, so they join the caller's transaction.
"""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from django.db import connections, models

# bulk_create batch for SQLite: stays under its 32,766 bound variables per statement for
# tables of up to ~30 columns.
SQLITE_BATCH_ROWS = 1000
# Rows turned into model objects at a time on that path: bounds its memory.
SQLITE_SLICE_ROWS = 20_000
# COPY sends the CSV in pieces of this many rows, so a large frame never becomes one
# giant string.
COPY_CHUNK_ROWS = 200_000


def insert_frame(
    model: type[models.Model], frame: pd.DataFrame, *, using: str = "default", json_text: tuple[str, ...] = ()
) -> int:
    """Insert every row of `frame` into `model`'s table and return the row count.

    The columns of `frame` are model field attnames (``customer_id``, not ``customer``).
    Missing values (NaN, None, NaT) become NULL; JSON columns hold Python objects, except
    those named in `json_text`, which hold JSON text already (str values, or a pyarrow
    string array as the column) and are written as they are.
    No ids are returned.
    """
    if frame.empty:
        return 0
    columns = list(frame.columns)
    fields = {field.attname: field for field in model._meta.concrete_fields}
    unknown = [column for column in columns if column not in fields]
    if unknown:
        raise ValueError(f"{model.__name__} has no columns {unknown}")
    connection = connections[using]
    if connection.vendor == "postgresql":
        _copy_into(connection, model, fields, frame, json_text)
    else:
        # Slice by slice, so a million rows never become a million model objects at once.
        manager = model.objects.using(using)
        for start in range(0, len(frame), SQLITE_SLICE_ROWS):
            part = frame.iloc[start : start + SQLITE_SLICE_ROWS]
            if json_text:
                part = part.assign(**{column: part[column].map(json.loads) for column in json_text})
            records = part.astype(object).where(part.notna(), None).to_dict("records")
            manager.bulk_create([model(**record) for record in records], batch_size=SQLITE_BATCH_ROWS)
    return len(frame)


def _arrow_table(frame: pd.DataFrame, json_columns: tuple[str, ...] = ()) -> pa.Table:
    """The frame as an Arrow table whose CSV text PostgreSQL's COPY reads as the columns' values.

    `json_columns` (Python objects) become their JSON text; aware timestamps become UTC
    text with a "Z" (Arrow formats an aware timestamp through its time zone database, ten
    times slower than the same instant written as naive text).
    """
    table = pa.Table.from_pandas(frame, preserve_index=False)
    for position, column in enumerate(frame.columns):
        values = None
        if column in json_columns:
            values = pa.array(frame[column].map(json.dumps), type=pa.string())
        elif isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            naive = table.column(position).cast(pa.timestamp("us", tz="UTC")).cast(pa.timestamp("us"))
            values = pc.binary_join_element_wise(naive.cast(pa.string()), "Z", "")
        if values is not None:
            table = table.set_column(position, column, values)
    return table


def copy_frame(cursor, table: str, frame: pd.DataFrame, *, columns: list[str] | None = None,
               json_columns: tuple[str, ...] = ()) -> None:
    """COPY every row of `frame` into `table` (a quoted name) through a psycopg cursor: the
    raw one (Django's cursor wraps it), so a thread that owns the connection can use it too.

    `columns` are the quoted column names, in the frame's order (default: the frame's
    column names, quoted); `json_columns` hold Python objects written as JSON.
    """
    column_sql = ", ".join(columns or [f'"{column}"' for column in frame.columns])
    # Arrow's CSV: a missing value is an unquoted empty field (COPY's NULL in CSV), an
    # empty string is "" (COPY's empty string), every string is quoted.
    sql = f"COPY {table} ({column_sql}) FROM STDIN WITH (FORMAT csv)"
    options = pa_csv.WriteOptions(include_header=False)
    with cursor.copy(sql) as copy:
        for start in range(0, len(frame), COPY_CHUNK_ROWS):
            buffer = pa.BufferOutputStream()
            part = frame.iloc[start : start + COPY_CHUNK_ROWS]
            pa_csv.write_csv(_arrow_table(part, json_columns), buffer, options)
            copy.write(buffer.getvalue())


def _copy_into(connection, model, fields, frame: pd.DataFrame, json_text: tuple[str, ...] = ()) -> None:
    quote = connection.ops.quote_name
    json_columns = tuple(column for column in frame.columns
                         if isinstance(fields[column], models.JSONField) and column not in json_text)
    connection.ensure_connection()
    with connection.cursor() as cursor:
        # Django's cursor wraps psycopg's; COPY lives on the raw one.
        copy_frame(cursor.cursor, quote(model._meta.db_table), frame,
                   columns=[quote(fields[column].column) for column in frame.columns], json_columns=json_columns)


def refresh_statistics(*models_: type[models.Model], vacuum: bool = False, using: str = "default") -> None:
    """After a bulk write on PostgreSQL: ANALYZE the tables (fresh planner statistics: with
    stale ones PostgreSQL guessed 5,000 rows for a 350,000-member segment and joined it row
    by row); with `vacuum`, VACUUM (ANALYZE) them where no transaction is open (a job;
    VACUUM cannot run inside one), which also sets the new rows' visibility-map bits: until
    then every row of an index-only scan (a member page, a COPY export) visits the heap.
    Nothing on other databases."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    command = "VACUUM (ANALYZE)" if vacuum and not connection.in_atomic_block else "ANALYZE"
    with connection.cursor() as cursor:
        for model in models_:
            cursor.execute(f"{command} {connection.ops.quote_name(model._meta.db_table)}")
