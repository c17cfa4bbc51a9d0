"""Import speed: custseg's import of a file vs COPY, same database, one run.

Two baselines, both timed in the same run as the import:
- raw: the file's rows COPYed as they are into an unindexed table of text columns (what
  `psql \\copy` of the file does);
- same table: the rows the import stored (customers_transaction's columns and types,
  exported by `COPY (SELECT ...) TO STDOUT` after the first import, in their order) COPYed
  into an empty table created `LIKE customers_transaction INCLUDING ALL` (its primary
  key, indexes, defaults; no foreign key, which LIKE does not copy): the least it costs to
  write these rows into a table like the one the import writes to.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/custseg_bench REDIS_URL=redis://127.0.0.1:6379/15 \\
        .venv/bin/python bench/imports.py ../shared/datasets/online_retail.csv.gz transactions

(import_create enqueues each job: REDIS_URL names a Redis database no worker reads, so
that nothing runs the benchmark's jobs a second time.)

Needs PostgreSQL. It empties the transactions, customers and import staging tables of the
benchmark database.
"""

from __future__ import annotations

import argparse
import gzip
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The columns an import writes (all but the id, which the table's identity gives).
STORED_COLUMNS = ("customer_id, invoice_id, timestamp, quantity, unit_price, amount, product, description, "
                  "category, channel, is_cancellation, row_hash, attributes")
# Bytes per write when streaming a file into COPY.
COPY_BLOCK = 1 << 20


def _copy_file(cursor, sql: str, path: Path, opener=open) -> float:
    started = time.perf_counter()
    with opener(path, "rb") as raw, cursor.cursor.copy(sql) as copy:
        while block := raw.read(COPY_BLOCK):
            copy.write(block)
    return time.perf_counter() - started


def _raw_copy(cursor, path: Path, opener) -> tuple[float, int]:
    with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
        width = len(handle.readline().split(","))
    cursor.execute("DROP TABLE IF EXISTS bench_raw_copy")
    cursor.execute("CREATE TABLE bench_raw_copy (" + ", ".join(f'"c{i}" text' for i in range(width)) + ")")
    seconds = _copy_file(cursor, "COPY bench_raw_copy FROM STDIN WITH (FORMAT csv, HEADER)", path, opener)
    cursor.execute("SELECT count(*) FROM bench_raw_copy")
    rows = cursor.fetchone()[0]
    cursor.execute("DROP TABLE bench_raw_copy")
    return seconds, rows


def _same_table_copy(cursor, table: str) -> tuple[float, int]:
    with tempfile.NamedTemporaryFile(suffix=".copy") as stored:
        with cursor.cursor.copy(f"COPY (SELECT {STORED_COLUMNS} FROM {table} ORDER BY id) TO STDOUT") as copy:
            for block in copy:
                stored.write(block)
        stored.flush()
        cursor.execute("DROP TABLE IF EXISTS bench_same_table")
        cursor.execute(f"CREATE TABLE bench_same_table (LIKE {table} INCLUDING ALL)")
        seconds = _copy_file(cursor, f"COPY bench_same_table ({STORED_COLUMNS}) FROM STDIN", Path(stored.name))
    cursor.execute("SELECT count(*) FROM bench_same_table")
    rows = cursor.fetchone()[0]
    cursor.execute("DROP TABLE bench_same_table")
    return seconds, rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path")
    parser.add_argument("kind", choices=["customers", "transactions"])
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("bench/imports.py compares against COPY: set DATABASE_URL to a PostgreSQL database.")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "custseg_site.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from customers.models import Customer, Transaction
    from customers.services.imports import import_create, import_execute

    call_command("migrate", verbosity=0)
    # The web and worker processes have the task modules loaded when they create or run an
    # import; a fresh process would charge their first import (about 1 s) to the first import.
    import customers.tasks  # noqa: F401
    path = Path(args.path)
    opener = gzip.open if path.suffix == ".gz" else open
    table = (Customer if args.kind == "customers" else Transaction)._meta.db_table

    with connection.cursor() as cursor:
        # what earlier runs left (staged lines of an interrupted run, dead rows) must not slow this one
        cursor.execute("TRUNCATE customers_transaction, customers_customer, customers_importstagedtransaction, "
                       "customers_importstagedcustomer, customers_importrejectedrow CASCADE")
        raw_seconds, raw_rows = _raw_copy(cursor, path, opener)

    started = time.perf_counter()
    job = import_create(kind=args.kind, upload_path=path, original_name=path.name)
    import_execute(job_id=job.pk)
    first_seconds = time.perf_counter() - started
    job.refresh_from_db()

    same_seconds = same_rows = None
    if args.kind == "transactions":
        with connection.cursor() as cursor:
            same_seconds, same_rows = _same_table_copy(cursor, table)

    started = time.perf_counter()
    again = import_create(kind=args.kind, upload_path=path, original_name=path.name)
    import_execute(job_id=again.pk)
    again_seconds = time.perf_counter() - started
    again.refresh_from_db()

    for done in (job, again):  # the copies import_create stored
        Path(done.file_path).unlink(missing_ok=True)

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"**Import of {path.name} ({args.kind}), PostgreSQL, peak RSS {peak:,.0f} MB**\n")
    print("| case | seconds | ratio to same-table COPY | ratio to raw COPY | rows |")
    print("|---|---:|---:|---:|---|")

    def ratio(seconds, baseline):
        return f"{seconds / baseline:.2f}x" if baseline else "-"

    print(f"| raw COPY of the file into an unindexed text table | {raw_seconds:.2f} | "
          f"{ratio(raw_seconds, same_seconds)} | 1.00x | {raw_rows:,} |")
    if same_seconds is not None:
        print(f"| COPY of the stored rows into an empty table LIKE {table} | {same_seconds:.2f} | 1.00x | "
              f"{ratio(same_seconds, raw_seconds)} | {same_rows:,} |")
    print(f"| custseg import, first time | {first_seconds:.2f} | {ratio(first_seconds, same_seconds)} | "
          f"{ratio(first_seconds, raw_seconds)} | "
          f"{job.rows_read:,} read = {job.accepted:,} accepted + {job.rejected:,} rejected |")
    print(f"| custseg import, same file again | {again_seconds:.2f} | {ratio(again_seconds, same_seconds)} | "
          f"{ratio(again_seconds, raw_seconds)} | {again.created:,} created, {again.unchanged:,} unchanged |")
    if job.status != "succeeded" or again.status != "succeeded":
        sys.exit(f"An import did not succeed: {job.status} {job.error} / {again.status} {again.error}")


if __name__ == "__main__":
    main()
