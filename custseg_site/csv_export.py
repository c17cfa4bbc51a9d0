"""Streaming CSV responses, safe to open in a spreadsheet."""

import csv
import io
import re
from collections.abc import Iterable
from decimal import Decimal

from django.http import StreamingHttpResponse

# A text cell starting with one of these is run as a formula by Excel, LibreOffice and Sheets.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# ... unless it is a plain number ("-5", "+3.5", "-1e3"), which the spreadsheet reads as that
# number: prefixing it would turn a numeric cell into text.
PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
# The same rule in PostgreSQL regular expressions, for exports the database writes itself.
_FORMULA_START_SQL = r"^[-=+@\t\r]"
_PLAIN_NUMBER_SQL = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"
# Rows written per chunk of the response: one chunk per row costs a generator step and a
# WSGI write each; 2,000 rows (about 30-100 KB) keep that overhead out of the profile.
ROWS_PER_CHUNK = 2000


def neutralise(value):
    """Numbers stay numbers; a text cell a spreadsheet would run as a formula ("=1+1",
    "@SUM(A1)", "+49 30 1234", "-2+3") gets an apostrophe in front so it shows as text."""
    if value is None:
        return ""
    if isinstance(value, (int, float, Decimal)):
        return value
    text = str(value)
    if text.startswith(FORMULA_START) and not PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def neutralise_sql(expression: str) -> str:
    """neutralise() for a text column in PostgreSQL (the database writes the CSV)."""
    return (f"CASE WHEN {expression} ~ E'{_FORMULA_START_SQL}' AND {expression} !~ '{_PLAIN_NUMBER_SQL}' "
            f"THEN '''' || {expression} ELSE {expression} END")


def csv_lines(header: list[str], rows: Iterable[Iterable]):
    """The CSV text of header and rows, in chunks of ROWS_PER_CHUNK rows, cells neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([neutralise(cell) for cell in header])  # a header may come from a user's file
    count = 0
    for row in rows:
        writer.writerow([neutralise(value) for value in row])
        count += 1
        if count % ROWS_PER_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def csv_stream_response(filename: str, chunks: Iterable) -> StreamingHttpResponse:
    response = StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def csv_response(filename: str, header: list[str], rows: Iterable[Iterable]) -> StreamingHttpResponse:
    return csv_stream_response(filename, csv_lines(header, rows))
