"""The Celery side of jobs: which errors are worth a retry, the options every job task
takes, its base class, and a Redis lock against two deliveries computing one job at once.

A job task stays thin (STYLE.md): ids as arguments, an explicit name, then the service:

    @shared_task(name="segments.run_segmentation", job_model="segments.SegmentationRun", **JOB_TASK_OPTIONS)
    def run_segmentation(self, run_id):
        run_locked(self, key=f"segments.run:{run_id}", job_id=run_id,
                   work=lambda: services.run_execute(run_id=run_id))
"""

from __future__ import annotations

import contextlib

import redis
from celery import Task
from django.apps import apps
from django.conf import settings
from django.db import InterfaceError, OperationalError

# Only outages that a retry can outlast. Anything else is a bug or bad data: retrying
# would repeat it, so it fails the job at once with its message.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, redis.exceptions.ConnectionError)
MAX_RETRIES = 3


# Renew the lock only if its holder is `owner`: one atomic step, so that two deliveries
# cannot both see "mine" and both take it.
_TAKE_OVER = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('set', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
return false
"""


@contextlib.contextmanager
def job_lock(key: str, *, owner: str, timeout: int):
    """Hold a Redis lock while a job runs; yields False when another job holds it.

    What it guards: two different task messages for one job (a second enqueue of the same
    run) never compute at once. What it lets through: a redelivery of the *same* message
    (same task id), because Redis redelivers a late-acked message only when its worker
    was lost or the visibility timeout (longer than the hard time limit) ran out, so the
    earlier delivery is gone; it takes the lock over instead of waiting out the timeout.
    The database claim (`select_for_update` on the job's row) and the status check in
    job_succeed keep the result correct either way.
    """
    client = redis.Redis.from_url(settings.REDIS_URL)
    lock = client.lock(f"custseg:lock:{key}", timeout=timeout, blocking=False)
    acquired = lock.acquire(token=owner)
    if not acquired and client.eval(_TAKE_OVER, 1, lock.name, owner, timeout):
        lock.local.token = owner.encode()
        acquired = True
    try:
        yield acquired
    finally:
        if acquired:
            with contextlib.suppress(redis.exceptions.LockError):
                lock.release()
        client.close()


class JobTask(Task):
    """Base of the tasks that run a job row: when one ends in an error that its body's
    boundary did not handle (the body itself broke, or its transient-error retries are
    used up), its row must not stay "running". The traceback goes to the worker's log
    (Celery logs it); the row, which every role's page reads, gets a plain sentence. A
    task names its model as `job_model` ("app_label.Model") and may set `failure_text`
    ({error}: the exception's class name) as options of its decorator."""

    job_model = None
    failure_text = "The job stopped with an internal error ({error}). The worker's log has the details."

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        from custseg_site.jobs.lifecycle import job_fail

        job_id = args[0] if args else next(iter(kwargs.values()), None)
        if job_id is not None and self.job_model is not None:
            job_fail(apps.get_model(self.job_model), self.failure_text.format(error=type(exc).__name__), pk=job_id)


# What every job task is: bound (for its delivery's id), acknowledged only when done and
# redelivered when its worker dies, retried with backoff on transient errors only.
JOB_TASK_OPTIONS = {
    "base": JobTask, "bind": True, "acks_late": True, "reject_on_worker_lost": True,
    "autoretry_for": TRANSIENT_ERRORS, "max_retries": MAX_RETRIES, "retry_backoff": 5, "retry_jitter": True,
}


def run_locked(task, *, key: str, job_id: int, work) -> None:
    """work() under the job's Redis lock (job_lock), unless another delivery holds it."""
    with job_lock(key, owner=task.request.id or f"local-{job_id}", timeout=settings.CELERY_TASK_TIME_LIMIT) as acquired:
        if acquired:
            work()
