"""Outcome imports: responses and conversions of a launched campaign's audience, from a
CSV file (the campaign page, the API, the command line) or a small JSON list (the API).

A file import is a job (custseg_site.job_rows moves its status). outcome_import_create
checks the file's header, keeps the file and enqueues campaigns.import_outcomes on commit;
the task calls outcome_import_execute, which streams the file in chunks of CHUNK_ROWS
rows. Each chunk is parsed and checked (one customer lookup, one member lookup); its
refused rows go to OutcomeRejectedRow (line, reason, cells), its accepted rows to
OutcomeStagedRow, and the progress to the job's row. Then one transaction merges the
staged rows into CampaignOutcome and marks the job succeeded.

Why stage, then merge (rather than one transaction around the whole file, with progress
on a second connection): SQLite has one writer at a time, so a transaction held for the
whole file would lock out the progress writes, a cancel and every other writer until it
ended; on PostgreSQL it would work, but hold the campaign's lock and a long-open
transaction for the whole read. Staging is correct on both: each chunk commits on its own
in a short write, progress and cancel are ordinary updates, and CampaignOutcome is written
only in the final merge, in the same transaction as the job's success. So either all of a
file's accepted rows land with its report, or (failed, cancelled, interrupted) none do.

Every row read ends up added, a duplicate (the same member, event and moment is already
recorded or came earlier in the file: a re-import adds nothing) or rejected with its line
and reason: rows = added + duplicates + rejected.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from decimal import Decimal, InvalidOperation
from itertools import islice
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import dateparse, timezone

from campaigns.models import (
    Campaign,
    CampaignMember,
    CampaignOutcome,
    OutcomeImport,
    OutcomeRejectedRow,
    OutcomeStagedRow,
)
from customers.importing.sources import detect_delimiter, detect_encoding
from customers.models import Customer
from custseg_site.job_rows import GAVE_UP, job_cancel, job_claim, job_mark_failed, job_progress
from custseg_site.job_status import FINISHED_STATUSES, JobStatus
from custseg_site.jobs import enqueue_or_fail

logger = logging.getLogger(__name__)


class OutcomeFileError(ValidationError):
    """The file as a whole cannot be read (not text, no header, a required column missing)."""


class OutcomeImportCancelled(Exception):
    pass


# Header names accepted for each field (lower case, spaces and dashes as underscores).
COLUMN_NAMES = {
    "customer": ("customer", "customer_id", "external_id", "customer_external_id", "customerid"),
    "event": ("event", "event_type", "type"),
    "revenue": ("revenue", "amount", "value"),
    "timestamp": ("timestamp", "occurred_at", "time", "datetime", "date"),
}
REQUIRED_COLUMNS = ("customer", "event", "timestamp")
# The columns of a JSON list's rejected-rows download.
JSON_FIELDS = ["customer", "event", "revenue", "timestamp"]
# Rows checked and written together: one customer lookup, one member lookup and one insert
# per chunk keeps a big file's memory flat and its queries few.
CHUNK_ROWS = 5_000
# First bytes read to guess the encoding and the delimiter.
SNIFF_BYTES = 64 * 1024
# A rejected row keeps at most this many cells of this many characters: enough to see and
# fix any real row, and a bound on what one malformed line (no line breaks, a stray quote
# swallowing the file) can store.
RAW_CELLS = 100
RAW_CELL_CHARS = 1_000
# A JSON list is imported within its request up to this many rows (a second or two of
# work); a longer one should come as a CSV file, which runs in the background with progress.
JSON_MAX_ROWS = 10_000
# Rejected rows shown on the import's page and in its API body; the download has them all.
REJECTIONS_SHOWN = 20
# work_mem of the merge: its window sort over a file's accepted rows (~50 bytes each)
# stays in memory up to about a million rows (this transaction only).
MERGE_WORK_MEM = "64MB"
EVENTS = tuple(CampaignOutcome.Event.values)


def _user(by):
    return by if by is not None and getattr(by, "is_authenticated", False) else None


def _check_launched(campaign: Campaign) -> None:
    # read afresh: the caller's instance may predate the launch
    if not Campaign.objects.filter(pk=campaign.pk, launched_at__isnull=False).exists():
        raise ValidationError({"__all__": ["Launch the campaign first: outcomes belong to its frozen audience."]})


# ----------------------------------------------------------------------------- reading

@dataclass
class OutcomeRecord:
    """One row: its line (or position in a JSON list), its fields, or why it cannot be read
    at all, and its cells as read (for the rejected-rows download)."""

    line: int
    fields: dict | None
    raw: list[str] = field(default_factory=list)
    error: str | None = None


def _text(value) -> str:
    # A NUL character cannot be stored in PostgreSQL text or jsonb (nor looked up): it
    # shows as the replacement character, and the row is judged (rejected) as it reads then.
    text = str(value)
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def _raw(cells) -> list[str]:
    return [_text(cell)[:RAW_CELL_CHARS] for cell in list(cells)[:RAW_CELLS]]


def _header_key(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


class OutcomeFile:
    """A CSV file of outcomes read as a stream (UTF-8 with or without BOM, or Windows-1252;
    comma, semicolon or tab): the header is checked on opening, a missing required column
    raising OutcomeFileError before any row is read; records() then yields the rows."""

    def __init__(self, path):
        self.path = Path(path)
        self.size = self.path.stat().st_size
        self._binary = open(self.path, "rb")
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    def _open(self) -> None:
        head = self._binary.read(SNIFF_BYTES)
        if not head.strip():
            raise OutcomeFileError({"file": ["The file is empty."]})
        self.encoding = detect_encoding(head)
        delimiter = detect_delimiter(head.decode(self.encoding, errors="ignore"))
        self._binary.seek(0)
        self._text = io.TextIOWrapper(self._binary, encoding=self.encoding, errors="strict", newline="")
        self._reader = csv.reader(self._text, delimiter=delimiter)
        try:
            self.header = [_text(name).strip()[:RAW_CELL_CHARS] for name in next(self._reader)]
        except UnicodeDecodeError as error:
            raise OutcomeFileError({"file": ["The file is not text (UTF-8 or Windows-1252)."]}) from error
        except csv.Error as error:
            raise OutcomeFileError({"file": [f"The file's header cannot be read as CSV ({error})."]}) from error
        except StopIteration:
            raise OutcomeFileError({"file": ["The file is empty."]}) from None
        keys = [_header_key(name) for name in self.header]
        self.positions = {}
        for name, accepted in COLUMN_NAMES.items():
            found = [i for i, key in enumerate(keys) if key in accepted]
            if found:
                self.positions[name] = found[0]
        missing = [name for name in REQUIRED_COLUMNS if name not in self.positions]
        if missing:
            raise OutcomeFileError({"file": [
                f"The file has no {', '.join(missing)} column. Expected a header with customer, event, timestamp "
                f"and (for conversions) revenue; found: {', '.join(self.header) or 'nothing'}."]})

    def bytes_read(self) -> int:
        """How far into the file reading has got (the text layer reads ahead in blocks)."""
        return self._binary.tell()

    def records(self) -> Iterator[OutcomeRecord]:
        width = len(self.header)
        for row in self._reader:
            if not any(cell.strip() for cell in row):
                continue  # a blank line is not a record
            line = self._reader.line_num
            if any("\x00" in cell for cell in row):
                row = [_text(cell) for cell in row]
            if len(row) != width:
                yield OutcomeRecord(line, None, _raw(row), f"expected {width} fields, found {len(row)}")
                continue
            yield OutcomeRecord(line, {name: row[i] for name, i in self.positions.items()}, _raw(row))

    def close(self) -> None:
        self._binary.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def json_records(rows: list) -> Iterator[OutcomeRecord]:
    """The records of a JSON list of {customer, event, revenue, timestamp} objects, numbered from 1."""
    for line, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            yield OutcomeRecord(line, None, _raw([json.dumps(row)]),
                                "not an object with customer, event, revenue and timestamp")
            continue
        fields = {name: row.get(name) for name in JSON_FIELDS}
        if fields["timestamp"] is None:
            fields["timestamp"] = row.get("occurred_at")
        fields = {name: None if value is None else _text(value) for name, value in fields.items()}
        yield OutcomeRecord(line, fields, _raw("" if fields[name] is None else fields[name] for name in JSON_FIELDS))


# ----------------------------------------------------------------------------- checking

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


def _parse_row(record: OutcomeRecord) -> tuple[dict | None, str | None]:
    if record.error:
        return None, record.error
    fields = record.fields
    customer = str(fields.get("customer") if fields.get("customer") is not None else "").strip()
    if not customer:
        return None, "no customer id"
    expected_events = f"(expected one of {', '.join(EVENTS)})"
    event = str(fields.get("event") or "").strip().lower()
    if not event:
        return None, f"no event type {expected_events}"
    if event not in EVENTS:
        return None, f"unknown event type “{fields.get('event')}” {expected_events}"
    raw_revenue = fields.get("revenue")
    revenue = None
    if raw_revenue is not None and str(raw_revenue).strip() != "":
        try:
            revenue = Decimal(str(raw_revenue).strip())
        except InvalidOperation:
            revenue = None
        if revenue is None or not revenue.is_finite() or revenue < 0 or revenue.as_tuple().exponent < -2 \
                or abs(revenue) >= 10 ** 12:
            return None, f"bad revenue “{raw_revenue}” (write a non-negative amount with at most two decimals, e.g. 19.90)"
        if event != CampaignOutcome.Event.CONVERTED:
            article = "an" if event[0] in "aeiou" else "a"  # the events are plain English words: "an opened"
            return None, f"bad revenue: {article} “{event}” event carries no revenue (only conversions do)"
    timestamp_format = "(write ISO 8601, e.g. 2026-03-01T14:30:00Z or 2026-03-01)"
    raw_time = str(fields.get("timestamp") if fields.get("timestamp") is not None else "").strip()
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


def _check_chunk(job: OutcomeImport, chunk: list[OutcomeRecord]) -> tuple[list, list]:
    """The chunk's accepted rows (to stage) and rejected rows, each with its line."""
    rejected, parsed = [], []

    def reject(record, reason):
        rejected.append(OutcomeRejectedRow(outcome_import_id=job.pk, line=record.line, reason=reason[:300],
                                           raw=record.raw))

    for record in chunk:
        row, reason = _parse_row(record)
        if reason:
            reject(record, reason)
        else:
            parsed.append((record, row))
    ids = dict(Customer.objects.filter(external_id__in={row["customer"] for _, row in parsed})
               .values_list("external_id", "id"))
    members = dict(CampaignMember.objects.filter(campaign_id=job.campaign_id, customer_id__in=set(ids.values()))
                   .values_list("customer_id", "id"))
    staged = []
    for record, row in parsed:
        customer_id = ids.get(row["customer"])
        if customer_id is None:
            reject(record, f"unknown customer “{row['customer']}”")
        elif customer_id not in members:
            reject(record, f"not in the campaign audience: customer “{row['customer']}” was not targeted")
        else:
            staged.append(OutcomeStagedRow(outcome_import_id=job.pk, line=record.line, member_id=members[customer_id],
                                           event=row["event"], revenue=row["revenue"], occurred_at=row["occurred_at"]))
    return staged, rejected


# ----------------------------------------------------------------------------- creating

def outcome_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / "outcome-imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def outcome_store_upload(uploaded) -> Path:
    """Write an uploaded file (Django UploadedFile) to the outcome imports folder, chunk by chunk."""
    path = outcome_dir() / f"upload-{uuid.uuid4().hex}"
    with open(path, "wb") as handle:
        for piece in uploaded.chunks():
            handle.write(piece)
    return path


def outcome_import_create(*, campaign: Campaign, path: Path, file_name: str, source: str, by=None,
                          enqueue: bool = True) -> OutcomeImport:
    """Check a CSV file of outcomes (text, a header with the customer, event and timestamp
    columns, at least one row), store a pending import of it and, with `enqueue`, queue its
    job once the transaction commits. Refused files raise ValidationError and store nothing.

    The import reads `path` when it runs: a stored upload (outcome_store_upload), which is
    removed once the import finishes, or the command line's own file, which is left alone.
    """
    _check_launched(campaign)
    size = Path(path).stat().st_size
    if size > settings.IMPORT_MAX_BYTES:
        raise OutcomeFileError({"file": [f"The file is {size / 1e6:,.1f} MB; the limit is "
                                         f"{settings.IMPORT_MAX_BYTES / 1e6:,.0f} MB."]})
    with OutcomeFile(path) as file:
        try:
            has_rows = next(file.records(), None) is not None
        except (UnicodeDecodeError, csv.Error) as error:
            raise OutcomeFileError({"file": [f"The file cannot be read as CSV text ({error})."]}) from error
        header = file.header
    if not has_rows:
        raise OutcomeFileError({"file": ["The file has a header and no rows: there is nothing to import."]})
    with transaction.atomic():
        job = OutcomeImport.objects.create(
            campaign=campaign, source=source, file_name=file_name[:255], file_path=str(path), size_bytes=size,
            header=header, created_by=_user(by), stage="Waiting for a worker" if enqueue else "Starting",
        )
        if enqueue:
            transaction.on_commit(lambda: _enqueue(job.pk))
    logger.info("campaigns.outcome_import_created import_id=%s campaign_id=%s file=%s", job.pk, campaign.pk, file_name)
    return job


def _enqueue(import_id: int) -> None:
    from campaigns.tasks import import_outcomes

    enqueue_or_fail(import_outcomes, import_id, event="campaigns.outcome_import_enqueue_failed",
                    mark_failed=lambda pk, error: outcome_import_mark_failed(import_id=pk, error=error),
                    error="The job queue (Redis) could not be reached, so the import did not start. Check that "
                          "Redis and a worker are running, then upload again.")


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
    return outcome_import_run(import_id=job.pk, records=json_records(rows), total_rows=len(rows))


def outcome_import_run(*, import_id: int, records: Iterable[OutcomeRecord] | None = None,
                       total_rows: int | None = None,
                       on_progress: Callable[[int, str], None] | None = None) -> OutcomeImport:
    """Run an import in this process (the command line, a JSON list), as the worker would;
    an unexpected error fails the import before it propagates."""
    try:
        outcome_import_execute(import_id=import_id, records=records, total_rows=total_rows, on_progress=on_progress)
    except Exception as error:
        outcome_import_mark_failed(import_id=import_id, error=f"The import stopped with an internal error "
                                   f"({type(error).__name__}). The log has the details.")
        raise
    return OutcomeImport.objects.get(pk=import_id)


# ----------------------------------------------------------------------------- status

def outcome_import_mark_failed(*, import_id: int, error: str) -> None:
    job_mark_failed(OutcomeImport, import_id, error=error)
    _drop_staged(import_id)
    _discard_upload(import_id)


def outcome_import_cancel(*, outcome_import: OutcomeImport) -> bool:
    """Stop a pending or running import; False when it had already finished. The job
    notices at its next chunk, or before committing its merge, and leaves the outcomes
    as they were."""
    cancelled = job_cancel(OutcomeImport, outcome_import.pk)
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


def _claim(import_id: int) -> OutcomeImport | None:
    job = job_claim(OutcomeImport, import_id, gave_up=GAVE_UP.format(what="this import"))
    if job is None:
        return None
    # A redelivered job starts over: what an interrupted attempt left is not counted.
    _drop_staged(import_id)
    OutcomeRejectedRow.objects.filter(outcome_import_id=import_id).delete()
    return job


def _estimate(rows: int, fraction: float) -> int:
    """The file's row count, extrapolated from the share of bytes read, to two significant digits."""
    if fraction >= 1 or fraction <= 0:
        return rows
    return max(rows, int(float(f"{rows / fraction:.2g}")))


# ----------------------------------------------------------------------------- the job

def outcome_import_execute(*, import_id: int, records: Iterable[OutcomeRecord] | None = None,
                           total_rows: int | None = None,
                           on_progress: Callable[[int, str], None] | None = None) -> None:
    """The job body: check every row chunk by chunk, then merge. Safe to call twice: a
    finished import is left alone. `records` (with `total_rows`) replace the stored file
    (a JSON list); `on_progress(percent, stage)` hears each progress report."""
    from celery.exceptions import SoftTimeLimitExceeded

    job = _claim(import_id)
    if job is None:
        _discard_upload(import_id)
        return
    file = None

    def progress(percent: int, stage: str, **counts) -> None:
        if not job_progress(OutcomeImport, import_id, percent, stage, **counts):
            raise OutcomeImportCancelled
        if on_progress is not None:
            on_progress(percent, stage)

    try:
        if records is None:
            file = OutcomeFile(job.file_path)
            records = file.records()
        records = iter(records)
        totals, reasons = Counter(), Counter()
        while chunk := list(islice(records, CHUNK_ROWS)):
            staged, rejected = _check_chunk(job, chunk)
            OutcomeStagedRow.objects.bulk_create(staged, batch_size=1000)
            OutcomeRejectedRow.objects.bulk_create(rejected, batch_size=1000)
            totals["rows"] += len(chunk)
            totals["staged"] += len(staged)
            totals["rejected"] += len(rejected)
            reasons.update(reason_key(row.reason) for row in rejected)
            if file is not None:
                fraction = file.bytes_read() / file.size if file.size else 1.0
                of = f"~{_estimate(totals['rows'], fraction):,}"
            else:
                fraction = totals["rows"] / total_rows if total_rows else 1.0
                of = f"{total_rows or totals['rows']:,}"
            progress(2 + int(88 * min(fraction, 1.0)), f"Checking rows {totals['rows']:,} of {of}",
                     rows=totals["rows"], rejected=totals["rejected"])
        progress(92, f"Adding the {totals['staged']:,} accepted rows")
        with transaction.atomic():
            added = _merge(job)
            duplicates = totals["staged"] - added
            assert added + duplicates + totals["rejected"] == totals["rows"], (added, totals)
            # the outcomes and the job's success commit together: a cancel that landed
            # since the last progress report rolls the merge back
            status = (OutcomeImport.objects.select_for_update().filter(pk=import_id)
                      .values_list("status", flat=True).first())
            if status != JobStatus.RUNNING:
                raise OutcomeImportCancelled
            OutcomeImport.objects.filter(pk=import_id).update(
                status=JobStatus.SUCCEEDED, progress=100, stage="Done", finished_at=timezone.now(),
                rows=totals["rows"], added=added, duplicates=duplicates, rejected=totals["rejected"],
                reasons=dict(reasons.most_common()),
            )
        logger.info("campaigns.outcomes_imported import_id=%s campaign_id=%s rows=%s added=%s duplicates=%s "
                    "rejected=%s", import_id, job.campaign_id, totals["rows"], added, duplicates, totals["rejected"])
        if on_progress is not None:
            on_progress(100, "Done")
    except OutcomeImportCancelled:
        # raised only once the row said so; repeated in case that write shared our rollback
        job_cancel(OutcomeImport, import_id)
        _drop_staged(import_id)
        logger.info("campaigns.outcome_import_stopped_after_cancel import_id=%s", import_id)
    except OutcomeFileError as error:
        outcome_import_mark_failed(import_id=import_id, error=" ".join(error.messages))
    except UnicodeDecodeError:
        outcome_import_mark_failed(import_id=import_id, error=(
            f"The file stops being text ({file.encoding if file else 'UTF-8'}) about "
            f"{file.bytes_read() if file else 0:,} bytes in: it may be damaged. Nothing from it was kept; "
            "check the file and upload it again."))
    except csv.Error as error:
        outcome_import_mark_failed(import_id=import_id, error=(
            f"The file could not be read as CSV ({error}). Nothing from it was kept; check the file and upload it "
            "again."))
    except OSError as error:  # gone, or unreadable part way
        outcome_import_mark_failed(import_id=import_id, error=(
            f"The file could not be read to its end ({error.strerror or type(error).__name__}). Nothing from "
            f"it was kept; upload it again."))
    except SoftTimeLimitExceeded:
        outcome_import_mark_failed(import_id=import_id, error="The import took longer than its time limit. "
                                   "Nothing from it was kept.")
    finally:
        if file is not None:
            file.close()
    _discard_upload(import_id)


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
