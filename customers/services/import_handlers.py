"""The customers and transactions files' side of the staged import (custseg_site.staged_import).

FileImport checks a chunk (customers.importing.validate) and reports like every ImportJob;
CustomersImport stages customers and upserts them by external id, counting created,
updated and unchanged rows. The transactions handler is in customers.services.imports,
next to its staging and its set-based merge. Every row read ends up accepted (created,
updated, unchanged) or rejected with its line and reason: accepted + rejected = rows read.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from functools import cached_property

import pandas as pd
from django.db import DatabaseError, connection, models, transaction
from django.utils import timezone

from customers.importing.mapping import Mapping
from customers.importing.report import value_ranges_report
from customers.importing.sources import Chunk
from customers.importing.validate import ImportOptions, validate
from customers.models import (
    Customer,
    ImportRejectedRow,
    ImportStagedCustomer,
    ImportStagedTransaction,
    Transaction,
)
from customers.services.attributes import attributes_register
from customers.services.features import features_compute_create
from custseg_site.bulk import insert_frame, refresh_statistics
from custseg_site.staged_import import Checked, StagedImport, Totals, rejected_frame

logger = logging.getLogger(__name__)

# Customer ids looked up per query (SQLite allows 32,766 bound variables).
LOOKUP_BATCH = 5_000
# How the report groups "duplicate of line 12", "duplicate of line 40", ... (each rejected
# row keeps the line it repeats).
DUPLICATE_REASON = "duplicate of an earlier line"
# Staged customers merged per round trip: bounds the merge's memory at any file size.
MERGE_CHUNK_ROWS = 20_000
CUSTOMER_FIELDS = ["name", "email", "gender", "age", "birth_year", "annual_income", "country", "city", "signup_date"]
STAGED_CUSTOMER_COLUMNS = ["line", "external_id", *CUSTOMER_FIELDS, "attributes"]


def drop_staged(job_id: int) -> None:
    ImportStagedTransaction.objects.filter(job_id=job_id).delete()
    ImportStagedCustomer.objects.filter(job_id=job_id).delete()


class FileImport(StagedImport):
    """An ImportJob: a customers or a transactions file."""

    rejected_model = ImportRejectedRow
    job_field = "job_id"
    target = ""  # what the merge writes into, for the progress bar

    def __init__(self, job):
        super().__init__(job)
        self.started = time.monotonic()
        self.read_seconds = 0.0
        self.missing = Counter()  # empty cells per column
        self.anonymous = 0  # transactions without a customer that passed validation (repeats included)

    @cached_property
    def mapping(self) -> Mapping:
        return Mapping(kind=self.job.kind, fields=self.job.mapping["fields"],
                       attributes=self.job.mapping.get("attributes", {}))

    @cached_property
    def options(self) -> ImportOptions:
        return ImportOptions(**self.job.options)

    def read_failure(self, error: Exception) -> str:
        if isinstance(error, UnicodeDecodeError):
            return str(error)
        return super().read_failure(error)

    def check(self, chunk: Chunk) -> Checked:
        empty = (chunk.frame.isna() | (chunk.frame == "")).sum()
        self.missing.update({column: int(count) for column, count in empty.items() if count})
        validated = validate(self.job.kind, chunk.frame, chunk.lines, self.mapping, self.options)
        self.anonymous += validated.anonymous
        rejected = pd.concat(
            [rejected_frame([(p.line, p.reason, p.raw) for p in chunk.problems]),
             validated.rejected.assign(raw=_raw_rows(chunk, validated.rejected["line"]))],
            ignore_index=True,
        )
        return Checked(accepted=validated.rows, rejected=rejected, read=len(chunk.frame) + len(chunk.problems))

    def reason_keys(self, reasons: pd.Series) -> pd.Series:
        return reasons.str.replace(r"duplicate of line \d+", DUPLICATE_REASON, regex=True)

    def progress(self, totals: Totals, fraction_read: float) -> tuple[int, str, dict]:
        return (5 + int(80 * fraction_read), f"Read {totals.read:,} rows",
                {"rows_read": totals.read, "rejected": totals.rejected})

    def merging(self, totals: Totals) -> tuple[int, str]:
        self.read_seconds = time.monotonic() - self.started
        return 88, f"Merging into the {self.target}"

    def merge_staged(self) -> dict:
        """The kind's merge: created, updated, unchanged, customers_created,
        duplicates_in_file (anonymous_duplicates of them, for transactions) and the value
        ranges of what is accepted."""
        raise NotImplementedError

    def merged(self) -> None:
        """What else commits with the merge."""

    def merge(self, totals: Totals) -> dict:
        counts = Counter(self.merge_staged())
        ranges = counts.pop("ranges")
        duplicates = counts.pop("duplicates_in_file")
        # each row counts once, in its final outcome: an anonymous line rejected as a repeat
        # is a rejected row, not an anonymous transaction kept
        anonymous = self.anonymous - counts.pop("anonymous_duplicates", 0)
        reasons = Counter(totals.reasons)
        if duplicates:
            reasons[DUPLICATE_REASON] += duplicates
        rejected = totals.rejected + duplicates
        report = {
            **self.job.report,
            "rejected_by_reason": dict(reasons.most_common()),
            "missing_by_column": {k: v for k, v in self.missing.items() if v},
            "ranges": ranges,
            "seconds": round(time.monotonic() - self.started, 2),
            # read, validate and stage vs the set-based merge
            "read_seconds": round(self.read_seconds, 2),
        }
        accepted = counts["created"] + counts["updated"] + counts["unchanged"]
        assert accepted + rejected == totals.read, (accepted, rejected, totals)
        self.merged()
        return {"rows_read": totals.read, "created": counts["created"], "updated": counts["updated"],
                "unchanged": counts["unchanged"], "rejected": rejected, "anonymous": anonymous,
                "customers_created": counts["customers_created"], "report": report}

    def drop_staged(self) -> None:
        drop_staged(self.job.pk)

    def succeeded(self, fields: dict) -> None:
        logger.info("customers.import_succeeded job_id=%s totals=%s", self.job.pk,
                    {k: v for k, v in fields.items() if k != "report"})
        if fields["created"] or fields["updated"]:
            # new data: refresh the features (the previous snapshot stays readable meanwhile)
            features_compute_create(trigger=f"import #{self.job.pk}")
        _refresh_statistics_after_import(self.job.pk)


class CustomersImport(FileImport):
    target = "customers"

    def stage(self, rows: pd.DataFrame) -> None:
        _stage_customers(self.job.pk, rows)

    def merge_staged(self) -> dict:
        return _merge_customers(self.job.pk, attributes=self.mapping.attributes)

    def merged(self) -> None:
        attributes_register(attributes=self.mapping.attributes, job=self.job)


def _refresh_statistics_after_import(job_id: int) -> None:
    """Fresh planner statistics for the tables that grew, customers VACUUMed too (member
    pages read external ids by index-only scans). Last, after everything the job promised:
    the import has succeeded whatever happens here, and autovacuum catches up anyway."""
    try:
        refresh_statistics(Customer, vacuum=True)
        refresh_statistics(Transaction)
    except DatabaseError:
        logger.warning("customers.import_statistics_failed job_id=%s", job_id, exc_info=True)


def _raw_rows(chunk: Chunk, lines: pd.Series) -> list[str]:
    """The rejected rows as read, for the rejected-rows file (rejections are few)."""
    if lines.empty:
        return []
    position = {line: index for index, line in enumerate(chunk.lines)}
    rows = chunk.frame.iloc[[position[line] for line in lines]]
    return [
        ",".join("" if value is None else str(value) for value in row)[:2000]
        for row in rows.itertuples(index=False)
    ]


def _stage_customers(job_id: int, rows: pd.DataFrame) -> None:
    if rows.empty:
        return
    frame = rows[STAGED_CUSTOMER_COLUMNS].assign(job_id=job_id)
    frame["age"] = frame["age"].astype("Int64")
    frame["birth_year"] = frame["birth_year"].astype("Int64")
    insert_frame(ImportStagedCustomer, frame)


def staged_ranges(model, job_id: int, fields: tuple[str, ...], attributes: dict[str, str] | None = None) -> dict:
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
    ranges = staged_ranges(ImportStagedCustomer, job_id, ("age", "birth_year", "annual_income", "signup_date"),
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
