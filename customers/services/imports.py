"""Imports of customers and transactions files: create (validate and enqueue), execute.

The job streams the file in chunks (customers.importing.sources), validates each chunk
(customers.importing.validate) and writes it:
- customers: upsert by external id, counting created, updated and unchanged rows;
- transactions, on PostgreSQL: each chunk straight into customers_transaction, inside the
  transaction that marks the job succeeded (customers.services.import_transactions): its
  repeats of earlier lines rejected, lines already imported recognised, the customers it
  introduces created;
- transactions elsewhere (SQLite): COPY into a staging table, then one set-based merge in
  SQL that does the same.
Every row read ends up accepted (created, updated, unchanged) or rejected with its line
and reason: accepted + rejected = rows read.
"""

from __future__ import annotations

import logging
import shutil
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict
from functools import partial
from pathlib import Path

import pandas as pd
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, models, transaction
from django.utils import timezone

from customers.importing.mapping import (
    CUSTOMERS,
    KINDS,
    Mapping,
    MappingError,
    apply_overrides,
    detect_mapping,
)
from customers.importing.report import value_ranges_report
from customers.importing.sources import Source, SourceError
from customers.importing.validate import (
    ANONYMOUS_KEEP,
    ANONYMOUS_REJECT,
    NUMBER_FIELDS,
    ImportOptions,
    looks_like_decimal_comma,
    validate,
)
from customers.models import (
    Customer,
    ImportJob,
    ImportPreset,
    ImportRejectedRow,
    ImportStagedCustomer,
    ImportStagedTransaction,
    Transaction,
)
from customers.services.attributes import attribute_types_known, attributes_register
from customers.services.import_transactions import TransactionsWrite, transactions_write
from customers.services.presets import preset_options, preset_overrides
from custseg_site.bulk import insert_frame, refresh_statistics
from custseg_site.job_rows import GAVE_UP, job_cancel, job_claim, job_mark_failed, job_progress
from custseg_site.jobs import enqueue_or_fail

logger = logging.getLogger(__name__)

# Rows sampled from the top of the file to infer custom attribute types.
PREVIEW_ROWS = 500
# Customer ids looked up per query (SQLite allows 32,766 bound variables).
LOOKUP_BATCH = 5_000
# How the report groups "duplicate of line 12", "duplicate of line 40", ... (each rejected
# row keeps the line it repeats).
DUPLICATE_REASON = "duplicate of an earlier line"
# Staged customers merged per round trip: bounds the merge's memory at any file size.
MERGE_CHUNK_ROWS = 20_000
# work_mem of the transactions merge: its window sort and hash joins over a file's lines
# (~40 bytes a line) stay in memory up to about a million lines.
MERGE_WORK_MEM = "64MB"
CUSTOMER_FIELDS = ["name", "email", "gender", "age", "birth_year", "annual_income", "country", "city", "signup_date"]


class ImportCancelled(Exception):
    pass


def import_store_upload(uploaded) -> Path:
    """Write an uploaded file (Django UploadedFile) to the imports folder, chunk by chunk."""
    path = import_dir() / f"upload-{uuid.uuid4().hex}"
    with open(path, "wb") as handle:
        for piece in uploaded.chunks():
            handle.write(piece)
    return path


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
        has_records = source.has_records()
    except (SourceError, MappingError) as error:
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
                    "delimiter": source.info.delimiter, "renamed_headers": source.info.renamed_headers},
        )
        transaction.on_commit(lambda: _enqueue(job.pk))
    logger.info("customers.import_created job_id=%s kind=%s file=%s", job.pk, kind, original_name)
    return job


def _enqueue(job_id: int) -> None:
    from customers.tasks import import_file

    enqueue_or_fail(import_file, job_id, event="customers.import_enqueue_failed",
                    mark_failed=lambda pk, error: import_mark_failed(job_id=pk, error=error),
                    error="The job queue (Redis) could not be reached, so the import did not start. Check that "
                          "Redis and a worker are running, then import again.")


def import_mark_failed(*, job_id: int, error: str) -> None:
    job_mark_failed(ImportJob, job_id, error=error)
    _drop_staged(job_id)


def import_cancel(*, job: ImportJob) -> bool:
    """Stop a pending or running import; False when it had already finished.

    The worker notices at its next progress report (or before committing the merge) and
    leaves the database as it was.
    """
    cancelled = job_cancel(ImportJob, job.pk)
    if cancelled:
        logger.info("customers.import_cancelled job_id=%s", job.pk)
    return cancelled


def _drop_staged(job_id: int) -> None:
    ImportStagedTransaction.objects.filter(job_id=job_id).delete()
    ImportStagedCustomer.objects.filter(job_id=job_id).delete()


def _claim(job_id: int) -> ImportJob | None:
    job = job_claim(ImportJob, job_id, gave_up=GAVE_UP.format(what="this import"))
    if job is None:
        return None
    # A redelivered job starts over: what an interrupted attempt left is not counted.
    _drop_staged(job_id)
    ImportRejectedRow.objects.filter(job_id=job_id).delete()
    return job


def _progress(job_id: int, percent: int, stage: str, **counts) -> None:
    report = partial(job_progress, ImportJob, job_id, percent, stage, **counts)
    write = _write.get()
    # while the job's transaction is open, where the web sees the report (and it sees a cancel)
    if not (write.outside(report) if write is not None else report()):
        raise ImportCancelled


def import_execute(*, job_id: int) -> None:
    """The job body. Safe to call twice: a finished job is left alone."""
    from celery.exceptions import SoftTimeLimitExceeded

    job = _claim(job_id)
    if job is None:
        return
    started = time.monotonic()
    try:
        mapping = Mapping(kind=job.kind, fields=job.mapping["fields"], attributes=job.mapping.get("attributes", {}))
        options = ImportOptions(**job.options)
        source = Source(job.file_path)
        totals = Counter()
        reasons = Counter()
        missing = Counter()
        with _writing(job):
            for chunk in source.chunks():
                read = len(chunk.frame) + len(chunk.problems)
                totals["rows_read"] += read
                empty = (chunk.frame.isna() | (chunk.frame == "")).sum()
                missing.update({column: int(count) for column, count in empty.items() if count})
                validated = validate(job.kind, chunk.frame, chunk.lines, mapping, options)
                rejected = pd.concat(
                    [pd.DataFrame([{"line": p.line, "reason": p.reason, "raw": p.raw} for p in chunk.problems],
                                  columns=["line", "reason", "raw"]),
                     validated.rejected.assign(raw=_raw_rows(chunk, validated.rejected["line"]))],
                    ignore_index=True,
                )
                if job.kind == CUSTOMERS:
                    _stage_customers(job.pk, validated.rows)
                else:
                    _stage_transactions(job.pk, validated.rows)
                    totals["anonymous"] += validated.anonymous
                _write_rejected(job.pk, rejected)
                totals["rejected"] += len(rejected)
                reasons.update(rejected["reason"].str.replace(r"duplicate of line \d+", DUPLICATE_REASON, regex=True))
                _progress(job_id, 5 + int(80 * chunk.fraction_read),
                          f"Read {totals['rows_read']:,} rows", rows_read=totals["rows_read"], rejected=totals["rejected"])
            read_seconds = time.monotonic() - started
            target = "customers" if job.kind == CUSTOMERS else "transactions"
            _progress(job_id, 88, f"Merging into the {target}")
            # The merge and the job's success commit together: a cancel that lands before
            # the commit rolls the whole merge back, so the database is as it was.
            with transaction.atomic():
                counts = (_merge_customers(job.pk, attributes=mapping.attributes) if job.kind == CUSTOMERS
                          else _merge_transactions(job.pk))
                ranges = counts.pop("ranges")
                duplicates = counts.pop("duplicates_in_file")
                totals["rejected"] += duplicates
                if duplicates:
                    reasons[DUPLICATE_REASON] += duplicates
                for key, value in counts.items():
                    totals[key] += value
                report = {
                    **job.report,
                    "rejected_by_reason": dict(reasons.most_common()),
                    "missing_by_column": {k: v for k, v in missing.items() if v},
                    "ranges": ranges,
                    "seconds": round(time.monotonic() - started, 2),
                    # read, validate and stage vs the set-based merge
                    "read_seconds": round(read_seconds, 2),
                }
                accepted = totals["created"] + totals["updated"] + totals["unchanged"]
                assert accepted + totals["rejected"] == totals["rows_read"], (accepted, totals)
                if job.kind == CUSTOMERS:
                    attributes_register(attributes=mapping.attributes, job=job)
                status = ImportJob.objects.select_for_update().filter(pk=job_id).values_list("status", flat=True).first()
                if status != ImportJob.Status.RUNNING:
                    raise ImportCancelled
                ImportJob.objects.filter(pk=job_id).update(
                    status=ImportJob.Status.SUCCEEDED, progress=100, stage="Done", finished_at=timezone.now(),
                    rows_read=totals["rows_read"], created=totals["created"], updated=totals["updated"],
                    unchanged=totals["unchanged"], rejected=totals["rejected"], anonymous=totals["anonymous"],
                    customers_created=totals["customers_created"], report=report,
                )
        logger.info("customers.import_succeeded job_id=%s totals=%s", job_id, dict(totals))
        if totals["created"] or totals["updated"]:
            # new data: refresh the features (the previous snapshot stays readable meanwhile)
            from customers.services.features import features_compute_create

            features_compute_create(trigger=f"import #{job_id}")
        _refresh_statistics_after_import(job_id)
    except ImportCancelled:
        # raised only once the row said so; repeated in case that write shared our rollback
        job_cancel(ImportJob, job_id)
        _drop_staged(job_id)
        logger.info("customers.import_stopped_after_cancel job_id=%s", job_id)
    except (SourceError, ValueError, KeyError) as error:
        import_mark_failed(job_id=job_id, error=str(error))
    except (OSError, EOFError) as error:  # a truncated or damaged file, found part way
        import_mark_failed(job_id=job_id, error=f"The file could not be read to its end ({error}). "
                           "Nothing from it was kept; check the file and import it again.")
    except SoftTimeLimitExceeded:
        import_mark_failed(job_id=job_id, error="The import took longer than its time limit.")


def _refresh_statistics_after_import(job_id: int) -> None:
    """Fresh planner statistics for the tables that grew, customers VACUUMed too (member
    pages read external ids by index-only scans). Last, after everything the job promised:
    the import has succeeded whatever happens here, and autovacuum catches up anyway."""
    try:
        refresh_statistics(Customer, vacuum=True)
        refresh_statistics(Transaction)
    except DatabaseError:
        logger.warning("customers.import_statistics_failed job_id=%s", job_id, exc_info=True)


def _raw_rows(chunk, lines: pd.Series) -> list[str]:
    """The rejected rows as read, for the rejected-rows file (rejections are few)."""
    if lines.empty:
        return []
    position = {line: index for index, line in enumerate(chunk.lines)}
    rows = chunk.frame.iloc[[position[line] for line in lines]]
    return [
        ",".join("" if value is None else str(value) for value in row)[:2000]
        for row in rows.itertuples(index=False)
    ]


def _write_rejected(job_id: int, rejected: pd.DataFrame) -> None:
    if rejected.empty:
        return
    frame = rejected.assign(job_id=job_id, reason=rejected["reason"].str.slice(0, 300))
    insert_frame(ImportRejectedRow, frame[["job_id", "line", "reason", "raw"]])


STAGED_CUSTOMER_COLUMNS = ["line", "external_id", *CUSTOMER_FIELDS, "attributes"]


def _stage_customers(job_id: int, rows: pd.DataFrame) -> None:
    if rows.empty:
        return
    frame = rows[STAGED_CUSTOMER_COLUMNS].assign(job_id=job_id)
    frame["age"] = frame["age"].astype("Int64")
    frame["birth_year"] = frame["birth_year"].astype("Int64")
    insert_frame(ImportStagedCustomer, frame)


def _staged_ranges(model, job_id: int, fields: tuple[str, ...], attributes: dict[str, str] | None = None) -> dict:
    """Count, smallest, largest and mean of the staged lines' typed fields (and number or date
    attributes), once the file's repeats are gone: the value ranges of what is accepted."""
    from django.db.models import Avg, Count, FloatField, Max, Min
    from django.db.models.fields.json import KeyTextTransform, KeyTransform
    from django.db.models.functions import Cast

    expressions, kinds = {}, {}
    for name in fields:
        is_date = isinstance(model._meta.get_field(name), (models.DateField, models.DateTimeField))
        expressions[name], kinds[name] = name, "date" if is_date else "number"
    for key, kind in (attributes or {}).items():
        if kind == "number":
            expressions[key], kinds[key] = Cast(KeyTransform(key, "attributes"), FloatField()), "number"
        elif kind == "date":  # stored as ISO text, which sorts as the dates do
            expressions[key], kinds[key] = KeyTextTransform(key, "attributes"), "date"
    aggregates = {}
    for position, (name, expression) in enumerate(expressions.items()):
        aggregates.update({f"c{position}": Count(expression), f"lo{position}": Min(expression),
                           f"hi{position}": Max(expression)})
        if kinds[name] == "number":
            aggregates[f"m{position}"] = Avg(expression)
    values = model.objects.filter(job_id=job_id).aggregate(**aggregates)
    return value_ranges_report({
        name: {"kind": kinds[name], "count": values[f"c{i}"], "min": values[f"lo{i}"], "max": values[f"hi{i}"],
               "mean": values.get(f"m{i}")}
        for i, name in enumerate(expressions)
    })


def _merge_customers(job_id: int, *, attributes: dict[str, str] | None = None) -> dict:
    """A customer id repeated in the file is rejected (naming its first line); the rest
    upsert by external id, in file order, chunk by chunk, inside the caller's transaction."""
    staged = ImportStagedCustomer._meta.db_table
    rejected = ImportRejectedRow._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {rejected} (job_id, line, reason, raw) "
            f"SELECT s.job_id, s.line, 'duplicate of line ' || CAST(f.first_line AS VARCHAR(20)), "
            f"'customer ' || s.external_id "
            f"FROM {staged} s JOIN (SELECT external_id, MIN(line) AS first_line FROM {staged} "
            f"WHERE job_id = %s GROUP BY external_id HAVING COUNT(*) > 1) f ON f.external_id = s.external_id "
            f"WHERE s.job_id = %s AND s.line > f.first_line",
            [job_id, job_id],
        )
        duplicates_in_file = cursor.rowcount
        cursor.execute(
            f"DELETE FROM {staged} WHERE job_id = %s AND EXISTS (SELECT 1 FROM {staged} e "
            f"WHERE e.job_id = %s AND e.external_id = {staged}.external_id AND e.line < {staged}.line)",
            [job_id, job_id],
        )
    ranges = _staged_ranges(ImportStagedCustomer, job_id, ("age", "birth_year", "annual_income", "signup_date"),
                            attributes)
    counts = Counter()
    after = 0
    rows = ImportStagedCustomer.objects.filter(job_id=job_id).order_by("line")
    while True:
        batch = list(rows.filter(line__gt=after).values(*STAGED_CUSTOMER_COLUMNS)[:MERGE_CHUNK_ROWS])
        if not batch:
            break
        after = batch[-1]["line"]
        counts.update(_upsert_customers(pd.DataFrame.from_records(batch, columns=STAGED_CUSTOMER_COLUMNS)))
    ImportStagedCustomer.objects.filter(job_id=job_id).delete()
    return {"duplicates_in_file": duplicates_in_file, "created": counts["created"],
            "updated": counts["updated"], "unchanged": counts["unchanged"], "ranges": ranges}


def _upsert_customers(rows: pd.DataFrame) -> Counter:
    """Create new customers; update known ones where a value differs (attributes merge)."""
    counts = Counter()
    if rows.empty:
        return counts
    ids = rows["external_id"].tolist()
    existing = {}
    for start in range(0, len(ids), LOOKUP_BATCH):
        for customer in Customer.objects.filter(external_id__in=ids[start:start + LOOKUP_BATCH]):
            existing[customer.external_id] = customer
    now = timezone.now()
    new = rows[~rows["external_id"].isin(existing.keys())]
    if not new.empty:
        frame = new[["external_id", *CUSTOMER_FIELDS, "attributes"]].assign(created_at=now, updated_at=now)
        frame["age"] = frame["age"].astype("Int64")
        frame["birth_year"] = frame["birth_year"].astype("Int64")
        with transaction.atomic():
            insert_frame(Customer, frame)
        counts["created"] += len(new)
    changed = []
    for record in rows[rows["external_id"].isin(existing.keys())].to_dict("records"):
        customer = existing[record["external_id"]]
        before = {name: getattr(customer, name) for name in CUSTOMER_FIELDS}
        for name in CUSTOMER_FIELDS:
            value = record[name]
            if value is None or (isinstance(value, float) and pd.isna(value)) or value == "":
                continue  # a blank cell does not erase what is known
            if name in ("age", "birth_year"):
                value = int(value)
            setattr(customer, name, value)
        attributes = {**customer.attributes, **record["attributes"]}
        after = {name: getattr(customer, name) for name in CUSTOMER_FIELDS}
        if after != before or attributes != customer.attributes:
            customer.attributes = attributes
            customer.updated_at = now
            changed.append(customer)
    if changed:
        with transaction.atomic():
            Customer.objects.bulk_update(changed, [*CUSTOMER_FIELDS, "attributes", "updated_at"], batch_size=1000)
    counts["updated"] += len(changed)
    counts["unchanged"] += len(existing) - len(changed)
    return counts


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
        if not job_progress(ImportJob, job.pk, 2, "Waiting for another transactions import to finish"):
            raise ImportCancelled

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
        if duplicates_in_file:
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
        "unchanged": unchanged,
        "customers_created": customers_created,
        "created": created,
        "ranges": ranges,
    }
