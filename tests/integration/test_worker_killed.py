"""A worker process killed in the middle of a run (out of memory, a deploy) leaves the run
retried, not stuck: a real `celery worker` in a child process, a real kill."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest
from django.conf import settings
from django.db import connection

from custseg_site.celery import app as celery_app
from segments import services
from segments.models import Membership, SegmentationRun
from tests.customers.factories import planted_customers

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    return f"postgres://{user}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


@pytest.fixture
def worker_process(redis_url):
    """`celery worker --pool prefork --concurrency 1` on a queue of its own."""
    queue = f"killed-{uuid.uuid4().hex[:8]}"
    previous = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue
    env = {**os.environ, "DATABASE_URL": database_url(), "REDIS_URL": redis_url}
    celery = Path(sys.executable).with_name("celery")
    process = subprocess.Popen(
        [str(celery), "-A", "custseg_site", "worker", "--pool", "prefork", "--concurrency", "1",
         "-Q", queue, "--loglevel", "WARNING", "--without-heartbeat", "--without-gossip", "--without-mingle"],
        cwd=settings.BASE_DIR, env=env,
    )
    yield process
    celery_app.conf.task_default_queue = previous
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_a_run_whose_worker_process_is_killed_is_retried_and_finishes(worker_process):
    # given a run long enough to be caught in the middle (automatic k and many resamples)
    planted_customers(per_group=300)
    run = services.run_create(features=["recency", "frequency", "monetary"], k="auto", k_max=8,
                              stability_resamples=50)
    # when the process computing it is killed while it is running
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status == "running" and run.progress >= 12:
            break
        assert run.status in ("pending", "running"), (run.status, run.error)
        time.sleep(0.02)
    else:
        raise AssertionError(f"the run never started: {run.stage}")
    children = psutil.Process(worker_process.pid).children(recursive=True)
    assert children, "the prefork worker has a pool process"
    for child in children:
        child.send_signal(signal.SIGKILL)
    # then the message is delivered again and the run finishes, with its second attempt
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status in SegmentationRun.FINISHED_STATUSES:
            break
        time.sleep(0.2)
    assert run.status == "succeeded", (run.status, run.error, run.stage)
    assert run.attempts == 2
    assert Membership.objects.filter(run=run).count() == 900
