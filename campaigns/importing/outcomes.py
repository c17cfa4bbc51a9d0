"""Reading and checking outcome rows: the file's header, a row's fields, the reasons a row
is rejected. A file is read through customers.importing.sources (CSV, gzip-compressed CSV
or XLSX); a JSON list becomes chunks of the same shape. No database here: the customer
and audience lookups are the import's (campaigns.services.outcome_imports).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pandas as pd
from django.core.exceptions import ValidationError
from django.utils import dateparse, timezone

from campaigns.models import CampaignOutcome
from customers.importing.sources import Chunk, Problem, Source, SourceError
from custseg_site.staged_import import READ_ERRORS


class OutcomeFileError(ValidationError):
    """The file as a whole cannot be read (not text, no header, a required column missing)."""


# Header names accepted for each field (lower case, spaces and dashes as underscores).
COLUMN_NAMES = {
    "customer": ("customer", "customer_id", "external_id", "customer_external_id", "customerid"),
    "event": ("event", "event_type", "type"),
    "revenue": ("revenue", "amount", "value"),
    "timestamp": ("timestamp", "occurred_at", "time", "datetime", "date"),
}
REQUIRED_COLUMNS = ("customer", "event", "timestamp")
# The columns of a JSON list (and of its rejected-rows download).
JSON_FIELDS = ["customer", "event", "revenue", "timestamp"]
# A rejected row keeps at most this many cells of this many characters: enough to see and
# fix any real row, and a bound on what one malformed line (no line breaks, a stray quote
# swallowing the file) can store.
RAW_CELLS = 100
RAW_CELL_CHARS = 1_000
EVENTS = tuple(CampaignOutcome.Event.values)


# ----------------------------------------------------------------------------- the file

def _header_key(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


def column_positions(header: list[str]) -> dict[str, int]:
    """Where each field's column is (the first one named so); OutcomeFileError when a
    required one is missing."""
    keys = [_header_key(name) for name in header]
    positions = {}
    for name, accepted in COLUMN_NAMES.items():
        found = [i for i, key in enumerate(keys) if key in accepted]
        if found:
            positions[name] = found[0]
    missing = [name for name in REQUIRED_COLUMNS if name not in positions]
    if missing:
        raise OutcomeFileError({"file": [
            f"The file has no {', '.join(missing)} column. Expected a header with customer, event, timestamp "
            f"and (for conversions) revenue; found: {', '.join(header) or 'nothing'}."]})
    return positions


def outcome_file_header(path: Path) -> list[str]:
    """Check a file of outcomes as a whole before it is imported: readable, a header with
    the customer, event and timestamp columns, and a row that reads. Returns the header;
    raises OutcomeFileError."""
    try:
        source = Source(path, chunk_rows=1)
    except SourceError as error:
        raise OutcomeFileError({"file": [str(error)]}) from error
    except UnicodeDecodeError as error:
        raise OutcomeFileError({"file": ["The file is not text (UTF-8 or Windows-1252)."]}) from error
    except csv.Error as error:
        raise OutcomeFileError({"file": [f"The file's header cannot be read as CSV ({error})."]}) from error
    header = source.info.header
    column_positions(header)
    problem = None
    try:
        for chunk in source.chunks():  # a row at a time, up to the first that is not blank
            if any(not is_blank(cells(values)) for values in chunk.frame.itertuples(index=False, name=None)):
                return header
            problem = problem or next(iter(chunk.problems), None)
    except READ_ERRORS as error:
        raise OutcomeFileError({"file": [f"The file cannot be read as CSV text ({error})."]}) from error
    if problem is not None:  # not one line of it reads as a row
        what = "The workbook's rows cannot be read" if source.format == "xlsx" else "The file cannot be read as CSV text"
        raise OutcomeFileError({"file": [f"{what} (line {problem.line}: {problem.reason})."]})
    raise OutcomeFileError({"file": ["The file has a header and no rows: there is nothing to import."]})


def undecodable_offset(path: Path, encoding: str, *, compressed: bool) -> int:
    """Where a file stops being text in `encoding`: the offset of the first byte that does
    not decode (in the decompressed bytes of a gzip file). Source has closed the file by the
    time its error arrives, so the spot is found again."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    with gzip.open(path, "rb") if compressed else open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            pending = len(decoder.getstate()[0])  # bytes of a character cut by the last block
            try:
                decoder.decode(block)
            except UnicodeDecodeError as error:
                return offset - pending + error.start
            offset += len(block)
    return offset


def json_chunks(rows: list, chunk_rows: int) -> Iterator[Chunk]:
    """A JSON list of {customer, event, revenue, timestamp} objects as chunks of a file with
    those columns, numbered from 1; what is no object is a problem of its line."""
    for start in range(0, len(rows), chunk_rows):
        values, lines, problems = [], [], []
        for line, row in enumerate(rows[start:start + chunk_rows], start=start + 1):
            if not isinstance(row, dict):
                problems.append(Problem(line, "not an object with customer, event, revenue and timestamp",
                                        json.dumps(row)))
                continue
            fields = {name: row.get(name) for name in JSON_FIELDS}
            if fields["timestamp"] is None:
                fields["timestamp"] = row.get("occurred_at")
            values.append([fields[name] for name in JSON_FIELDS])
            lines.append(line)
        yield Chunk(frame=pd.DataFrame(values, columns=JSON_FIELDS, dtype=object), lines=lines, problems=problems,
                    fraction_read=min(start + chunk_rows, len(rows)) / len(rows))


# ----------------------------------------------------------------------------- a row

def _text(value) -> str:
    # A NUL character cannot be stored in PostgreSQL text or jsonb (nor looked up): it
    # shows as the replacement character, and the row is judged (rejected) as it reads then.
    text = "" if value is None else str(value)
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def cells(values) -> list[str]:
    """A row's values as text (a workbook's numbers and dates too; an empty cell as "")."""
    return [_text(value) for value in values]


def is_blank(row: list[str]) -> bool:
    return not any(cell.strip() for cell in row)


def raw_cells(row: list[str]) -> list[str]:
    """What a rejected row keeps of its cells (RAW_CELLS, RAW_CELL_CHARS)."""
    return [cell[:RAW_CELL_CHARS] for cell in row[:RAW_CELLS]]


def problem_cells(problem: Problem, delimiter: str | None) -> list[str]:
    """The cells of a line that is no row, as far as the reader kept it (its text, split at
    the file's delimiter)."""
    if not problem.raw:
        return []
    return raw_cells(cells(problem.raw.split(delimiter) if delimiter else [problem.raw]))


def _parse_timestamp(value: str) -> datetime | None:
    value = value.strip()
    try:
        parsed = dateparse.parse_datetime(value)
        if parsed is None:
            day = dateparse.parse_date(value)
            parsed = datetime.combine(day, time()) if day else None
    except ValueError:
        return None
    if parsed is None:
        return None
    try:
        if timezone.is_naive(parsed):
            parsed = timezone.make_aware(parsed)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # 9999-12-31T23:00-05:00 is past the last moment there is
        return None


def parse_row(fields: dict[str, str]) -> tuple[dict | None, str | None]:
    """A row's customer, event, revenue and moment, or why it is rejected."""
    customer = fields.get("customer", "").strip()
    if not customer:
        return None, "no customer id"
    expected_events = f"(expected one of {', '.join(EVENTS)})"
    event = fields.get("event", "").strip().lower()
    if not event:
        return None, f"no event type {expected_events}"
    if event not in EVENTS:
        return None, f"unknown event type “{fields.get('event')}” {expected_events}"
    raw_revenue = fields.get("revenue", "")
    revenue = None
    if raw_revenue.strip() != "":
        try:
            revenue = Decimal(raw_revenue.strip())
        except InvalidOperation:
            revenue = None
        if revenue is None or not revenue.is_finite() or revenue < 0 or revenue.as_tuple().exponent < -2 \
                or abs(revenue) >= 10 ** 12:
            return None, f"bad revenue “{raw_revenue}” (write a non-negative amount with at most two decimals, e.g. 19.90)"
        if event != CampaignOutcome.Event.CONVERTED:
            article = "an" if event[0] in "aeiou" else "a"  # the events are plain English words: "an opened"
            return None, f"bad revenue: {article} “{event}” event carries no revenue (only conversions do)"
    timestamp_format = "(write ISO 8601, e.g. 2026-03-01T14:30:00Z or 2026-03-01)"
    raw_time = fields.get("timestamp", "").strip()
    if not raw_time:
        return None, f"no timestamp {timestamp_format}"
    occurred_at = _parse_timestamp(raw_time)
    if occurred_at is None:
        return None, f"bad timestamp “{raw_time}” {timestamp_format}"
    return {"customer": customer, "event": event, "revenue": revenue, "occurred_at": occurred_at}, None


def reason_key(reason: str) -> str:
    """The reason without the row's value or the explanation: how the report counts reasons
    ("unknown customer", "no timestamp", "bad revenue", "not in the campaign audience")."""
    return re.split(r":| “| \(", reason, maxsplit=1)[0]
