"""Outcome imports: responses and conversions of a launched campaign's audience, from a
file (CSV, gzip-compressed CSV or XLSX: the campaign page, the API, the command line) or a
small JSON list (the API).

A file import is a job. outcome_import_create checks the file as a whole (campaigns.importing.outcomes:
readable, a header with the customer, event and timestamp columns, a row), keeps it and
enqueues campaigns.import_outcomes on commit; the task calls outcome_import_execute, a
staged import (custseg_site.staged_import) that reads the file in chunks of CHUNK_ROWS
rows. Each chunk is parsed and checked (one customer lookup, one member lookup); its
refused rows go to OutcomeRejectedRow (line, reason, cells), its accepted rows to
OutcomeStagedRow, and the progress to the job's row. Then one transaction merges the
staged rows into CampaignOutcome and marks the job succeeded, so either all of a file's
accepted rows land with its report, or (failed, cancelled, interrupted) none do. A JSON
list goes through the same checks, within the request.

Every row read ends up added, a duplicate (the same member, event and moment is already
recorded or came earlier in the file: a re-import adds nothing) or rejected with its line
and reason: rows = added + duplicates + rejected.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Iterator
from functools import cached_property
from pathlib import Path

import pandas as pd
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from campaigns.importing.outcomes import (
    JSON_FIELDS,
    OutcomeFileError,
    cells,
    column_positions,
    is_blank,
    json_chunks,
    outcome_file_header,
    parse_row,
    problem_cells,
    raw_cells,
    reason_key,
    undecodable_offset,
)
from campaigns.models import (
    Campaign,
    CampaignMember,
    CampaignOutcome,
    OutcomeImport,
    OutcomeRejectedRow,
    OutcomeStagedRow,
)
from customers.importing.sources import Chunk
from customers.models import Customer
from custseg_site.jobs.lifecycle import job_cancel, job_enqueue, job_fail
from custseg_site.jobs.models import FINISHED_STATUSES
from custseg_site.staged_import import (
    MERGE_WORK_MEM,
    Checked,
    StagedImport,
    Totals,
    rejected_frame,
    staged_import_execute,
    store_upload,
)

logger = logging.getLogger(__name__)

# Rows checked and written together: one customer lookup, one member lookup and one insert
# per chunk keeps a big file's memory flat and its queries few.
CHUNK_ROWS = 5_000
# A JSON list is imported within its request up to this many rows (a second or two of
# work); a longer one should come as a file, which runs in the background with progress.
JSON_MAX_ROWS = 10_000
# Rejected rows shown on the import's page and in its API body; the download has them all.
REJECTIONS_SHOWN = 20
STAGED_COLUMNS = ["line", "member_id", "event", "revenue", "occurred_at"]


def _user(by):
    return by if by is not None and getattr(by, "is_authenticated", False) else None


def _check_launched(campaign: Campaign) -> None:
    # read afresh: the caller's instance may predate the launch
    if not Campaign.objects.filter(pk=campaign.pk, launched_at__isnull=False).exists():
        raise ValidationError({"__all__": ["Launch the campaign first: outcomes belong to its frozen audience."]})


# ----------------------------------------------------------------------------- creating

def outcome_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / "outcome-imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def outcome_store_upload(uploaded) -> Path:
    """Write an uploaded file (Django UploadedFile) to the outcome imports folder, chunk by chunk."""
    return store_upload(uploaded, outcome_dir())


def outcome_import_create(*, campaign: Campaign, path: Path, file_name: str, source: str, by=None,
                          enqueue: bool = True) -> OutcomeImport:
    """Check a file of outcomes (CSV, gzip-compressed CSV or XLSX with a header naming the
    customer, event and timestamp columns, and at least one row), store a pending import of
    it and, with `enqueue`, queue its job once the transaction commits. Refused files raise
    ValidationError and store nothing.

    The import reads `path` when it runs: a stored upload (outcome_store_upload), which is
    removed once the import finishes, or the command line's own file, which is left alone.
    """
    _check_launched(campaign)
    size = Path(path).stat().st_size
    if size > settings.IMPORT_MAX_BYTES:
        raise OutcomeFileError({"file": [f"The file is {size / 1e6:,.1f} MB; the limit is "
                                         f"{settings.IMPORT_MAX_BYTES / 1e6:,.0f} MB."]})
    header = outcome_file_header(path)
    with transaction.atomic():
        job = OutcomeImport.objects.create(
            campaign=campaign, source=source, file_name=file_name[:255], file_path=str(path), size_bytes=size,
            header=header, created_by=_user(by), stage="Waiting for a worker" if enqueue else "Starting",
        )
        if enqueue:
            job_enqueue(job)
    logger.info("campaigns.outcome_import_created import_id=%s campaign_id=%s file=%s", job.pk, campaign.pk, file_name)
    return job


def outcome_import_json(*, campaign: Campaign, rows: list, by=None) -> OutcomeImport:
    """Import a JSON list of outcomes within the request (at most JSON_MAX_ROWS); returns
    the finished import with its report."""
    _check_launched(campaign)
    if not rows:
        raise ValidationError({"__all__": ["The list is empty: send at least one outcome."]})
    if len(rows) > JSON_MAX_ROWS:
        raise ValidationError({"__all__": [
            f"The list has {len(rows):,} outcomes; a JSON list takes at most {JSON_MAX_ROWS:,}. Upload them as a "
            f"CSV file (multipart field “file”): it is imported in the background and reports its progress."]})
    job = OutcomeImport.objects.create(campaign=campaign, source=OutcomeImport.Source.API, header=JSON_FIELDS,
                                       created_by=_user(by), stage="Starting")
    return outcome_import_run(import_id=job.pk, rows=rows)


def outcome_import_run(*, import_id: int, rows: list | None = None,
                       on_progress: Callable[[int, str], None] | None = None) -> OutcomeImport:
    """Run an import in this process (the command line, a JSON list), as the worker would;
    an error that escapes the job (a database outage, which the worker would retry) fails
    the import before it propagates."""
    try:
        outcome_import_execute(import_id=import_id, rows=rows, on_progress=on_progress)
    except Exception as error:
        outcome_import_mark_failed(import_id=import_id, error=f"The import stopped with an internal error "
                                   f"({type(error).__name__}). The log has the details.")
        raise
    return OutcomeImport.objects.get(pk=import_id)


# ----------------------------------------------------------------------------- status

def outcome_import_mark_failed(*, import_id: int, error: str) -> None:
    job_fail(OutcomeImport, error, pk=import_id)  # then outcome_import_stopped, its JOB_CLEANUP


def outcome_import_stopped(import_id: int) -> None:
    """After a failure: its staged rows and stored upload go."""
    _drop_staged(import_id)
    _discard_upload(import_id)


def outcome_import_cancel(*, outcome_import: OutcomeImport) -> bool:
    """Stop a pending or running import; False when it had already finished. The job
    notices at its next chunk, or before committing its merge, and leaves the outcomes
    as they were."""
    cancelled = job_cancel(outcome_import)
    if cancelled:
        logger.info("campaigns.outcome_import_cancelled import_id=%s", outcome_import.pk)
    return cancelled


def _drop_staged(import_id: int) -> None:
    OutcomeStagedRow.objects.filter(outcome_import_id=import_id).delete()


def _discard_upload(import_id: int) -> None:
    """Remove a finished import's stored upload (never a command line user's own file)."""
    row = OutcomeImport.objects.filter(pk=import_id).values("file_path", "status").first()
    if row is None or row["status"] not in FINISHED_STATUSES or not row["file_path"]:
        return
    path = Path(row["file_path"])
    if path.parent == outcome_dir():
        path.unlink(missing_ok=True)


# ----------------------------------------------------------------------------- the job

def outcome_import_execute(*, import_id: int, rows: list | None = None,
                           on_progress: Callable[[int, str], None] | None = None) -> None:
    """The job body: check every row chunk by chunk, then merge. Safe to call twice: a
    finished import is left alone. `rows` (a JSON list) replace the stored file;
    `on_progress(percent, stage)` hears each progress report."""
    try:
        staged_import_execute(model=OutcomeImport, job_id=import_id, handler=lambda job: OutcomesImport(job, rows),
                              on_progress=on_progress)
    finally:
        _discard_upload(import_id)


class OutcomesImport(StagedImport):
    rejected_model = OutcomeRejectedRow
    job_field = "outcome_import_id"
    time_limit_message = "The import took longer than its time limit. Nothing from it was kept."

    def __init__(self, job: OutcomeImport, rows: list | None = None):
        super().__init__(job)
        self.rows = rows  # a JSON list, read instead of a file

    @property
    def chunk_rows(self) -> int:
        return CHUNK_ROWS

    def chunks(self) -> Iterator[Chunk]:
        return json_chunks(self.rows, CHUNK_ROWS) if self.rows is not None else super().chunks()

    @cached_property
    def positions(self) -> dict[str, int]:
        # asked for once the first chunk has come, when the file is open
        return column_positions(self.source.info.header if self.source else JSON_FIELDS)

    def read_failure(self, error: Exception) -> str:
        again = "Nothing from it was kept; check the file and upload it again."
        if isinstance(error, UnicodeDecodeError):
            encoding, offset = "UTF-8", 0
            if self.source is not None:
                encoding = self.source.info.encoding
                offset = undecodable_offset(Path(self.job.file_path), encoding,
                                            compressed=self.source.format == "csv.gz")
            return f"The file stops being text ({encoding}) about {offset:,} bytes in: it may be damaged. {again}"
        if isinstance(error, csv.Error):
            return f"The file could not be read as CSV ({error}). {again}"
        reason = getattr(error, "strerror", None) or type(error).__name__
        return f"The file could not be read to its end ({reason}). Nothing from it was kept; upload it again."

    def check(self, chunk: Chunk) -> Checked:
        """The chunk's accepted rows (to stage) and rejected rows, each with its line."""
        delimiter = self.source.info.delimiter if self.source else None
        rejected = [(problem.line, problem.reason, problem_cells(problem, delimiter)) for problem in chunk.problems]
        read, parsed = len(chunk.problems), []
        for line, values in zip(chunk.lines, chunk.frame.itertuples(index=False, name=None)):
            row = cells(values)
            if self.rows is None and is_blank(row):
                continue  # a blank line of a file is not a record (an empty object of a list is one)
            read += 1
            fields, reason = parse_row({name: row[i] for name, i in self.positions.items()})
            if reason:
                rejected.append((line, reason, raw_cells(row)))
            else:
                parsed.append((line, row, fields))
        ids = dict(Customer.objects.filter(external_id__in={fields["customer"] for _, _, fields in parsed})
                   .values_list("external_id", "id"))
        members = dict(CampaignMember.objects.filter(campaign_id=self.job.campaign_id,
                                                     customer_id__in=set(ids.values()))
                       .values_list("customer_id", "id"))
        staged = []
        for line, row, fields in parsed:
            customer_id = ids.get(fields["customer"])
            if customer_id is None:
                rejected.append((line, f"unknown customer “{fields['customer']}”", raw_cells(row)))
            elif customer_id not in members:
                rejected.append((line, f"not in the campaign audience: customer “{fields['customer']}” was not "
                                       f"targeted", raw_cells(row)))
            else:
                staged.append((line, members[customer_id], fields["event"], fields["revenue"], fields["occurred_at"]))
        return Checked(accepted=pd.DataFrame(staged, columns=STAGED_COLUMNS, dtype=object),
                       rejected=rejected_frame(rejected), read=read)

    def stage(self, rows: pd.DataFrame) -> None:
        OutcomeStagedRow.objects.bulk_create(
            [OutcomeStagedRow(outcome_import_id=self.job.pk, **record) for record in rows.to_dict("records")],
            batch_size=1000)

    def reason_keys(self, reasons: pd.Series) -> pd.Series:
        return reasons.map(reason_key)

    def progress(self, totals: Totals, fraction_read: float) -> tuple[int, str, dict]:
        if self.rows is not None:
            fraction_read = totals.read / len(self.rows) if self.rows else 1.0
            stage = f"Checking rows {totals.read:,} of {len(self.rows):,}"
        elif fraction_read > 0:
            stage = f"Checking rows {totals.read:,} of ~{_estimate(totals.read, fraction_read):,}"
        else:  # a workbook: how many rows it holds is known at its end
            stage = f"Checking rows {totals.read:,}"
        return 2 + int(88 * min(fraction_read, 1.0)), stage, {"rows": totals.read, "rejected": totals.rejected}

    def merging(self, totals: Totals) -> tuple[int, str]:
        return 92, f"Adding the {totals.staged:,} accepted rows"

    def merge(self, totals: Totals) -> dict:
        added = _merge(self.job)
        duplicates = totals.staged - added
        assert added + duplicates + totals.rejected == totals.read, (added, totals)
        return {"rows": totals.read, "added": added, "duplicates": duplicates, "rejected": totals.rejected,
                "reasons": dict(totals.reasons.most_common())}

    def drop_staged(self) -> None:
        _drop_staged(self.job.pk)

    def succeeded(self, fields: dict) -> None:
        logger.info("campaigns.outcomes_imported import_id=%s campaign_id=%s rows=%s added=%s duplicates=%s "
                    "rejected=%s", self.job.pk, self.job.campaign_id, fields["rows"], fields["added"],
                    fields["duplicates"], fields["rejected"])


def _estimate(rows: int, fraction: float) -> int:
    """The file's row count, extrapolated from the share of bytes read, to two significant digits."""
    if fraction >= 1 or fraction <= 0:
        return rows
    return max(rows, int(float(f"{rows / fraction:.2g}")))


def _merge(job: OutcomeImport) -> int:
    """Move the job's staged rows into the campaign's outcomes, in the caller's transaction;
    returns how many were added. A row repeating an earlier line of the file (same member,
    event and moment) or an outcome already recorded is not added: the rest are the
    duplicates. One INSERT ... SELECT: nothing passes through Python."""
    # Imports into one campaign merge one at a time: two at once could both find an event
    # not yet recorded, and the second would then fail on the unique constraint.
    Campaign.objects.select_for_update().filter(pk=job.campaign_id).values_list("pk", flat=True).first()
    table = connection.ops.quote_name
    outcomes, staged = table(CampaignOutcome._meta.db_table), table(OutcomeStagedRow._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"SET LOCAL work_mem = '{MERGE_WORK_MEM}'")
        cursor.execute(
            f"INSERT INTO {outcomes} (campaign_id, member_id, event, revenue, occurred_at, batch_id) "
            f"SELECT %s, s.member_id, s.event, s.revenue, s.occurred_at, %s FROM ("
            f"  SELECT member_id, event, revenue, occurred_at, "
            f"         ROW_NUMBER() OVER (PARTITION BY member_id, event, occurred_at ORDER BY line) AS nth "
            f"  FROM {staged} WHERE outcome_import_id = %s) s "
            f"WHERE s.nth = 1 AND NOT EXISTS (SELECT 1 FROM {outcomes} o WHERE o.member_id = s.member_id "
            f"AND o.event = s.event AND o.occurred_at = s.occurred_at)",
            [job.campaign_id, job.pk, job.pk],
        )
        added = cursor.rowcount
        cursor.execute(f"DELETE FROM {staged} WHERE outcome_import_id = %s", [job.pk])
    return added
