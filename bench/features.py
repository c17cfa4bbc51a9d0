"""Feature snapshot speed: the whole job (read, features, RFM, CLV fit, write) beside a bare
pandas groupby computing the RFM columns from the same rows, in one run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/custseg_bench1m .venv/bin/python bench/features.py

Uses whatever the database holds (load it first with demo_data or an import). Two baselines,
both on the same rows:
- "read + groupby": read the identified customers' transactions with the same COPY the job
  uses, then `groupby("customer_id").agg(last, frequency=nunique(invoice), monetary=sum)`;
- "groupby alone" on the rows already in memory, against customers.analytics.customer_features
  on the same frame (the compute step of the job).
"""

from __future__ import annotations

import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "custseg_site.settings")
    import django

    django.setup()
    import pandas as pd
    from django.db import connection

    from customers import selectors
    from customers.analytics.features import customer_features
    from customers.models import CustomerFeatures, Transaction
    from customers.services.features import features_compute_create, features_execute

    print(f"Database: {connection.vendor}, {selectors.customer_count():,} customers, "
          f"{Transaction.objects.count():,} transactions", flush=True)
    as_of = pd.Timestamp(selectors.feature_as_of())
    channels = selectors.transaction_channels()

    started = time.perf_counter()
    frames = [frame for frame, _ in selectors.transaction_frames()]
    read_seconds = time.perf_counter() - started
    rows = pd.concat(frames, ignore_index=True)
    del frames
    started = time.perf_counter()
    baseline = rows.groupby("customer_id").agg(
        last=("timestamp", "max"), frequency=("invoice_id", "nunique"), monetary=("amount", "sum"))
    groupby_seconds = time.perf_counter() - started
    started = time.perf_counter()
    computed = customer_features(rows, as_of=as_of, channels=channels)
    compute_seconds = time.perf_counter() - started
    assert len(computed) == len(baseline)
    del rows

    snapshot = features_compute_create(trigger="bench")
    started = time.perf_counter()
    features_execute(snapshot_id=snapshot.pk)
    job_seconds = time.perf_counter() - started
    snapshot.refresh_from_db()
    assert snapshot.status == "succeeded", snapshot.error
    written = CustomerFeatures.objects.filter(snapshot=snapshot).count()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    baseline_total = read_seconds + groupby_seconds
    summary = snapshot.summary
    print(f"\n**Feature snapshot, {connection.vendor}, {written:,} customers, peak RSS {peak:,.0f} MB**\n")
    print("| case | seconds | baseline | baseline s | ratio |")
    print("|---|---:|---|---:|---:|")
    print(f"| whole job (read, features, RFM, CLV fit, write) | {job_seconds:.2f} | read + bare groupby | "
          f"{baseline_total:.2f} | {job_seconds / baseline_total:.2f}x |")
    print(f"| compute step: customer_features on the rows in memory | {compute_seconds:.2f} | bare groupby alone | "
          f"{groupby_seconds:.2f} | {compute_seconds / groupby_seconds:.2f}x |")
    print(f"\nInside the job: read + features {summary.get('features_seconds')} s, CLV fit "
          f"{summary.get('clv_seconds')} s, total {summary.get('seconds')} s; reading alone {read_seconds:.2f} s.")


if __name__ == "__main__":
    main()
