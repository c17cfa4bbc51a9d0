"""Celery entry points for segmentation: load by id, call the service."""

from celery import Task, shared_task
from django.conf import settings

from custseg_site.jobs import MAX_RETRIES, TRANSIENT_ERRORS, job_lock
from segments import services


class SegmentationRunTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        # Retries used up, or an unexpected error: the run must not stay "running".
        # The details go to the log (Celery logs the traceback); the run page, which every
        # role reads, gets a plain sentence.
        run_id = kwargs.get("run_id", args[0] if args else None)
        if run_id is not None:
            services.run_mark_failed(
                run_id=run_id,
                error=f"The job stopped with an internal error ({type(exc).__name__}). "
                "The worker's log has the details.",
            )


@shared_task(
    name="segments.run_segmentation",
    base=SegmentationRunTask,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT_ERRORS,
    max_retries=MAX_RETRIES,
    retry_backoff=5,
    retry_jitter=True,
    bind=True,
)
def run_segmentation(self, run_id: int) -> None:
    lock = job_lock(
        f"segments.run:{run_id}", owner=self.request.id or f"local-{run_id}",
        timeout=settings.CELERY_TASK_TIME_LIMIT,
    )
    with lock as acquired:
        if acquired:
            services.run_execute(run_id=run_id)
