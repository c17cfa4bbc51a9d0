"""Time the pipeline stages at a chosen size, each beside the raw library or database doing
the same work on the same data, and print a table of seconds and ratios.

    make bench ARGS="--customers 100000"
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/custseg_bench make bench ARGS="--customers 1000000"

Without DATABASE_URL it uses a SQLite file of its own (var/bench.sqlite3), never the app's
database. It replaces the customers in the benchmark database (demo_data --flush).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--features", default="recency,frequency,monetary")
    parser.add_argument("--skip-load", action="store_true", help="Reuse the customers already loaded.")
    parser.add_argument("--markdown", action="store_true", help="Print the table as Markdown.")
    return parser.parse_args()


def setup_django():
    if not os.environ.get("DATABASE_URL"):
        (ROOT / "var").mkdir(exist_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{ROOT / 'var' / 'bench.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "custseg_site.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


class Timer:
    def __init__(self):
        self.rows: list[tuple[str, float, str, float | None, str]] = []

    def measure(self, fn):
        started = time.perf_counter()
        value = fn()
        return value, time.perf_counter() - started

    def add(self, stage, seconds, baseline_name="", baseline_seconds=None, note=""):
        self.rows.append((stage, seconds, baseline_name, baseline_seconds, note))


def raw_rfm_sql(connection):
    """The same per-customer aggregation, as one hand-written SQL statement."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.id, MIN(t.timestamp), MAX(t.timestamp), "
            "COUNT(DISTINCT CASE WHEN t.amount > 0 THEN t.invoice_id END), SUM(t.amount) "
            "FROM customers_customer c LEFT JOIN customers_transaction t ON t.customer_id = c.id "
            "GROUP BY c.id ORDER BY c.id"
        )
        return cursor.fetchall()


def main():
    args = parse_args()
    setup_django()
    from django.db import connection
    from sklearn.cluster import KMeans
    from sklearn.preprocessing import StandardScaler

    from customers.selectors import customer_feature_frame
    from customers.services import demo_data_load
    from segments import ml, services
    from segments.models import SegmentationRun

    timer = Timer()
    features = [f.strip() for f in args.features.split(",")]

    if not args.skip_load:
        summary, seconds = timer.measure(
            lambda: demo_data_load(customers=args.customers, seed=args.seed, flush=True)
        )
        timer.add(
            "demo_data (generate + insert)", seconds,
            note=f"{summary.customers:,} customers, {summary.transactions:,} transactions, "
            f"{(summary.customers + summary.transactions) / seconds:,.0f} rows/s",
        )

    frame, seconds = timer.measure(lambda: customer_feature_frame(features=features))
    _, raw_seconds = timer.measure(lambda: raw_rfm_sql(connection))
    timer.add("feature frame (selector)", seconds, "one raw SQL GROUP BY, fetchall", raw_seconds,
              f"{len(frame):,} customers")

    config = ml.SegmentationConfig(features=tuple(features), k=args.k, seed=args.seed)
    result, seconds = timer.measure(lambda: ml.segment(frame, config))
    matrix = StandardScaler().fit_transform(frame.fillna(frame.median()).to_numpy())
    _, raw_seconds = timer.measure(
        lambda: KMeans(n_clusters=args.k, n_init=ml.engine.KMEANS_N_INIT, random_state=args.seed).fit(matrix)
    )
    timer.add("segment engine (k-means + metrics + profiles)", seconds, "bare sklearn KMeans.fit",
              raw_seconds, f"silhouette {result.metrics['silhouette']:.3f} on {result.metrics['silhouette_sample_size']:,}")

    run = SegmentationRun.objects.create(
        name="bench", config={"algorithm": "kmeans", "features": features, "k": args.k, "seed": args.seed}
    )
    _, seconds = timer.measure(lambda: services.run_execute(run_id=run.pk))
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    timings = run.metrics["timings"]
    timer.add("whole job (run_execute, no broker)", seconds, note=(
        f"load {timings['load_seconds']:.2f} s, segment {timings['segment_seconds']:.2f} s, "
        f"write {timings['write_seconds']:.2f} s"))
    write_seconds = timings["write_seconds"]
    timer.add("  of which: write memberships", write_seconds, note=f"{len(frame) / write_seconds:,.0f} rows/s")

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    header = (
        f"custseg bench: {args.customers:,} customers, k={args.k}, features {','.join(features)}, "
        f"{connection.vendor}, {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"peak RSS {peak_mb:,.0f} MB"
    )
    print_table(header, timer.rows, markdown=args.markdown)


def print_table(header, rows, markdown=False):
    def ratio(seconds, baseline):
        return f"{seconds / baseline:.2f}x" if baseline else ""

    if markdown:
        print(f"**{header}**\n")
        print("| stage | seconds | baseline | baseline s | ratio | note |")
        print("|---|---:|---|---:|---:|---|")
        for stage, seconds, base_name, base_seconds, note in rows:
            base = f"{base_seconds:.3f}" if base_seconds is not None else ""
            print(f"| {stage.strip()} | {seconds:.3f} | {base_name} | {base} | {ratio(seconds, base_seconds)} | {note} |")
        return
    print(header)
    print(f"{'stage':<48} {'seconds':>9} {'ratio':>7}  baseline / note")
    for stage, seconds, base_name, base_seconds, note in rows:
        detail = f"vs {base_name} ({base_seconds:.3f} s)" if base_seconds is not None else ""
        print(f"{stage:<48} {seconds:>9.3f} {ratio(seconds, base_seconds):>7}  {detail} {note}".rstrip())


if __name__ == "__main__":
    main()
