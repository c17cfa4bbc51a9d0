"""Imports of customers and transactions files: inspect, create (validate and enqueue),
cancel, execute.

The job is a staged import (custseg_site.staged_import): the file is read in chunks
(customers.importing.sources), each chunk validated (customers.importing.validate) and
staged, then merged in the transaction that marks the job succeeded:
- customers: upsert by external id, counting created, updated and unchanged rows
  (customers.services.import_handlers);
- transactions, on PostgreSQL: each chunk straight into customers_transaction, inside the
  transaction that marks the job succeeded (customers.services.import_transactions; the
  handler's session() opens it around the chunk loop and routes progress through a
  connection of its own): its repeats of earlier lines rejected, lines already imported
  recognised, the customers it introduces created;
- transactions elsewhere (SQLite): COPY into a staging table, then one set-based merge in
  SQL that does the same (below).
Every row read ends up accepted (created, updated, unchanged) or rejected with its line
and reason: accepted + rejected = rows read.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, replace
from pathlib import Path

import pandas as pd
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from customers.importing.dates import DateOrderError, date_order, resolve_dayfirst, shown_dayfirst
from customers.importing.mapping import (
    CUSTOMERS,
    KINDS,
    QUANTITY_DEFAULT_NOTE,
    TRANSACTIONS,
    Mapping,
    MappingError,
    apply_overrides,
    detect_mapping,
)
from customers.importing.sources import Source, SourceError
from customers.importing.validate import (
    ANONYMOUS_KEEP,
    ANONYMOUS_REJECT,
    NUMBER_FIELDS,
    ImportOptions,
    looks_like_decimal_comma,
)
from customers.models import (
    Customer,
    ImportJob,
    ImportPreset,
    ImportRejectedRow,
    ImportStagedTransaction,
    Transaction,
)
from customers.services.attributes import attribute_types_known
from customers.services.import_handlers import CustomersImport, FileImport
from customers.services.import_handlers import staged_ranges as _staged_ranges  # the name _merge_transactions calls
from customers.services.import_transactions import TransactionsWrite, transactions_write
from customers.services.presets import preset_options, preset_overrides
from custseg_site.bulk import insert_frame
from custseg_site.jobs.lifecycle import job_cancel, job_enqueue, job_progress
from custseg_site.staged_import import MERGE_WORK_MEM, staged_import_execute, store_upload

logger = logging.getLogger(__name__)

# Rows sampled from the top of the file to infer custom attribute types.
PREVIEW_ROWS = 500


def import_store_upload(uploaded) -> Path:
    """Write an uploaded file (Django UploadedFile) to the imports folder, chunk by chunk."""
    return store_upload(uploaded, import_dir())


def import_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def import_inspect(
    *, path: Path, kind: str, overrides: dict[str, str] | None = None, preset: ImportPreset | None = None,
    require_complete: bool = True,
) -> tuple[Source, Mapping]:
    """Open the file and work out its mapping; raises ValidationError for the user.

    Detected columns, then the preset's mapping (for the columns this file has), then the
    caller's overrides: the later wins. With require_complete=False a mapping that lacks a
    required field is returned (the upload page lets the user pick the column).
    """
    if kind not in KINDS:
        raise ValidationError({"kind": [f"Choose one of {', '.join(KINDS)}."]})
    if preset is not None and preset.kind != kind:
        raise ValidationError({"preset": [f"The preset {preset.name!r} is for {preset.kind}, not {kind}."]})
    size = path.stat().st_size
    if size > settings.IMPORT_MAX_BYTES:
        raise ValidationError(
            {"file": [f"The file is {size / 1e6:,.1f} MB; the limit is {settings.IMPORT_MAX_BYTES / 1e6:,.0f} MB."]}
        )
    try:
        source = Source(path)
        sample = source.preview(PREVIEW_ROWS)
        mapping = detect_mapping(source.info.header, kind, sample)
        if preset is not None:
            overrides = preset_overrides(preset, source.info.header, overrides)
        if overrides:
            mapping = apply_overrides(mapping, overrides)
        numeric = [c for c, f in mapping.fields.items() if f in NUMBER_FIELDS]
        numeric += [c for c, t in mapping.attributes.items() if t == "number"]
        mapping.decimal_comma_hint = bool(numeric) and looks_like_decimal_comma(
            pd.concat([sample[c] for c in numeric if c in sample], ignore_index=True) if numeric else pd.Series([])
        )
        mapping.date_orders = {column: date_order(sample[column]) for column in mapping.date_columns()
                               if column in sample}
        shown_dayfirst(mapping.date_orders)  # dates in both orders: no option reads them
        has_records = source.has_records()
    except (SourceError, MappingError, DateOrderError) as error:
        raise ValidationError({"file": [str(error)]}) from error
    if not has_records:
        raise ValidationError({"file": ["The file has a header and no rows: there is nothing to import."]})
    if kind == CUSTOMERS:
        # an attribute keeps the type its first import gave it
        mapping.attributes.update(attribute_types_known(mapping.attributes))
    missing = mapping.missing_required()
    if missing and require_complete:
        raise ValidationError({"mapping": [mapping.missing_message(source.info.header)]})
    return source, mapping


def import_create(
    *,
    kind: str,
    upload_path: Path,
    original_name: str,
    overrides: dict[str, str] | None = None,
    options: ImportOptions | None = None,
    preset: ImportPreset | None = None,
    created_by=None,
) -> ImportJob:
    """Check the file and its mapping, keep a copy, store a pending job and enqueue it.

    `overrides` (column -> field) win over the columns detected; a preset's mapping is
    applied under them, to the columns this file has. Nothing is stored when the file
    or mapping is refused.
    """
    options = options or preset_options(preset)
    if options.anonymous not in (ANONYMOUS_KEEP, ANONYMOUS_REJECT):
        raise ValidationError({"anonymous": ["Choose keep or reject."]})
    source, mapping = import_inspect(path=upload_path, kind=kind, overrides=overrides, preset=preset)
    try:
        # the order the dates show wins; without one, the caller's (refused when it matters and is unset)
        options = replace(options, dayfirst=resolve_dayfirst(mapping.date_orders, options.dayfirst))
    except DateOrderError as error:
        raise ValidationError({"dayfirst": [str(error)]}) from error
    stored = import_dir() / f"{uuid.uuid4().hex}-{Path(original_name).name[-100:]}"
    shutil.copyfile(upload_path, stored)
    with transaction.atomic():
        job = ImportJob.objects.create(
            kind=kind,
            file_path=str(stored),
            original_name=original_name[:255],
            size_bytes=stored.stat().st_size,
            mapping={"fields": mapping.fields, "attributes": mapping.attributes, "unit_hints": mapping.unit_hints,
                     "decimal_comma_hint": mapping.decimal_comma_hint},
            options=asdict(options),
            preset=preset,
            created_by=created_by if created_by is not None and created_by.is_authenticated else None,
            stage="Waiting for a worker",
            report={"format": source.info.format, "encoding": source.info.encoding,
                    "delimiter": source.info.delimiter, "renamed_headers": source.info.renamed_headers,
                    "notes": import_notes(mapping)},
        )
        job_enqueue(job)
    logger.info("customers.import_created job_id=%s kind=%s file=%s", job.pk, kind, original_name)
    return job


def import_notes(mapping: Mapping) -> list[str]:
    """What the import assumed about the file, in words (the mapping step, the report, the CLI)."""
    notes = [QUANTITY_DEFAULT_NOTE] if mapping.quantity_defaults_to_one else []
    dayfirst = shown_dayfirst(mapping.date_orders)
    if dayfirst is not None:
        column, order = next((c, o) for c, o in mapping.date_orders.items() if (o.day_first if dayfirst else o.month_first))
        notes.append(f"The dates in “{column}” are read {'day' if dayfirst else 'month'} first, as the file writes "
                     f"them (“{order.day_first if dayfirst else order.month_first}” can only be read so).")
    return notes


def import_cancel(*, job: ImportJob) -> bool:
    """Stop a pending or running import; False when it had already finished.

    The worker notices at its next progress report (or before committing the merge) and
    leaves the database as it was.
    """
    cancelled = job_cancel(job)
    if cancelled:
        logger.info("customers.import_cancelled job_id=%s", job.pk)
    return cancelled


def import_execute(*, job_id: int) -> None:
    """The job body. Safe to call twice: a finished job is left alone."""
    staged_import_execute(model=ImportJob, job_id=job_id, handler=lambda job: HANDLERS[job.kind](job))


class TransactionsImport(FileImport):
    target = "transactions"

    def session(self):
        return _writing(self.job)

    def report(self, function, *args, **kwargs):
        write = _write.get()
        return write.outside(function, *args, **kwargs) if write is not None else function(*args, **kwargs)

    def stage(self, rows: pd.DataFrame) -> None:
        _stage_transactions(self.job.pk, rows)

    def merge_staged(self) -> dict:
        return _merge_transactions(self.job.pk)


HANDLERS = {CUSTOMERS: CustomersImport, TRANSACTIONS: TransactionsImport}


# The transactions import writing on this thread (PostgreSQL), between _writing's enter and exit.
_write: ContextVar[TransactionsWrite | None] = ContextVar("custseg_import_write", default=None)


@contextmanager
def _writing(job: ImportJob):
    """Around the chunk loop and the success block: on PostgreSQL a transactions import
    writes each chunk into customers_transaction as it comes (_stage_transactions), inside
    one transaction that the success block joins; progress reports then go through a
    connection of their own. Elsewhere (customers, SQLite) chunks are staged and merged."""
    if job.kind == CUSTOMERS or connection.vendor != "postgresql":
        yield
        return

    def waiting() -> None:
        job_progress(job, 2, "Waiting for another transactions import to finish")  # raises JobCancelled

    with transactions_write(job.pk, waiting=waiting) as write:
        token = _write.set(write)
        try:
            yield
        finally:
            _write.reset(token)


STAGED_COLUMNS = [
    "line", "row_hash", "customer_external_id", "invoice_id", "timestamp", "quantity", "unit_price",
    "amount", "product", "description", "category", "channel", "country", "is_cancellation",
]


def _stage_transactions(job_id: int, rows: pd.DataFrame) -> None:
    if rows.empty:
        return
    write = _write.get()
    if write is not None:
        write.write(rows)  # straight into customers_transaction (PostgreSQL)
        return
    # custom columns, when the file has any (the column defaults to {} otherwise)
    columns = [*STAGED_COLUMNS, "attributes"] if "attributes" in rows else STAGED_COLUMNS
    frame = rows[columns].assign(job_id=job_id)
    frame["quantity"] = frame["quantity"].astype("int64")
    insert_frame(ImportStagedTransaction, frame)


def _merge_transactions(job_id: int) -> dict:
    """Set-based: duplicates within the file, lines already imported, new customers, insert.

    Every staged line is deleted once: as a repeat, as already imported, or at the end
    once inserted. The staging table has no index; each step is one scan of it.
    On PostgreSQL the chunks are in customers_transaction already: what is left is
    telling repeats from lines imported before (customers.services.import_transactions).
    """
    write = _write.get()
    if write is not None:
        return write.finish()
    staged = ImportStagedTransaction._meta.db_table
    txn = Transaction._meta.db_table
    cust = Customer._meta.db_table
    rejected = ImportRejectedRow._meta.db_table
    now = timezone.now()
    # Lines with the same hash are grouped, in any order: bytewise is the fastest.
    same_hash = 'row_hash COLLATE "C"' if connection.vendor == "postgresql" else "row_hash"
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The staging table has no index: the planner needs its fresh row count to
            # choose hash joins, and the sorts and hashes of a large file need more than
            # the default 4 MB to stay in memory (this transaction only). ANALYZE's lock
            # lasts until commit: the merges of two transactions files run one at a time.
            cursor.execute(f"ANALYZE {staged}")
            cursor.execute(f"SET LOCAL work_mem = '{MERGE_WORK_MEM}'")
        # 1. a line repeated within the file: the first stays, the others are rejected
        cursor.execute(
            f"INSERT INTO {rejected} (job_id, line, reason, raw) "
            # the rejected-rows file shows what the line held (its cells as validated), built
            # for the repeats only
            f"SELECT job_id, line, 'duplicate of line ' || CAST(first_line AS VARCHAR(20)), "
            f"invoice_id || ',' || product || ',' || description || ',' || CAST(quantity AS VARCHAR(20)) || ',' "
            f"|| CAST(timestamp AS VARCHAR(40)) || ',' || CAST(unit_price AS VARCHAR(20)) || ',' "
            f"|| customer_external_id || ',' || country FROM "
            f"(SELECT job_id, line, invoice_id, product, description, quantity, timestamp, unit_price, "
            f"customer_external_id, country, MIN(line) OVER (PARTITION BY {same_hash}) AS first_line "
            f"FROM {staged} WHERE job_id = %s) d WHERE line > first_line",
            [job_id],
        )
        duplicates_in_file = cursor.rowcount
        anonymous_duplicates = 0
        if duplicates_in_file:
            # a repeat of an anonymous line is anonymous too (the row hash holds the customer id)
            cursor.execute(
                f"SELECT COUNT(*) FROM {staged} WHERE job_id = %s AND customer_external_id = '' AND line IN "
                f"(SELECT line FROM {rejected} WHERE job_id = %s)",
                [job_id, job_id],
            )
            anonymous_duplicates = cursor.fetchone()[0]
            # the job's only staged lines among its rejected ones are those just rejected
            cursor.execute(
                f"DELETE FROM {staged} WHERE job_id = %s AND line IN "
                f"(SELECT line FROM {rejected} WHERE job_id = %s)",
                [job_id, job_id],
            )
        ranges = _staged_ranges(ImportStagedTransaction, job_id, ("timestamp", "quantity", "unit_price", "amount"))
        # 2. lines imported before: accepted, unchanged
        cursor.execute(
            f"DELETE FROM {staged} WHERE job_id = %s AND EXISTS "
            f"(SELECT 1 FROM {txn} t WHERE t.row_hash = {staged}.row_hash)",
            [job_id],
        )
        unchanged = cursor.rowcount
        # 3. customers the file introduces, created with what is known (their country)
        cursor.execute(
            f"INSERT INTO {cust} (external_id, name, email, gender, country, city, attributes, created_at, updated_at) "
            f"SELECT customer_external_id, '', '', '', MAX(country), '', '{{}}', %s, %s FROM {staged} s "
            f"WHERE s.job_id = %s AND s.customer_external_id <> '' AND NOT EXISTS "
            f"(SELECT 1 FROM {cust} c WHERE c.external_id = s.customer_external_id) "
            f"GROUP BY customer_external_id",
            [now, now, job_id],
        )
        customers_created = cursor.rowcount
        # 4. the rest become transactions
        cursor.execute(
            f"INSERT INTO {txn} (customer_id, invoice_id, timestamp, quantity, unit_price, amount, product, "
            f"description, category, channel, is_cancellation, row_hash, attributes) "
            f"SELECT c.id, s.invoice_id, s.timestamp, s.quantity, s.unit_price, s.amount, s.product, "
            f"s.description, s.category, s.channel, s.is_cancellation, s.row_hash, s.attributes FROM {staged} s "
            f"LEFT JOIN {cust} c ON c.external_id = s.customer_external_id AND s.customer_external_id <> '' "
            f"WHERE s.job_id = %s",
            [job_id],
        )
        created = cursor.rowcount
        cursor.execute(f"DELETE FROM {staged} WHERE job_id = %s", [job_id])
    return {
        "duplicates_in_file": duplicates_in_file,
        "anonymous_duplicates": anonymous_duplicates,
        "unchanged": unchanged,
        "customers_created": customers_created,
        "created": created,
        "ranges": ranges,
    }
