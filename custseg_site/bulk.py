"""Fast bulk inserts of a pandas DataFrame into a model's table.

PostgreSQL gets psycopg 3's COPY FROM STDIN (CSV), an order of magnitude faster than
INSERT for the millions of rows that demo data, imports and memberships write. Other
databases (the embedded SQLite) get batched bulk_create. Either way the rows go through
the current connection, so they join the caller's transaction.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
from django.db import connections, models

# bulk_create batch for SQLite: stays under its 32,766 bound variables per statement for
# tables of up to ~30 columns.
SQLITE_BATCH_ROWS = 1000
# Rows turned into model objects at a time on that path: bounds its memory.
SQLITE_SLICE_ROWS = 20_000
# COPY sends the CSV in pieces of this many rows, so a large frame never becomes one
# giant string.
COPY_CHUNK_ROWS = 200_000
NULL_MARKER = r"\N"


def insert_frame(model: type[models.Model], frame: pd.DataFrame, *, using: str = "default") -> int:
    """Insert every row of `frame` into `model`'s table and return the row count.

    The columns of `frame` are model field attnames (``customer_id``, not ``customer``).
    Missing values (NaN, None, NaT) become NULL; JSON columns hold Python objects.
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
        _copy_into(connection, model, fields, frame)
    else:
        # Slice by slice, so a million rows never become a million model objects at once.
        manager = model.objects.using(using)
        for start in range(0, len(frame), SQLITE_SLICE_ROWS):
            part = frame.iloc[start : start + SQLITE_SLICE_ROWS]
            records = part.astype(object).where(part.notna(), None).to_dict("records")
            manager.bulk_create([model(**record) for record in records], batch_size=SQLITE_BATCH_ROWS)
    return len(frame)


def _iso_utc(column: pd.Series) -> pd.Series:
    """Aware timestamps as ISO text with an explicit UTC offset.

    numpy's formatter is about twice as fast as pandas' own for the CSV step, which
    matters at ten million rows.
    """
    utc = column.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[us]")
    text = np.char.add(np.datetime_as_string(utc, unit="us"), "+00:00")
    return pd.Series(text, index=column.index).where(column.notna(), None)


def _copy_into(connection, model, fields, frame: pd.DataFrame) -> None:
    quote = connection.ops.quote_name
    column_sql = ", ".join(quote(fields[column].column) for column in frame.columns)
    sql = (
        f"COPY {quote(model._meta.db_table)} ({column_sql}) "
        f"FROM STDIN WITH (FORMAT csv, NULL '{NULL_MARKER}')"
    )
    converted = {}
    for column in frame.columns:
        if isinstance(fields[column], models.JSONField):
            converted[column] = frame[column].map(json.dumps)
        elif isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            converted[column] = _iso_utc(frame[column])
    if converted:
        frame = frame.assign(**converted)
    connection.ensure_connection()
    with connection.cursor() as cursor:
        # Django's cursor wraps psycopg's; COPY lives on the raw one.
        with cursor.cursor.copy(sql) as copy:
            for start in range(0, len(frame), COPY_CHUNK_ROWS):
                buffer = io.StringIO()
                frame.iloc[start : start + COPY_CHUNK_ROWS].to_csv(
                    buffer, index=False, header=False, na_rep=NULL_MARKER
                )
                copy.write(buffer.getvalue())
