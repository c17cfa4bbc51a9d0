"""Validate a chunk of mapped rows: typed values out, and a reason for every rejected row.

Vectorised per column (no per-row Python loops over the data): each check marks the
rows it rejects, the first reason per row is kept. No Django here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from customers.importing.dates import contrary_to
from customers.importing.mapping import CUSTOMERS, TRANSACTIONS, Mapping

ANONYMOUS_KEEP = "keep"
ANONYMOUS_REJECT = "reject"
MAX_AGE = 130
GENDERS = {
    "m": "M", "male": "M", "man": "M", "h": "M",
    "f": "F", "female": "F", "woman": "F", "w": "F",
}


@dataclass(frozen=True)
class ImportOptions:
    # 03/02/2024 is 3 February when True, March 2 when False; None: nobody said (the import
    # reads the order from the file's dates, customers.importing.dates, and refuses to guess)
    dayfirst: bool | None = None
    decimal_comma: bool = False  # "1.234,5" when True, "1,234.5" when False
    units: dict[str, float] = field(default_factory=dict)  # field -> multiplier (income in k$: 1000)
    anonymous: str = ANONYMOUS_KEEP  # transactions without a customer id


@dataclass
class Validated:
    rows: pd.DataFrame  # typed standard fields + "attributes" (dict) + "line"
    rejected: pd.DataFrame  # columns: line, reason
    anonymous: int = 0  # accepted transactions without a customer


def _text(series: pd.Series) -> pd.Series:
    """Cell values as stripped text; missing values (None, NaN) as ""."""
    if isinstance(series.dtype, pd.StringDtype):  # a CSV's cells: text already, kept in Arrow
        return series.fillna("").str.strip()
    return series.astype(object).where(series.notna(), "").astype(str).str.strip()


def _to_number(text: pd.Series) -> pd.Series:
    """Well-formed number text (NaN elsewhere) as numbers, read by Arrow's cast instead of a
    Python object per cell, typed as pd.to_numeric types them: int64 when every cell is a
    whole number without point or exponent, float64 otherwise (row hashes depend on it)."""
    if len(text) and isinstance(text.dtype, pd.StringDtype) and text.dtype.storage == "pyarrow":
        values = pa.array(text, type=pa.string(), from_pandas=True)
        try:
            if not values.null_count and pc.all(pc.match_substring_regex(values, r"^[+-]?\d+$")).as_py():
                return pd.Series(pc.cast(values, pa.int64()).to_numpy(), index=text.index, dtype="int64")
            return pd.Series(pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False), index=text.index,
                             dtype="float64")
        except pa.ArrowInvalid:
            pass  # beyond int64 or float64: pandas has its own answers (uint64, inf)
    return pd.to_numeric(text, errors="coerce")


# Fields read as numbers (the decimal-comma suggestion looks at their cells).
NUMBER_FIELDS = ("age", "birth_year", "annual_income", "quantity", "unit_price", "amount")

# A number as written with "," between thousands and "." before the decimals, or the other
# way round: a separator anywhere else (52.000,50 read the first way) makes it no number,
# rejected with a reason instead of silently read as 52.0005.
POINT_NUMBER = r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d*)(?:\.\d*)?(?:[eE][+-]?\d+)?$"
COMMA_NUMBER = r"^[+-]?(?:\d{1,3}(?:\.\d{3})+|\d*)(?:,\d*)?$"


def parse_numbers(series: pd.Series, *, decimal_comma: bool) -> pd.Series:
    """Numbers as exported: "1,234.56", "1.234,56" (decimal_comma), " 12 ", numbers from XLSX.

    Text that is not a number in the chosen convention is NaN (the caller rejects the row).
    """
    if pd.api.types.is_numeric_dtype(series):
        return series.astype("float64")
    text = _text(series).str.replace("\u00a0", "", regex=False).str.replace(" ", "", regex=False)
    well_formed = text.str.match(COMMA_NUMBER if decimal_comma else POINT_NUMBER) & text.str.contains(r"\d")
    if decimal_comma:
        text = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    else:
        text = text.str.replace(",", "", regex=False)
    return _to_number(text.where(well_formed & (text != "")))


def looks_like_decimal_comma(values: pd.Series) -> bool:
    """Whether a sample of number cells reads as decimal-comma numbers and not as the usual kind
    (for example "52.000,50" or "4,5"): the upload page then suggests that option."""
    text = _text(values).str.replace("\u00a0", "", regex=False).str.replace(" ", "", regex=False)
    text = text[text.str.contains(r"\d") & text.str.contains(r"[.,]")]
    if text.empty:
        return False
    comma_only = text.str.match(COMMA_NUMBER) & ~text.str.match(POINT_NUMBER)
    point_only = text.str.match(POINT_NUMBER) & ~text.str.match(COMMA_NUMBER)
    # "4,5" fits both (4.5, or 45 with a thousands comma that lacks digits): count it as comma
    ambiguous_comma = text.str.match(r"^[+-]?\d+,\d{1,2}$")
    return int((comma_only | ambiguous_comma).sum()) > int(point_only.sum())


# Why a date cell is rejected when it can only be read in the other order than the import's.
CONTRARY_DATE = {True: "date can only be month first (the import reads day first)",
                 False: "date can only be day first (the import reads month first)"}


def _dates(source: pd.Series, options: ImportOptions, checks: _Checks, label: str) -> pd.Series:
    """A column's cells as dates in the import's order; a cell that can only be read in the
    other order (25/12/2011 in a month-first file) is rejected, never read the other way."""
    dayfirst = bool(options.dayfirst)
    checks.reject(pd.Series(contrary_to(source, dayfirst=dayfirst), index=source.index),
                  f"{label}: {CONTRARY_DATE[dayfirst]}" if label else CONTRARY_DATE[dayfirst])
    return parse_dates(source, dayfirst=dayfirst)


def parse_dates(series: pd.Series, *, dayfirst: bool) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(series):
        parsed = series
    elif pd.api.types.infer_dtype(series, skipna=True) == "string":
        text = series.astype("str").str.strip()  # one vectorised pass over text cells
        parsed = pd.to_datetime(text.where(text != ""), errors="coerce", dayfirst=dayfirst, format="mixed")
    else:
        values = series.map(lambda v: v if not isinstance(v, str) else (v.strip() or None))
        parsed = pd.to_datetime(values, errors="coerce", dayfirst=dayfirst, format="mixed")
    if getattr(parsed.dt, "tz", None) is None:
        parsed = parsed.dt.tz_localize("UTC")
    return parsed.dt.tz_convert("UTC")


class _Checks:
    def __init__(self, lines: pd.Series):
        self.reason = pd.Series("", index=lines.index, dtype=object)
        self._ok = np.ones(len(lines), dtype=bool)  # no reason yet

    def reject(self, mask: pd.Series, reason) -> None:
        mask = mask.fillna(False).to_numpy(dtype=bool) & self._ok
        if mask.any():
            self.reason[mask] = reason if isinstance(reason, str) else reason[mask]
            self._ok &= ~mask

    @property
    def ok(self) -> pd.Series:
        return pd.Series(self._ok, index=self.reason.index)


def _mapped(frame: pd.DataFrame, mapping: Mapping, name: str) -> pd.Series | None:
    column = mapping.column_for(name)
    return frame[column] if column is not None else None


def _attributes(frame, mapping, options, checks) -> pd.Series:
    """Custom columns as a dict per row, typed (number, date, category)."""
    typed = {}
    for column, kind in mapping.attributes.items():
        raw = frame[column]
        present = _text(raw) != ""
        if kind == "number":
            values = parse_numbers(raw, decimal_comma=options.decimal_comma)
            checks.reject(present & values.isna(), f"{column}: not a number")
            typed[column] = values.where(present)
        elif kind == "date":
            values = _dates(raw, options, checks, column)
            checks.reject(present & values.isna(), f"{column}: not a date")
            typed[column] = values.dt.strftime("%Y-%m-%d").where(present & values.notna())
        else:
            typed[column] = _text(raw).where(present)
    if not typed:
        return pd.Series([{}] * len(frame), index=frame.index, dtype=object)
    table = pd.DataFrame(typed)
    return pd.Series(
        [{k: v for k, v in row.items() if v is not None and v == v} for row in table.to_dict("records")],
        index=frame.index, dtype=object,
    )


def validate_customers(frame: pd.DataFrame, lines: list[int], mapping: Mapping, options: ImportOptions) -> Validated:
    line = pd.Series(lines, index=frame.index)
    checks = _Checks(line)
    out = pd.DataFrame(index=frame.index)
    out["external_id"] = _text(_mapped(frame, mapping, "external_id"))
    checks.reject(out["external_id"] == "", "missing customer id")
    checks.reject(out["external_id"].str.len() > 64, "customer id longer than 64 characters")

    for name, width in (("name", 200), ("email", 254), ("country", 64), ("city", 100)):
        source = _mapped(frame, mapping, name)
        out[name] = _text(source).str.slice(0, width) if source is not None else ""
    email = out["email"]
    checks.reject((email != "") & ~email.str.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$"), "email is not an address")

    gender = _mapped(frame, mapping, "gender")
    if gender is not None:
        text = _text(gender).str.lower()
        out["gender"] = text.map(GENDERS).where(text != "", "").fillna("O")
    else:
        out["gender"] = ""

    for name, low, high in (("age", 0, MAX_AGE), ("birth_year", 1900, 2100)):
        source = _mapped(frame, mapping, name)
        if source is None:
            out[name] = np.nan
            continue
        present = _text(source) != ""
        values = parse_numbers(source, decimal_comma=options.decimal_comma)
        checks.reject(present & values.isna(), f"{name.replace('_', ' ')} is not a number")
        checks.reject(present & ((values < low) | (values > high) | (values % 1 != 0)),
                      f"{name.replace('_', ' ')} outside {low}-{high}")
        out[name] = values

    income = _mapped(frame, mapping, "annual_income")
    if income is not None:
        present = _text(income) != ""
        values = parse_numbers(income, decimal_comma=options.decimal_comma)
        checks.reject(present & values.isna(), "annual income is not a number")
        checks.reject(values < 0, "annual income is negative")
        out["annual_income"] = (values * options.units.get("annual_income", 1)).round(2)
    else:
        out["annual_income"] = np.nan

    signup = _mapped(frame, mapping, "signup_date")
    if signup is not None:
        present = _text(signup) != ""
        dates = _dates(signup, options, checks, "signup date")
        checks.reject(present & dates.isna(), "signup date is not a date")
        out["signup_date"] = dates.dt.date.where(dates.notna(), None)
    else:
        out["signup_date"] = None

    out["attributes"] = _attributes(frame, mapping, options, checks)
    out["line"] = line
    return _split(out, checks)


def validate_transactions(frame: pd.DataFrame, lines: list[int], mapping: Mapping, options: ImportOptions) -> Validated:
    line = pd.Series(lines, index=frame.index)
    checks = _Checks(line)
    out = pd.DataFrame(index=frame.index)
    out["invoice_id"] = _text(_mapped(frame, mapping, "invoice_id"))
    checks.reject(out["invoice_id"] == "", "missing invoice id")
    out["is_cancellation"] = out["invoice_id"].str.upper().str.startswith("C")

    customer = _mapped(frame, mapping, "customer_external_id")
    out["customer_external_id"] = _text(customer) if customer is not None else ""
    # CustomerIDs exported as floats ("17850.0") are the same customer as "17850"
    out["customer_external_id"] = out["customer_external_id"].str.replace(r"^(\d+)\.0$", r"\1", regex=True)
    anonymous = out["customer_external_id"] == ""
    if options.anonymous == ANONYMOUS_REJECT:
        checks.reject(anonymous, "no customer id")

    stamps = _mapped(frame, mapping, "timestamp")
    present = _text(stamps) != ""
    checks.reject(~present, "missing date")
    out["timestamp"] = _dates(stamps, options, checks, "")
    checks.reject(out["timestamp"].isna(), "date not understood")

    quantity_source = _mapped(frame, mapping, "quantity")
    if quantity_source is None:  # an order-level file: one unit per row, its amount the total
        quantity = pd.Series(1, index=frame.index, dtype="int64")
    else:
        quantity = parse_numbers(quantity_source, decimal_comma=options.decimal_comma)
        checks.reject(quantity.isna(), "quantity is not a number")
        checks.reject(quantity % 1 != 0, "quantity is not a whole number")
    out["quantity"] = quantity

    price_source = _mapped(frame, mapping, "unit_price")
    amount_source = _mapped(frame, mapping, "amount")
    price = parse_numbers(price_source, decimal_comma=options.decimal_comma) if price_source is not None else None
    amount = parse_numbers(amount_source, decimal_comma=options.decimal_comma) if amount_source is not None else None
    scale = options.units.get("unit_price", options.units.get("amount", 1))
    if price is not None:
        checks.reject(price.isna(), "unit price is not a number")
        checks.reject(price < 0, "negative unit price")
        price = price * scale
        amount = (quantity * price) if amount is None else amount * scale
    else:
        checks.reject(amount.isna(), "amount is not a number")
        checks.reject(quantity == 0, "quantity 0 with only an amount: no unit price")
        amount = amount * scale
        price = (amount / quantity.replace(0, np.nan)).abs()
    out["unit_price"] = price.round(2)
    out["amount"] = amount.round(2)

    for name, width in (("product", 200), ("description", 300), ("category", 100), ("channel", 16), ("country", 64)):
        source = _mapped(frame, mapping, name)
        out[name] = _text(source).str.slice(0, width) if source is not None else ""
    out["channel"] = out["channel"].str.lower()

    if mapping.attributes:
        out["attributes"] = _attributes(frame, mapping, options, checks)
    out["line"] = line
    validated = _split(out, checks)
    validated.rows["row_hash"] = row_hashes(validated.rows)
    validated.anonymous = int((validated.rows["customer_external_id"] == "").sum())
    return validated


ROW_IDENTITY = ["invoice_id", "customer_external_id", "product", "description", "quantity", "unit_price", "timestamp"]


def row_hashes(rows: pd.DataFrame) -> pd.Series:
    """One line's identity (128 bits, hex): a second import of the same line is recognised.

    Two keyed 64-bit pandas hashes, vectorised; a collision among ten million lines has
    a probability around 1e-25. The value is stored with every imported line, so it must
    not change between versions (tests/customers/importing/test_validate.py pins one).
    """
    if rows.empty:
        return pd.Series([], dtype="str")
    key = rows[ROW_IDENTITY]  # hashed by type: no text formatting of dates and numbers
    first = pd.util.hash_pandas_object(key, index=False, hash_key="custseg-row-id-1")
    second = pd.util.hash_pandas_object(key, index=False, hash_key="custseg-row-id-2")
    # The same text as "%016x%016x" per row, without a Python call per row: each byte
    # through a table of two hex digits, the 32 digits of a row laid end to end in one
    # buffer that becomes an Arrow string array as it is.
    pairs = np.column_stack([first.to_numpy(), second.to_numpy()]).astype(">u8")
    digits = np.ascontiguousarray(_HEX_PAIRS[pairs.view(np.uint8)])  # (rows, 16) of 2 bytes
    offsets = np.arange(0, 32 * (len(rows) + 1), 32, dtype=np.int32)
    text = pa.StringArray.from_buffers(len(rows), pa.py_buffer(offsets), pa.py_buffer(digits))
    return pd.Series(text, index=rows.index, dtype="str")


_HEX_PAIRS = np.array([f"{byte:02x}".encode() for byte in range(256)], dtype="S2")


def _split(out: pd.DataFrame, checks: _Checks) -> Validated:
    ok = checks.ok
    rejected = pd.DataFrame({"line": out.loc[~ok, "line"], "reason": checks.reason[~ok]})
    return Validated(rows=out[ok].reset_index(drop=True), rejected=rejected.reset_index(drop=True))


def validate(kind: str, frame: pd.DataFrame, lines: list[int], mapping: Mapping, options: ImportOptions) -> Validated:
    if kind == CUSTOMERS:
        return validate_customers(frame, lines, mapping, options)
    if kind == TRANSACTIONS:
        return validate_transactions(frame, lines, mapping, options)
    raise ValueError(f"unknown kind {kind!r}")
