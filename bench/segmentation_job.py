"""A segmentation run end to end on a real Celery worker, and the worker's peak memory.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/custseg_bench1m \
    REDIS_URL=redis://127.0.0.1:6379/14 .venv/bin/python bench/segmentation_job.py \
        --algorithm minibatch_kmeans --k auto

Uses the customers already in the database (load them with `demo_data --customers N`).
Starts `celery worker --pool solo` as a child process, creates the run through the service
(as the page, the API and the CLI do), follows its progress, stops the worker, and reads the
child's peak RSS from getrusage(RUSAGE_CHILDREN): the whole worker process, Django, the
feature load, the engine and the membership COPY included.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algorithm", default="minibatch_kmeans")
    parser.add_argument("--k", default="auto")
    parser.add_argument("--features", default="recency,frequency,monetary,avg_order_value,tenure,age,annual_income")
    parser.add_argument("--stability-resamples", default="10")
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        sys.exit("Set DATABASE_URL and REDIS_URL (a database with customers loaded).")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "custseg_site.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from customers.selectors import customer_count_estimate
    from segments import services
    from segments.models import SegmentationRun

    queue = f"bench-{os.getpid()}"
    worker = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "celery"), "-A", "custseg_site", "worker", "--pool", "solo",
         "--loglevel", "WARNING", "-Q", queue],
        cwd=ROOT, env={**os.environ, "CELERY_TASK_DEFAULT_QUEUE": queue},
    )
    from custseg_site.celery import app

    app.conf.task_default_queue = queue
    try:
        started = time.monotonic()
        run = services.run_create(
            features=args.features.split(","), algorithm=args.algorithm, k=args.k,
            stability_resamples=args.stability_resamples, name="bench: segmentation job",
        )
        last = ""
        while time.monotonic() - started < args.timeout:
            run.refresh_from_db()
            line = f"{run.progress:3d}% {run.stage}"
            if line != last:
                print(f"{time.monotonic() - started:7.1f} s  {line}", flush=True)
                last = line
            if run.status in SegmentationRun.FINISHED_STATUSES:
                break
            time.sleep(1)
        elapsed = time.monotonic() - started
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=120)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    run.refresh_from_db()
    timings = run.metrics.get("timings", {})
    print()
    print(f"run #{run.pk} {run.status} {run.error}")
    print(f"customers: {customer_count_estimate():,}; algorithm {args.algorithm}; k {args.k} -> {run.metrics.get('k')}; "
          f"stability resamples {args.stability_resamples}")
    print(f"wall time from create to finished: {elapsed:.1f} s; job timings {timings}")
    print(f"worker peak RSS: {peak_mb:,.0f} MB")
    print(f"notes: {run.notes}")


if __name__ == "__main__":
    main()
