"""TEMPORARY: the old job-row functions over custseg_site.jobs.lifecycle, until the import
pipeline moves to the kernel (deleted in the same change)."""

from custseg_site.jobs import lifecycle
from custseg_site.jobs.lifecycle import MAX_ATTEMPTS, job_claim  # noqa: F401

GAVE_UP = ("Started {{attempts}} times without finishing {what}: the worker stopped (out of memory, or killed) "
           "or the database or Redis could not be reached. The worker's log has the details.")


def job_progress(model, pk, percent, stage, **fields) -> bool:
    try:
        lifecycle.job_progress(model, percent, stage, pk=pk, **fields)
    except lifecycle.JobCancelled:
        return False
    return True


def job_mark_failed(model, pk, *, error):
    return lifecycle.job_fail(model, error, pk=pk)


def job_cancel(model, pk):
    return lifecycle.job_cancel(model, pk=pk)
