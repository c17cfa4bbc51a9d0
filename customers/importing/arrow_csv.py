"""CSV records through pyarrow's parser, each with the line it starts on in the file.

Python's csv module reads a file record by record and counts its lines; pyarrow parses it
ten times faster, a block at a time, but says neither where a record starts nor that a
line was blank. This module puts the lines back, exactly as the csv module numbers them:
- a record spans one line plus the line breaks inside its quoted values ("\\n", "\\r\\n"
  and "\\r" each count once, as they do for the csv module);
- a blank line is no record: the text handed to pyarrow notes where empty lines are, and an
  empty line at the start of a record is blank (one inside a quoted value is not);
- a record with the wrong number of fields comes from pyarrow's invalid-row handler, with
  its number among the records: it is parsed again by the csv module, which gives its
  fields and the reason.
Where pyarrow cannot follow the csv module (a field longer than the csv module accepts, a
record longer than a block, text that is not the announced encoding, a record the two read
differently), the reader stops at the first record it has not placed and says on which
line: the caller reads the rest with the csv module. No Django here.
"""

from __future__ import annotations

import codecs
import csv
import io
import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

# Bytes of the file read per call to the underlying (gzip) stream.
READ_BYTES = 1 << 20
# Bytes pyarrow parses at a time (its default): a record longer than that goes to the csv
# module. Larger blocks parse no faster and keep more memory.
BLOCK_BYTES = 1 << 20
UTF8 = ("utf-8", "utf-8-sig")  # a BOM is in the header, which pyarrow skips


class _Resume(Exception):
    """pyarrow stops here; `rows` rows of the current batch were placed before."""

    def __init__(self, rows: int = 0):
        super().__init__(rows)
        self.rows = rows


@dataclass
class RecordProblem:
    line: int
    reason: str
    raw: str


@dataclass
class PlacedBatch:
    table: pa.Table  # the records with the right number of fields
    lines: np.ndarray  # the line each of them starts on
    problems: list[RecordProblem] = field(default_factory=list)


class _Utf8Text(io.RawIOBase):
    """The file's text as UTF-8 bytes, for pyarrow; counts the line breaks handed out and notes
    the empty lines (line numbers, ascending)."""

    def __init__(self, binary: BinaryIO, encoding: str):
        super().__init__()
        self._binary = binary
        self._decoder = None if encoding in UTF8 else codecs.getincrementaldecoder(encoding)()
        self._pending = b""
        self._eof = False
        self._last = b""  # the last byte handed out
        self.breaks = 0
        self.empty_lines: deque[int] = deque()
        self.failure: BaseException | None = None  # raised by the file while pyarrow read it

    def _pull(self) -> None:
        try:
            data = self._binary.read(READ_BYTES)
            if not data:
                self._eof = True
            if self._decoder is not None:
                data = self._decoder.decode(data, final=self._eof).encode("utf-8")
        except BaseException as error:  # pyarrow would hide it in its own
            self.failure = error
            raise
        self._pending += data

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while not self._eof and (size < 0 or len(self._pending) <= size):
            self._pull()
        out = self._pending if size < 0 else self._pending[:size]
        if out.endswith(b"\r") and not (self._eof and len(out) == len(self._pending)):
            out = out[:-1] or out  # "\r\n" is one break: keep a last "\r" for the next call
        self._pending = self._pending[len(out):]
        self._scan(out)
        return out

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _scan(self, data: bytes) -> None:
        if not data:
            return
        joined = self._last + data
        if b"\n\n" in joined or b"\r\r" in joined or b"\n\r" in joined:
            self._note_empty_lines(joined, carried=len(self._last))
        self.breaks += data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")
        self._last = data[-1:]

    def _note_empty_lines(self, joined: bytes, carried: int) -> None:
        codes = np.frombuffer(joined, dtype=np.uint8)
        cr, lf = codes == 13, codes == 10
        alone_lf = lf.copy()
        alone_lf[1:] &= ~cr[:-1]
        starts = np.flatnonzero(cr | alone_lf)
        ends = starts + 1 + (cr[starts] & np.append(lf[1:], False)[starts])
        # the carried byte, when a break, was counted with the previous data
        first = self.breaks - (1 if carried and starts.size and starts[0] == 0 else 0)
        for k in np.flatnonzero(starts[1:] == ends[:-1]):
            self.empty_lines.append(first + int(k) + 2)  # break g (from 0) ends line g + 1


def _line_breaks(text: str) -> int:
    return text.count("\n") + text.count("\r") - text.count("\r\n")


class ArrowRecords:
    """The records after the header, in batches, with their lines and the problems between."""

    def __init__(self, binary: BinaryIO, *, encoding: str, delimiter: str, width: int, header_lines: int,
                 max_field_chars: int):
        self.text = _Utf8Text(binary, encoding)
        self.delimiter = delimiter
        self.width = width
        self.header_lines = header_lines
        self.max_field_chars = max_field_chars
        self.next_line = header_lines + 1  # where the next record starts, but for blank lines
        self.next_record = header_lines + 1  # its number for pyarrow (skipped lines count one each)
        self.invalid: dict[int, str] = {}  # record number -> its text
        self.resume_line: int | None = None  # set when the csv module must read on

    def _on_invalid(self, row) -> str:
        self.invalid[row.number] = row.text
        return "skip"

    def batches(self) -> Iterator[PlacedBatch]:
        names = [f"c{position}" for position in range(self.width)]
        try:
            reader = pa_csv.open_csv(
                self.text,
                read_options=pa_csv.ReadOptions(use_threads=False, block_size=BLOCK_BYTES, column_names=names,
                                                skip_rows=self.header_lines),
                parse_options=pa_csv.ParseOptions(delimiter=self.delimiter, newlines_in_values=True,
                                                  invalid_row_handler=self._on_invalid),
                convert_options=pa_csv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()),
                                                      strings_can_be_null=False),
            )
            for batch in reader:
                placed = PlacedBatch(pa.Table.from_batches([batch]), np.empty(batch.num_rows, dtype=np.int64))
                try:
                    self._place(placed)
                except _Resume as stop:
                    placed.table, placed.lines = placed.table.slice(0, stop.rows), placed.lines[: stop.rows]
                    yield placed
                    raise
                yield placed
            tail = PlacedBatch(pa.Table.from_batches([], schema=reader.schema), np.empty(0, dtype=np.int64))
            self._place_invalid(tail.problems, remaining=True)
            yield tail
        except (_Resume, pa.ArrowException, UnicodeError, OSError, EOFError, zlib.error):
            failure = self.text.failure
            if failure is not None and not isinstance(failure, (UnicodeError, OSError, EOFError, zlib.error)):
                raise failure from None  # a time limit, an interrupt: not the file's doing
            # the csv module reads on from the first record not placed (and fails as it does
            # on a file that cannot be read)
            self.resume_line = self.next_line

    # where each record starts -----------------------------------------------------------------

    def _skip_blank_lines(self) -> None:
        empty = self.text.empty_lines
        while empty and empty[0] <= self.next_line:
            if empty.popleft() == self.next_line:
                self.next_line += 1  # a blank line before the next record

    def _place(self, placed: PlacedBatch) -> None:
        table, count = placed.table, placed.table.num_rows
        spans = np.ones(count, dtype=np.int64)
        too_long = count
        for column in table.columns:
            for chunk in column.chunks:  # one for a batch read
                offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int32)[chunk.offset: chunk.offset + len(chunk) + 1]
                data = chunk.buffers()[2]
                text = data.to_pybytes()[offsets[0]: offsets[-1]] if data is not None else b""
                if b"\n" in text or b"\r" in text:  # line breaks in quoted values: count them per value
                    spans += pc.subtract(pc.add(pc.count_substring(column, "\n"), pc.count_substring(column, "\r")),
                                         pc.count_substring(column, "\r\n")).to_numpy(zero_copy_only=False)
                # bytes are at least as many as characters: only a long value can be too long
                if len(offsets) > 1 and np.diff(offsets).max() > self.max_field_chars:
                    lengths = pc.utf8_length(column).to_numpy(zero_copy_only=False)
                    long = np.flatnonzero(lengths > self.max_field_chars)
                    if long.size:
                        too_long = min(too_long, int(long[0]))
        done = 0
        while done < count:
            try:
                self._place_invalid(placed.problems)
            except _Resume:
                raise _Resume(done) from None
            later = [number for number in self.invalid if number > self.next_record]
            run = min(count - done, (min(later) if later else self.next_record + count) - self.next_record)
            if done <= too_long < done + run:
                self._place_run(placed.lines, spans, done, too_long - done)
                raise _Resume(too_long)  # the csv module tells what is wrong with that record
            self._place_run(placed.lines, spans, done, run)
            done += run

    def _place_run(self, lines: np.ndarray, spans: np.ndarray, start: int, count: int) -> None:
        if not count:
            return
        self._skip_blank_lines()
        part = spans[start: start + count]
        starts = self.next_line + np.concatenate(([0], np.cumsum(part[:-1])))
        end = int(starts[-1] + part[-1])
        empty = self.text.empty_lines
        while empty and empty[0] < end:
            line = empty.popleft()
            at = int(np.searchsorted(starts, line))
            if at < count and starts[at] == line:  # else inside a quoted value of the record before
                starts[at:] += 1
                end += 1
        lines[start: start + count] = starts
        self.next_line = end
        self.next_record += count

    def _place_invalid(self, problems: list[RecordProblem], *, remaining: bool = False) -> None:
        """The invalid records numbered from next_record on (with `remaining`, all that are left:
        they come after the last valid record)."""
        while self.invalid:
            if self.next_record not in self.invalid:
                if not remaining:
                    return
                self.next_record = min(self.invalid)
            text = self.invalid.pop(self.next_record)
            self._skip_blank_lines()
            try:
                record = next(csv.reader(io.StringIO(text, newline=""), delimiter=self.delimiter), [])
            except csv.Error as error:
                raise _Resume from error
            if len(record) == self.width:
                raise _Resume  # a record pyarrow and the csv module read differently
            if record and not (len(record) == 1 and record[0] == ""):  # else a blank record
                problems.append(RecordProblem(self.next_line, f"expected {self.width} fields, found {len(record)}",
                                              self.delimiter.join(record)[:500]))
            self.next_line += 1 + _line_breaks(text)
            self.next_record += 1
