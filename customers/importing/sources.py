"""Read an uploaded customers or transactions file in chunks, whatever its format.

CSV (UTF-8 with or without BOM, Windows-1252/Latin-1; comma, semicolon or tab; quoted
fields with embedded newlines), gzip-compressed CSV and XLSX. Every record in the file
comes out either as a row of a chunk or as a `Problem` with its line number: nothing is
skipped silently. CSV is parsed by pyarrow (customers.importing.arrow_csv numbers its
lines as Python's csv module does), and by the csv module from wherever pyarrow cannot
follow it. No Django here.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from customers.importing.arrow_csv import ArrowRecords

# Bytes looked at to guess the encoding and the delimiter.
SNIFF_BYTES = 1 << 20
# The longest field accepted; a longer one (a runaway quote, a binary blob) rejects its row.
MAX_FIELD_CHARS = 1 << 20
# Rows validated at a time. Do not change it: validation types a chunk's numbers as
# pd.to_numeric does (int64 when all are whole, float64 when one is not), row hashes hash by
# type, so the lines near an unreadable quantity would hash differently from the lines an
# earlier version stored, and a file imported again would add them again.
DEFAULT_CHUNK_ROWS = 50_000
DELIMITERS = (",", ";", "\t")

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"


class SourceError(ValueError):
    """The file cannot be read at all; the message says why, for the person who sent it."""


@dataclass(frozen=True)
class Problem:
    line: int  # 1-based line in the file (the header is line 1); XLSX: the sheet row
    reason: str
    raw: str = ""


@dataclass
class Chunk:
    frame: pd.DataFrame  # one column per header, values as read (str for CSV)
    lines: list[int]  # the line each row starts on, aligned with frame rows
    problems: list[Problem] = field(default_factory=list)
    fraction_read: float = 0.0  # share of the file's bytes read so far, for progress bars


@dataclass(frozen=True)
class SourceInfo:
    format: str  # "csv", "csv.gz" or "xlsx"
    encoding: str | None
    delimiter: str | None
    header: list[str]
    renamed_headers: dict[str, str]  # duplicate header -> the name it got


# Files people send by mistake instead of an export (a screenshot, a PDF, an old .xls),
# known by their first bytes whatever follows: the message names what the file is.
BINARY_SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": "a PNG image", b"\xff\xd8\xff": "a JPEG image", b"GIF87a": "a GIF image",
    b"GIF89a": "a GIF image", b"%PDF-": "a PDF document", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1": "an old Excel (.xls) or Office file",
    b"Rar!\x1a\x07": "a RAR archive", b"7z\xbc\xaf\x27\x1c": "a 7-Zip archive",
}
# Bytes no header line of a text file holds: control characters other than tab, line and page breaks.
CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0e-\x1f\x7f]")


def binary_reason(head: bytes) -> str | None:
    """Why the first bytes of a file are not text, in words (None: they may be text). Every
    import (customers, transactions, campaign outcomes) refuses such a file with this sentence."""
    what = next((name for signature, name in BINARY_SIGNATURES.items() if head.startswith(signature)), None)
    if what is None and (b"\x00" in head[:4096] or CONTROL_BYTES.search(head[:4096].split(b"\n", 1)[0])):
        what = ""
    if what is None:
        return None
    return ("This does not look like a CSV, gzip-compressed CSV or XLSX file "
            f"(it holds binary data{': it is ' + what if what else ''}).")


def detect_format(head: bytes) -> str:
    if head.startswith(GZIP_MAGIC):
        return "csv.gz"
    if head.startswith(ZIP_MAGIC):
        return "xlsx"
    if not head:
        raise SourceError("The file is empty.")
    reason = binary_reason(head)
    if reason is not None:
        raise SourceError(reason)
    return "csv"


def detect_encoding(sample: bytes) -> str:
    """utf-8-sig for a BOM, utf-8 when the sample decodes as UTF-8, else Windows-1252."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as error:
        # A sample cut inside a multi-byte character fails only at its very end.
        if error.start >= len(sample) - 3 and error.reason == "unexpected end of data":
            return "utf-8"
    try:
        sample.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"  # decodes any byte; the five bytes cp1252 leaves undefined


def detect_delimiter(text: str) -> str:
    """The delimiter that splits the header line into the most fields (outside quotes)."""
    first_record = _first_record(text)
    counts = {}
    for delimiter in DELIMITERS:
        try:
            counts[delimiter] = len(next(csv.reader([first_record], delimiter=delimiter)))
        except (csv.Error, StopIteration):
            counts[delimiter] = 0
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] > 1 else ","


def _first_record(text: str) -> str:
    in_quotes = False
    for position, char in enumerate(text):
        if char == '"':
            in_quotes = not in_quotes
        elif char in "\r\n" and not in_quotes:
            return text[:position]
    return text


def dedupe_header(header: list[str]) -> tuple[list[str], dict[str, str]]:
    """Blank names become "column N"; a repeated name gets " (2)", " (3)"..."""
    seen: dict[str, int] = {}
    result, renamed = [], {}
    for position, name in enumerate(header, start=1):
        name = (name or "").strip() or f"column {position}"
        if name in seen:
            seen[name] += 1
            new_name = f"{name} ({seen[name]})"
            renamed[new_name] = name
            name = new_name
        else:
            seen[name] = 1
        result.append(name)
    return result, renamed


class Source:
    """An opened file: `info` describes it, `chunks()` yields its rows."""

    def __init__(self, path: str | Path, *, chunk_rows: int = DEFAULT_CHUNK_ROWS):
        self.path = Path(path)
        self.chunk_rows = chunk_rows
        with open(self.path, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
        self.format = detect_format(head)
        if self.format == "xlsx":
            self._init_xlsx()
        else:
            self._init_csv(head)

    # CSV and gzip-compressed CSV ---------------------------------------------------

    def _binary(self) -> BinaryIO:
        self._raw = open(self.path, "rb")  # its position (compressed bytes) drives progress
        if self.format == "csv.gz":
            return gzip.GzipFile(fileobj=self._raw, mode="rb")
        return self._raw

    def _init_csv(self, head: bytes) -> None:
        if self.format == "csv.gz":
            try:
                with self._binary() as handle:
                    head = handle.read(SNIFF_BYTES)
            except (OSError, EOFError) as error:
                raise SourceError(f"The gzip file is damaged: {error}.") from error
            if not head:
                raise SourceError("The file is empty.")
            if binary_reason(head) is not None:
                raise SourceError("The compressed file does not hold a CSV file (it holds binary data).")
        self.encoding = detect_encoding(head)
        text = head.decode(self.encoding, errors="replace")
        if not text.strip():
            raise SourceError("The file is empty.")
        self.delimiter = detect_delimiter(text)
        with self._text() as stream:
            reader = self._reader(stream)
            header = next(reader, [])
            self._header_lines = reader.line_num  # more than one when a name holds a line break
        columns, renamed = dedupe_header(header)
        self.info = SourceInfo(self.format, self.encoding, self.delimiter, columns, renamed)

    def _text(self):
        return io.TextIOWrapper(self._binary(), encoding=self.encoding, newline="")

    def _reader(self, stream):
        return csv.reader(stream, delimiter=self.delimiter)

    def _csv_chunks(self) -> Iterator[Chunk]:
        width = len(self.info.header)
        records = ArrowRecords(self._binary(), encoding=self.encoding, delimiter=self.delimiter, width=width,
                               header_lines=self._header_lines, max_field_chars=MAX_FIELD_CHARS)
        tables, lines, problems, count = [], [], [], 0
        waiting: list[Problem] = []  # problems after the rows so far, in the order of their lines
        try:
            for placed in records.batches():
                table, placed_lines = placed.table, placed.lines
                if width == 1 and table.num_rows:  # one empty value is a blank line, as for the csv module
                    keep = pc.not_equal(table.column(0), "")
                    table, placed_lines = table.filter(keep), placed_lines[keep.to_numpy(zero_copy_only=False)]
                waiting += [Problem(problem.line, problem.reason, problem.raw) for problem in placed.problems]
                offset = 0
                while offset < table.num_rows:
                    take = min(self.chunk_rows - count, table.num_rows - offset)
                    tables.append(table.slice(offset, take))
                    lines.append(placed_lines[offset: offset + take])
                    count, offset = count + take, offset + take
                    if count >= self.chunk_rows:
                        # a chunk holds the problems before its last row, as the csv module's reading has it
                        last = int(lines[-1][-1])
                        problems += [problem for problem in waiting if problem.line < last]
                        waiting = [problem for problem in waiting if problem.line > last]
                        yield self._arrow_chunk(tables, lines, problems)
                        tables, lines, problems, count = [], [], [], 0
            problems += waiting
            if tables or problems:
                yield self._arrow_chunk(tables, lines, problems)
        finally:
            self._raw.close()
        if records.resume_line is not None:
            yield from self._python_chunks(records.resume_line)

    def _arrow_chunk(self, tables: list[pa.Table], lines: list[np.ndarray], problems: list[Problem]) -> Chunk:
        if not tables:
            return self._chunk([], [], problems)
        frame = pa.concat_tables(tables).to_pandas()
        frame.columns = self.info.header
        return self._chunk(frame, np.concatenate(lines).tolist(), problems)

    def _python_chunks(self, first_line: int) -> Iterator[Chunk]:
        """The records from line `first_line` on (the start of one), read by the csv module."""
        previous_limit = csv.field_size_limit(MAX_FIELD_CHARS)
        try:
            with self._text() as stream:
                for _ in range(first_line - 1):
                    stream.readline()
                skipped = first_line - 1
                reader = self._reader(stream)
                width = len(self.info.header)
                rows, lines, problems = [], [], []
                start = first_line
                while True:
                    try:
                        record = next(reader)
                    except StopIteration:
                        break
                    except csv.Error as error:
                        problems.append(Problem(start, f"unreadable row: {error}"))
                        start = skipped + reader.line_num + 1
                        continue
                    line, start = start, skipped + reader.line_num + 1
                    if not record or (len(record) == 1 and record[0] == ""):
                        continue  # a blank line is not a record
                    if len(record) != width:
                        problems.append(
                            Problem(line, f"expected {width} fields, found {len(record)}",
                                    self.delimiter.join(record)[:500])
                        )
                    else:
                        rows.append(record)
                        lines.append(line)
                    if len(rows) >= self.chunk_rows:
                        yield self._chunk(rows, lines, problems)
                        rows, lines, problems = [], [], []
                if rows or problems:
                    yield self._chunk(rows, lines, problems)
        finally:
            csv.field_size_limit(previous_limit)

    # XLSX ------------------------------------------------------------------------------

    def _init_xlsx(self) -> None:
        from openpyxl.utils.exceptions import InvalidFileException

        self.encoding = self.delimiter = None
        try:
            header = next(self._xlsx_rows(), ())
        except (zipfile.BadZipFile, KeyError, OSError, ValueError, InvalidFileException) as error:
            raise SourceError(f"This is not a readable XLSX workbook ({error}).") from error
        columns, renamed = dedupe_header(["" if v is None else str(v) for v in header])
        if not any(v is not None for v in header):
            raise SourceError("The first sheet of the workbook is empty.")
        self.info = SourceInfo("xlsx", None, None, columns, renamed)

    def _xlsx_rows(self):
        from openpyxl import load_workbook

        # A file object, not the path: openpyxl judges a path by its extension, and an
        # upload's temporary file has none.
        with open(self.path, "rb") as handle:
            workbook = load_workbook(handle, read_only=True, data_only=True)
            try:
                yield from workbook.worksheets[0].iter_rows(values_only=True)
            finally:
                workbook.close()

    def _xlsx_chunks(self) -> Iterator[Chunk]:
        width = len(self.info.header)
        rows, lines, problems = [], [], []
        for number, values in enumerate(self._xlsx_rows(), start=1):
            if number == 1:
                continue
            values = list(values)
            while values and values[-1] is None and len(values) > width:
                values.pop()  # trailing empty cells beyond the header
            if all(v is None or v == "" for v in values):
                continue
            if len(values) > width:
                problems.append(Problem(number, f"expected {width} fields, found {len(values)}"))
                continue
            rows.append(values + [None] * (width - len(values)))
            lines.append(number)
            if len(rows) >= self.chunk_rows:
                yield self._chunk(rows, lines, problems)
                rows, lines, problems = [], [], []
        if rows or problems:
            yield self._chunk(rows, lines, problems)

    # ---------------------------------------------------------------------------------

    def _chunk(self, rows, lines, problems) -> Chunk:
        frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows, columns=self.info.header, dtype=object)
        fraction = 0.0
        raw = getattr(self, "_raw", None)
        if raw is not None and not raw.closed:
            fraction = min(raw.tell() / max(self.path.stat().st_size, 1), 1.0)
        return Chunk(frame=frame, lines=lines, problems=problems, fraction_read=fraction)

    def chunks(self) -> Iterator[Chunk]:
        return self._xlsx_chunks() if self.format == "xlsx" else self._csv_chunks()

    def has_records(self) -> bool:
        """Whether anything follows the header (a row, or a line that is not one)."""
        for _ in Source(self.path, chunk_rows=1).chunks():
            return True
        return False

    def preview(self, rows: int = 10) -> pd.DataFrame:
        for chunk in Source(self.path, chunk_rows=rows).chunks():
            return chunk.frame.head(rows)
        return pd.DataFrame(columns=self.info.header)
