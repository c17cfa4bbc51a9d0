"""The staged import: one job body for every file import (customers, transactions, outcomes).

A job reads its file through customers.importing.sources (CSV, gzip-compressed CSV or
XLSX, in chunks), and each chunk goes through its kind's handler (a StagedImport):
check() splits it into accepted rows and rejected rows (line, reason, cells as read),
stage() writes the accepted ones to the kind's staging table, and the rejected ones are
kept with the job. Each chunk commits on its own, in short writes, so progress and a
cancel are ordinary updates (SQLite has one writer at a time). At the end merge() moves
the staged rows into their tables in the transaction that marks the job succeeded: a
failed, cancelled or interrupted import leaves the data as it was, and a redelivered job
starts over (its staged and rejected rows are dropped first).

The job's row is moved by the job kernel (custseg_site.jobs.lifecycle). At its boundary
only the domain's own errors become the job's message (USER_ERRORS); anything else is
logged with its traceback and fails the job with a plain sentence, except database and
broker outages, which the task retries.

Why here rather than in customers/importing: that package reads and checks data without
Django, while this module is the Django side (job rows, transactions, tables) shared by
two apps' imports, next to the job kernel and bulk.py, which it uses.
"""

from __future__ import annotations

import contextlib
import csv
import uuid
import xml.etree.ElementTree
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from django.core.exceptions import ValidationError
from django.db import models, transaction

from customers.importing.mapping import MappingError
from customers.importing.sources import DEFAULT_CHUNK_ROWS, Chunk, Source, SourceError
from custseg_site.bulk import insert_frame
from custseg_site.jobs.lifecycle import job_boundary, job_claim, job_progress, job_succeed

# work_mem of the set-based merges (transactions, outcomes), this transaction only: their
# window sorts and hash joins over a file's staged rows (~40-50 bytes each) stay in memory
# up to about a million rows instead of spilling to disk.
MERGE_WORK_MEM = "64MB"
# What a file can raise part way through reading: it stops being text, a record no CSV
# reader can read, the file gone or cut short, a damaged gzip stream, a workbook whose zip
# or XML is damaged past its header.
READ_ERRORS = (UnicodeDecodeError, csv.Error, OSError, EOFError, zlib.error, zipfile.BadZipFile,
               xml.etree.ElementTree.ParseError)


class ImportFailed(Exception):
    """The import cannot go on; the message is a sentence for the job's page."""


# The errors whose words are the job's message (custseg_site.jobs.lifecycle.job_boundary).
USER_ERRORS = (ImportFailed, SourceError, MappingError, ValidationError)


def store_upload(uploaded, folder: Path) -> Path:
    """Write an uploaded file (Django UploadedFile) into `folder`, chunk by chunk."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"upload-{uuid.uuid4().hex}"
    with open(path, "wb") as handle:
        for piece in uploaded.chunks():
            handle.write(piece)
    return path


@dataclass
class Checked:
    """A chunk, checked: the rows to stage, and the rejected ones in the columns of the
    kind's rejected-row model (line, reason, raw: the row's cells as read)."""

    accepted: pd.DataFrame
    rejected: pd.DataFrame
    read: int  # records the chunk held: rows, and lines that are no row (a blank line is none)


@dataclass
class Totals:
    """The chunks' counts so far: records read, rows staged, rows rejected and why."""

    read: int = 0
    staged: int = 0
    rejected: int = 0
    reasons: Counter = field(default_factory=Counter)


def rejected_frame(rows: list[tuple[int, str, object]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["line", "reason", "raw"])


class StagedImport:
    """One kind of import: check (a chunk -> Checked), stage (accepted rows -> its staging
    table), merge (staged rows -> its tables, in the transaction that marks the job
    succeeded; returns the job row's fields), drop_staged, and the words of its progress
    and failures. A handler is made for one claimed job and lives while the job body runs,
    so it may keep counts of its own."""

    rejected_model: type[models.Model]  # line, reason, raw and a foreign key to the job...
    job_field: str  # ...named so ("job_id")
    time_limit_message = "The import took longer than its time limit."
    chunk_rows = DEFAULT_CHUNK_ROWS

    def __init__(self, job):
        # Only keep the job here: anything that can fail belongs in the hooks, which run
        # inside the job body's error boundary.
        self.job = job
        self.source: Source | None = None

    def chunks(self) -> Iterator[Chunk]:
        """The job's file in chunks; an error reading it fails the import with read_failure's words."""
        try:
            self.source = Source(self.job.file_path, chunk_rows=self.chunk_rows)
            yield from self.source.chunks()
        except READ_ERRORS as error:
            raise ImportFailed(self.read_failure(error)) from error

    def read_failure(self, error: Exception) -> str:
        return (f"The file could not be read to its end ({error}). Nothing from it was kept; check the file and "
                "import it again.")

    def check(self, chunk: Chunk) -> Checked:
        raise NotImplementedError

    def stage(self, rows: pd.DataFrame) -> None:
        raise NotImplementedError

    def reason_keys(self, reasons: pd.Series) -> pd.Series:
        """How the report counts the reasons (without the row's own value)."""
        return reasons

    def progress(self, totals: Totals, fraction_read: float) -> tuple[int, str, dict]:
        """Percent, stage and counts for the job's row after a chunk."""
        raise NotImplementedError

    def merging(self, totals: Totals) -> tuple[int, str]:
        raise NotImplementedError

    def merge(self, totals: Totals) -> dict:
        """Move the staged rows into their tables, in the caller's transaction; returns the
        fields of the job's row (counts, report) that its success writes."""
        raise NotImplementedError

    def drop_staged(self) -> None:
        raise NotImplementedError

    def session(self):
        """A context around the chunk loop and the success: a kind that writes its rows as
        it reads them opens the transaction that the success joins here."""
        return contextlib.nullcontext()

    def report(self, function, *args, **kwargs):
        """Run a progress write (function(*args, **kwargs)) where the web sees it: at once,
        unless session() keeps a transaction open, which must not hold it."""
        return function(*args, **kwargs)

    def succeeded(self, fields: dict) -> None:
        """After the success committed: logging and what follows new data."""


def staged_import_execute(*, model: type[models.Model], job_id: int, handler: Callable[[models.Model], StagedImport],
                          on_progress: Callable[[int, str], None] | None = None) -> None:
    """The job body: claim, read and check chunk by chunk, stage, merge. Safe to call
    twice: a finished job is left alone. `on_progress(percent, stage)` hears each report."""
    job = job_claim(model, job_id)
    if job is None:
        return
    kind = handler(job)

    def progress(percent: int, stage: str, **fields) -> None:
        kind.report(job_progress, job, percent, stage, **fields)  # raises JobCancelled once cancelled
        if on_progress is not None:
            on_progress(percent, stage)

    with job_boundary(job, user_errors=USER_ERRORS, on_stop=kind.drop_staged, timed_out=kind.time_limit_message):
        # A redelivered job starts over: what an interrupted attempt left is not counted.
        kind.drop_staged()
        kind.rejected_model.objects.filter(**{kind.job_field: job_id}).delete()
        with kind.session():
            totals = Totals()
            for chunk in kind.chunks():
                checked = kind.check(chunk)
                kind.stage(checked.accepted)
                _keep_rejected(kind, job_id, checked.rejected)
                totals.read += checked.read
                totals.staged += len(checked.accepted)
                totals.rejected += len(checked.rejected)
                totals.reasons.update(kind.reason_keys(checked.rejected["reason"]))
                percent, stage, fields = kind.progress(totals, chunk.fraction_read)
                progress(percent, stage, **fields)
            progress(*kind.merging(totals))
            # The merge and the job's success commit together: a cancel that lands before the
            # commit rolls the whole merge back (job_succeed raises JobCancelled), so the data
            # is as it was.
            with transaction.atomic():
                fields = kind.merge(totals)
                job_succeed(job, **fields)
        if on_progress is not None:
            on_progress(100, "Done")
        kind.succeeded(fields)


def _keep_rejected(kind: StagedImport, job_id: int, rejected: pd.DataFrame) -> None:
    if rejected.empty:
        return
    frame = rejected[["line", "reason", "raw"]].assign(reason=rejected["reason"].str.slice(0, 300),
                                                       **{kind.job_field: job_id})
    insert_frame(kind.rejected_model, frame)
