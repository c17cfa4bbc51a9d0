"""Status transitions of a job row (an import, a feature snapshot): claim, progress, fail,
cancel. The row is the job's state; these are the only writes that move it.

A job model has the fields status (custseg_site.job_status.JobStatus), progress, stage,
error, attempts, started_at and finished_at.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from custseg_site.job_status import ACTIVE_STATUSES, JobStatus
from custseg_site.jobs import MAX_RETRIES

# A job is claimed once per delivery of its task: the first, up to MAX_RETRIES retries after
# a transient error (custseg_site.jobs), and a redelivery when its worker died. Past this
# many claims it fails instead of being tried again: the budget of retries plus one death;
# a second death with the same data would most likely kill the next worker too.
MAX_ATTEMPTS = MAX_RETRIES + 2
# The message of a job that ran out of claims ({what}: "this import"; {attempts} is filled in
# by job_claim).
GAVE_UP = ("Started {{attempts}} times without finishing {what}: the worker stopped (out of memory, or killed) "
           "or the database or Redis could not be reached. The worker's log has the details.")


def job_claim(model, pk: int, *, gave_up: str):
    """Mark a pending (or redelivered running) job as running and return its row; None when
    it is gone or finished, or when its worker has died MAX_ATTEMPTS times (then it fails
    with `gave_up`, which may name {attempts})."""
    with transaction.atomic():
        row = model.objects.select_for_update().filter(pk=pk).first()
        if row is None or row.status not in ACTIVE_STATUSES:
            return None
        if row.attempts >= MAX_ATTEMPTS:
            row.status, row.stage, row.finished_at = JobStatus.FAILED, "Failed", timezone.now()
            row.error = gave_up.format(attempts=row.attempts)
            row.save(update_fields=["status", "stage", "finished_at", "error"])
            return None
        row.status, row.stage, row.progress = JobStatus.RUNNING, "Starting", 1
        row.attempts += 1
        row.started_at = row.started_at or timezone.now()
        row.save(update_fields=["status", "stage", "progress", "attempts", "started_at"])
    return row


def job_progress(model, pk: int, percent: int, stage: str, **fields) -> bool:
    """Record progress; False when the job is no longer running (it was cancelled)."""
    return bool(model.objects.filter(pk=pk, status=JobStatus.RUNNING).update(
        progress=max(0, min(100, percent)), stage=stage[:200], **fields
    ))


def job_mark_failed(model, pk: int, *, error: str) -> bool:
    """Fail a job that has not finished, with a message for the people who read its page."""
    return bool(model.objects.filter(pk=pk, status__in=ACTIVE_STATUSES).update(
        status=JobStatus.FAILED, error=error[:2000], stage="Failed", finished_at=timezone.now()
    ))


def job_cancel(model, pk: int) -> bool:
    """Cancel a pending or running job; False when it had already finished."""
    return bool(model.objects.filter(pk=pk, status__in=ACTIVE_STATUSES).update(
        status=JobStatus.CANCELLED, stage="Cancelled", finished_at=timezone.now()
    ))
