"""Shared pieces for Celery jobs: the transient errors worth a retry, a run lock, the task
base of job rows, and enqueueing a job."""

from __future__ import annotations

import contextlib
import logging

import redis
from celery import Task, current_app
from django.conf import settings
from django.db import InterfaceError, OperationalError

logger = logging.getLogger(__name__)

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
    The database claim (`select_for_update` on the job's row) and the status check before
    the final write keep the result correct either way.
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
    """Base of the tasks that run a job row (a run, an import, a feature snapshot): when one
    ends in an unexpected error, or its retries are used up, its row must not stay
    "running". The traceback goes to the worker's log (Celery logs it); the row, which every
    role's page reads, gets a plain sentence. A task sets `job_failed` (the service that
    fails the row: job_failed(job_id, error)) and `failure_text` ({error}: the exception's
    class name) as options of its decorator."""

    job_failed = None
    failure_text = "The job stopped with an internal error ({error}). The worker's log has the details."

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        job_id = args[0] if args else next(iter(kwargs.values()), None)
        # read off the class: a function there would bind to the task instance if read off it
        job_failed = type(self).job_failed
        if job_id is not None and job_failed is not None:
            job_failed(job_id, self.failure_text.format(error=type(exc).__name__))


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


def enqueue_or_fail(task, job_id: int, *, mark_failed, error: str, event: str) -> None:
    """Send the job's task (on commit of the row): a task, or a task's name (then the caller
    need not import the tasks module). When the broker cannot be reached the row is
    committed but no job will come: it fails with `error` (words for its page), not the
    request with a 500; `event` names the log line."""
    from kombu.exceptions import OperationalError as BrokerError

    try:
        if isinstance(task, str):
            current_app.send_task(task, args=[job_id])
        else:
            task.delay(job_id)
    except BrokerError:
        logger.exception("%s job_id=%s", event, job_id)
        mark_failed(job_id, error)

