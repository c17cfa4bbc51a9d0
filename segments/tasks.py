"""Celery entry points for segmentation: load by id, call the service."""

from celery import shared_task

from custseg_site.jobs import JOB_TASK_OPTIONS, run_locked
from segments import services


@shared_task(
    name="segments.run_segmentation", **JOB_TASK_OPTIONS,
    job_failed=lambda run_id, error: services.run_mark_failed(run_id=run_id, error=error),
)
def run_segmentation(self, run_id: int) -> None:
    run_locked(self, key=f"segments.run:{run_id}", job_id=run_id, work=lambda: services.run_execute(run_id=run_id))
