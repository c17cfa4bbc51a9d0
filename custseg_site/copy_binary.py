"""Rows in PostgreSQL's binary COPY format, built a column at a time with numpy and Arrow.

For the writes where PostgreSQL's parsing of CSV text is part of the cost: a binary COPY
hands it integers, timestamps and numerics as they are stored, and text without quotes.
Each encoder returns one Arrow binary value per row: the field as COPY BINARY reads it,
its length first (int32, big-endian; -1 for NULL); text comes as two arrays, lengths and
bytes, so that a row's parts are joined once. `rows()` joins a row's fields after
their count; `copy_rows()` sends the rows between the format's header and trailer.
No Python loop over rows, except for JSON.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# The signature, then 32-bit flags and header-extension length (both 0).
HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
TRAILER = b"\xff\xff"
NULL = b"\xff\xff\xff\xff"
# timestamptz: microseconds since 2000-01-01 00:00 UTC
EPOCH_2000_US = 946_684_800_000_000
# A numeric field as four base-10000 digits, the first of weight 2: up to 12 digits before
# the point (numeric(14, 2) holds fewer), 2 after. PostgreSQL drops the zero digits.
NUMERIC_WHOLE_LIMIT = 10**12
_NUMERIC = np.dtype([("length", ">i4"), ("ndigits", ">i2"), ("weight", ">i2"), ("sign", ">u2"), ("dscale", ">i2"),
                     ("digits", ">i2", (4,))])
_NEGATIVE = 0x4000
_EMPTY = pa.scalar(b"", pa.binary())


def _fixed(records: np.ndarray) -> pa.Array:
    """Equal-size numpy records (each one field, length first) as Arrow binary values."""
    records = np.ascontiguousarray(records)
    width = records.dtype.itemsize
    array = pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), len(records),
                                                 [None, pa.py_buffer(records.view(np.uint8))])
    return array.cast(pa.binary())


def _with_nulls(fields: pa.Array, missing: np.ndarray | None) -> pa.Array:
    if missing is None or not missing.any():
        return fields
    return pc.if_else(pa.array(missing), pa.scalar(NULL, pa.binary()), fields)


def integer_field(values: np.ndarray, *, size: int, missing: np.ndarray | None = None) -> pa.Array:
    """int4 (size 4) or int8 (size 8); `missing` marks NULLs (their values are ignored)."""
    values = np.asarray(values, dtype=np.int64)
    if missing is not None:
        values = np.where(missing, 0, values)
    if size == 4 and values.size and (values.min() < -(2**31) or values.max() >= 2**31):
        raise ValueError("a whole number is too large for the database (more than 2,147,483,647)")
    records = np.empty(len(values), dtype=np.dtype([("length", ">i4"), ("value", f">i{size}")]))
    records["length"], records["value"] = size, values
    return _with_nulls(_fixed(records), missing)


def boolean_field(values: np.ndarray) -> pa.Array:
    records = np.empty(len(values), dtype=np.dtype([("length", ">i4"), ("value", "u1")]))
    records["length"], records["value"] = 1, np.asarray(values, dtype=bool)
    return _fixed(records)


def microseconds(values: pd.Series) -> np.ndarray:
    """Aware timestamps (no NaT) as microseconds since 1970 UTC, rounded as PostgreSQL
    rounds a text value."""
    stamps = values.dt.tz_convert("UTC")
    ticks = stamps.array.asi8
    unit = stamps.dt.unit
    if unit == "ns":
        return np.floor_divide(ticks + 500, 1000)
    return ticks * {"us": 1, "ms": 1_000, "s": 1_000_000}[unit]


def timestamp_field(values: pd.Series) -> pa.Array:
    """Aware timestamps (no NaT) as timestamptz, to the microsecond."""
    records = np.empty(len(values), dtype=np.dtype([("length", ">i4"), ("value", ">i8")]))
    records["length"], records["value"] = 8, microseconds(values) - EPOCH_2000_US
    return _fixed(records)


def numeric_field(values: np.ndarray) -> pa.Array:
    """Numbers (no NaN) as numeric with 2 decimals, rounded to the cent."""
    values = np.asarray(values, dtype=np.float64)
    if not np.isfinite(values).all():
        raise ValueError("an amount or price is not a finite number")
    cents = np.rint(np.abs(values) * 100).astype(np.int64)
    whole, fraction = np.divmod(cents, 100)
    if whole.size and whole.max() >= NUMERIC_WHOLE_LIMIT:
        raise ValueError(f"an amount or price is too large for the database ({values[np.argmax(whole)]:,.2f})")
    records = np.zeros(len(values), dtype=_NUMERIC)
    records["length"], records["ndigits"], records["weight"], records["dscale"] = _NUMERIC.itemsize - 4, 4, 2, 2
    records["sign"] = np.where((values < 0) & (cents > 0), _NEGATIVE, 0)
    records["digits"][:, 0] = whole // 10**8
    records["digits"][:, 1] = (whole // 10**4) % 10**4
    records["digits"][:, 2] = whole % 10**4
    records["digits"][:, 3] = fraction * 100
    return _fixed(records)


def _text_values(values) -> pa.Array:
    array = pa.array(values, type=pa.string(), from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array


def text_field(values) -> tuple[pa.Array, pa.Array]:
    """Strings (a pandas str Series, an Arrow array) as text/varchar; None is NULL. The field
    comes in two parts, its lengths and its bytes, joined only with the row (rows())."""
    array = _text_values(values)
    lengths = pc.binary_length(array).to_numpy(zero_copy_only=False)
    if array.null_count:
        lengths = np.where(array.is_null().to_numpy(zero_copy_only=False), -1, np.nan_to_num(lengths)).astype(np.int64)
    return _fixed(lengths.astype(">i4")), array.cast(pa.binary()).fill_null(b"")


def jsonb_field(values: pd.Series) -> tuple[pa.Array, pa.Array]:
    """Python objects as jsonb (version 1, then the JSON text)."""
    return text_field(values.map(lambda value: "\x01" + json.dumps(value)).astype(object))


def rows(*fields: pa.Array | tuple[pa.Array, ...], count: int) -> pa.Array:
    """Rows as COPY BINARY reads them: their `count` fields after that count."""
    parts = [part for field in fields for part in (field if isinstance(field, tuple) else (field,))]
    return pc.binary_join_element_wise(pa.scalar(count.to_bytes(2, "big"), pa.binary()), *parts, _EMPTY)


class Rows:
    """Rows built by rows(), as one writable buffer: a field of fixed size can be filled in
    place (put_int8) after they are built, and rows dropped (keep)."""

    def __init__(self, data: np.ndarray, starts: np.ndarray):
        self.data = data  # uint8, the rows end to end
        self.starts = starts  # where each row starts, and where the last ends

    @classmethod
    def of(cls, encoded: pa.Array) -> Rows:
        encoded = encoded.combine_chunks() if isinstance(encoded, pa.ChunkedArray) else encoded
        offsets = np.frombuffer(encoded.buffers()[1], dtype=np.int32)[encoded.offset: encoded.offset + len(encoded) + 1]
        data = np.frombuffer(encoded.buffers()[2], dtype=np.uint8) if len(encoded) else np.zeros(0, dtype=np.uint8)
        return cls(data[offsets[0]: offsets[-1]].copy(), (offsets - offsets[0]).astype(np.int64))

    def __len__(self) -> int:
        return len(self.starts) - 1

    def keep(self, mask: np.ndarray) -> Rows:
        lengths = np.diff(self.starts)
        data = self.data[np.repeat(mask, lengths)]
        return Rows(data, np.concatenate(([0], np.cumsum(lengths[mask]))))

    def put_int8(self, rows: np.ndarray, at: int, values: np.ndarray) -> None:
        """Write `values` as 8-byte big-endian integers, `at` bytes into each of `rows` (their
        field there has its length, 8, written already)."""
        places = self.starts[rows][:, None] + at + np.arange(8)
        self.data[places] = np.asarray(values, dtype=">i8").view(np.uint8).reshape(-1, 8)


def copy_rows(cursor, table: str, columns: list[str], encoded: pa.Array | Rows) -> None:
    """COPY rows built by rows() into `table` (a quoted name) through a psycopg cursor."""
    if not isinstance(encoded, Rows):
        encoded = Rows.of(encoded)
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT binary)") as copy:
        copy.write(HEADER)
        if len(encoded):
            copy.write(memoryview(encoded.data))
        copy.write(TRAILER)
