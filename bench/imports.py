"""Import speed: custseg's import of a file vs a raw COPY of the same file into an
unindexed table of text columns (what `psql \\copy` does), same database, one run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/custseg_bench \\
        .venv/bin/python bench/imports.py ../shared/datasets/online_retail.csv.gz transactions

Needs PostgreSQL. It empties the transactions and customers of the benchmark database.
"""

from __future__ import annotations

import argparse
import gzip
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


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

    from customers.services.imports import import_create, import_execute

    call_command("migrate", verbosity=0)
    path = Path(args.path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
        header = handle.readline().rstrip("\r\n").split(",")

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE customers_transaction, customers_customer CASCADE")
        cursor.execute("DROP TABLE IF EXISTS bench_raw_copy")
        cursor.execute("CREATE TABLE bench_raw_copy (" + ", ".join(f'"c{i}" text' for i in range(len(header))) + ")")
        started = time.perf_counter()
        with opener(path, "rb") as raw, cursor.cursor.copy("COPY bench_raw_copy FROM STDIN WITH (FORMAT csv, HEADER)") as copy:
            while block := raw.read(1 << 20):
                copy.write(block)
        copy_seconds = time.perf_counter() - started
        cursor.execute("SELECT count(*) FROM bench_raw_copy")
        copied = cursor.fetchone()[0]
        cursor.execute("DROP TABLE bench_raw_copy")

    started = time.perf_counter()
    job = import_create(kind=args.kind, upload_path=path, original_name=path.name)
    import_execute(job_id=job.pk)
    first_seconds = time.perf_counter() - started
    job.refresh_from_db()
    started = time.perf_counter()
    again = import_create(kind=args.kind, upload_path=path, original_name=path.name)
    import_execute(job_id=again.pk)
    again_seconds = time.perf_counter() - started
    again.refresh_from_db()

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"**Import of {path.name} ({args.kind}), PostgreSQL, peak RSS {peak:,.0f} MB**\n")
    print("| case | seconds | ratio to COPY | rows |")
    print("|---|---:|---:|---|")
    print(f"| raw COPY into an unindexed text table | {copy_seconds:.2f} | 1.00x | {copied:,} |")
    print(f"| custseg import, first time | {first_seconds:.2f} | {first_seconds / copy_seconds:.1f}x | "
          f"{job.rows_read:,} read = {job.accepted:,} accepted + {job.rejected:,} rejected |")
    print(f"| custseg import, same file again | {again_seconds:.2f} | {again_seconds / copy_seconds:.1f}x | "
          f"{again.created:,} created, {again.unchanged:,} unchanged |")


if __name__ == "__main__":
    main()
