"""Celery entry points for segmentation: load by id, call the service."""

from celery import shared_task

from custseg_site.jobs.worker import JOB_TASK_OPTIONS, run_locked
from segments import services


@shared_task(name="segments.run_segmentation", job_model="segments.SegmentationRun", **JOB_TASK_OPTIONS)
def run_segmentation(self, run_id: int) -> None:
    run_locked(self, key=f"segments.run:{run_id}", job_id=run_id, work=lambda: services.run_execute(run_id=run_id))
