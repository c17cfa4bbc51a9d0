"""Every status transition of a job row, in one place: enqueue, claim, progress, succeed,
fail, cancel, and the error boundary of a job's body. Nothing else writes a job's status.

    job = Model.objects.create(...)          # pending, in the caller's transaction
    job_enqueue(job)                         # its task is sent by name once committed
    # in the worker (a task calls the service, the service does this):
    job = job_claim(Model, pk)               # None: finished, cancelled or gone: return quietly
    with job_boundary(job, user_errors=(DomainError,)):
        job_progress(job, 40, "Reading")     # raises JobCancelled once the job is cancelled
        with transaction.atomic():
            ...write the results...
            job_succeed(job, counts=...)     # the results land with the success, or not at all
"""

from __future__ import annotations

import contextlib
import logging

from celery import current_app
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from custseg_site.jobs.models import ACTIVE_STATUSES, JobStatus
from custseg_site.jobs.worker import MAX_RETRIES, TRANSIENT_ERRORS

logger = logging.getLogger(__name__)

# A job is claimed once per delivery of its task: the first, up to MAX_RETRIES retries after
# a transient error (custseg_site.jobs.worker), and a redelivery when its worker died. Past
# this many claims it fails instead of being tried again: the budget of retries plus one
# death; a second death with the same data would most likely kill the next worker too.
MAX_ATTEMPTS = MAX_RETRIES + 2
# The message of a job that ran out of claims ({noun}: "this import"; {attempts}: how many).
GAVE_UP = ("Started {attempts} times without finishing {noun}: the worker stopped (out of memory, or killed) "
           "or the database or Redis could not be reached. The worker's log has the details.")
BROKER_DOWN = ("The job queue (Redis) could not be reached, so {noun} did not start. Check that Redis and a "
               "worker are running, then try again.")
TIMED_OUT = "{Noun} took longer than its time limit."
# A bug or an unforeseen state: the traceback goes to the log, the page gets this sentence.
INTERNAL_ERROR = "An internal error stopped {noun}; the log has the details."
# Longest error message kept on a row.
ERROR_CHARS = 2000


class JobCancelled(Exception):
    """The job was cancelled (or finished by someone else) while it ran: stop, write nothing."""


def _model_and_pk(job, pk):
    return (type(job), job.pk) if pk is None else (job, pk)


def job_enqueue(job) -> None:
    """Send the job's task by name once the current transaction commits. When the broker
    cannot be reached the row is committed but no worker will come: it fails with a
    sentence for its page instead of the request failing with a 500."""
    model, pk, task_name = type(job), job.pk, job.task_name

    def send():
        from kombu.exceptions import OperationalError as BrokerError

        try:
            current_app.send_task(task_name, args=[pk])
        except BrokerError:
            logger.exception("jobs.enqueue_failed task=%s job_id=%s", task_name, pk)
            job_fail(model, model.JOB_BROKER_DOWN or BROKER_DOWN.format(noun=model.JOB_NOUN), pk=pk)

    transaction.on_commit(send)


def job_claim(model, pk: int, *, gave_up: str | None = None):
    """Mark a pending (or redelivered running) job as running and return its row; None when
    it is gone, finished or cancelled (a redelivery returns quietly), or when it has been
    claimed MAX_ATTEMPTS times (then it fails with `gave_up`, default GAVE_UP)."""
    with transaction.atomic():
        row = model.objects.select_for_update().filter(pk=pk).first()
        if row is None or row.status not in ACTIVE_STATUSES:
            return None
        if row.attempts >= MAX_ATTEMPTS:
            row.status, row.stage, row.finished_at = JobStatus.FAILED, "Failed", timezone.now()
            row.error = (gave_up or GAVE_UP).format(attempts=row.attempts, noun=model.JOB_NOUN)
            row.save(update_fields=["status", "stage", "finished_at", "error"])
            logger.warning("jobs.gave_up model=%s job_id=%s attempts=%s", model.__name__, pk, row.attempts)
            return None
        row.status, row.stage, row.progress, row.error = JobStatus.RUNNING, "Starting", 1, ""
        row.attempts += 1
        row.started_at = row.started_at or timezone.now()
        row.save(update_fields=["status", "stage", "progress", "error", "attempts", "started_at"])
    return row


def job_progress(job, percent: int, stage: str, *, pk: int | None = None, **fields) -> None:
    """Record progress (and any counts in `fields`) in one short UPDATE; raise JobCancelled
    when the job is no longer running. `job` is a row, or a model with `pk`."""
    model, pk = _model_and_pk(job, pk)
    updated = model.objects.filter(pk=pk, status=JobStatus.RUNNING).update(
        progress=max(0, min(100, percent)), stage=stage[:200], **fields
    )
    if not updated:
        raise JobCancelled


def job_succeed(job, *, pk: int | None = None, **results):
    """Mark a running job succeeded with its results, locking its row. Call it inside the
    transaction that writes what the job made, so both land together; raises JobCancelled
    (rolling that transaction back) when the job was cancelled meanwhile. The one place
    that writes "succeeded"."""
    model, pk = _model_and_pk(job, pk)
    with transaction.atomic():
        row = model.objects.select_for_update().get(pk=pk)
        if row.status != JobStatus.RUNNING:
            raise JobCancelled
        for name, value in results.items():
            setattr(row, name, value)
        row.status, row.progress, row.stage, row.finished_at = JobStatus.SUCCEEDED, 100, "Done", timezone.now()
        row.save(update_fields=["status", "progress", "stage", "finished_at", *results])
    logger.info("jobs.succeeded model=%s job_id=%s", model.__name__, pk)
    return row


def job_fail(job, sentence: str, *, pk: int | None = None) -> bool:
    """End a job that has not finished as failed, with a sentence for the people who read
    its page, then run its model's JOB_CLEANUP (staged rows, a stored upload): wherever it
    fails (its body, the task's last failure, the enqueue). False when it had already
    finished."""
    model, pk = _model_and_pk(job, pk)
    updated = model.objects.filter(pk=pk, status__in=ACTIVE_STATUSES).update(
        status=JobStatus.FAILED, error=sentence[:ERROR_CHARS], stage="Failed", finished_at=timezone.now()
    )
    if updated:
        logger.warning("jobs.failed model=%s job_id=%s error=%s", model.__name__, pk, sentence)
        if model.JOB_CLEANUP:
            import_string(model.JOB_CLEANUP)(pk)
    return bool(updated)


def job_cancel(job, *, pk: int | None = None) -> bool:
    """Cancel a pending or running job; False when it had already finished. A running job
    stops at its next progress report or at job_succeed, whichever comes first."""
    model, pk = _model_and_pk(job, pk)
    updated = model.objects.filter(pk=pk, status__in=ACTIVE_STATUSES).update(
        status=JobStatus.CANCELLED, stage="Cancelled", finished_at=timezone.now()
    )
    if updated:
        logger.info("jobs.cancelled model=%s job_id=%s", model.__name__, pk)
    return bool(updated)


@contextlib.contextmanager
def job_boundary(job, *, user_errors: tuple[type[BaseException], ...] = (), on_stop=None, timed_out: str = ""):
    """Where a job's body meets the world: the domain's own errors (`user_errors`) fail the
    job with their message; a cancel ends it quietly; the soft time limit fails it with a
    sentence (`timed_out`, else the model's); transient outages (database, broker)
    propagate so the task retries; anything else is a bug: logged with its traceback, and
    the job fails with a plain sentence. `on_stop()` runs after any ending but success (to
    drop staged rows, say). An error after the job's success committed (in what follows
    it: pruning, statistics) is logged and leaves the success and its results alone."""
    from celery.exceptions import SoftTimeLimitExceeded

    model, pk, noun = type(job), job.pk, type(job).JOB_NOUN
    try:
        yield
    except JobCancelled:
        # again, in case the cancel was written in the transaction that JobCancelled rolled
        # back (the cancel of a job run in the request that cancels it); else a no-op
        job_cancel(model, pk=pk)
        logger.info("jobs.stopped_cancelled model=%s job_id=%s", model.__name__, pk)
        _stop(on_stop)
    except TRANSIENT_ERRORS:
        raise
    except Exception as error:  # SoftTimeLimitExceeded is one too
        if model.objects.filter(pk=pk, status=JobStatus.SUCCEEDED).exists():
            logger.exception("jobs.error_after_success model=%s job_id=%s", model.__name__, pk)
            return
        if isinstance(error, SoftTimeLimitExceeded):
            sentence = timed_out or model.JOB_TIMED_OUT or TIMED_OUT.format(Noun=noun[:1].upper() + noun[1:])
        elif isinstance(error, user_errors):
            sentence = " ".join(error.messages) if isinstance(error, ValidationError) else str(error)
        else:
            logger.exception("jobs.internal_error model=%s job_id=%s", model.__name__, pk)
            sentence = INTERNAL_ERROR.format(noun=noun)
        job_fail(model, sentence, pk=pk)
        _stop(on_stop)


def _stop(on_stop) -> None:
    if on_stop is not None:
        on_stop()
