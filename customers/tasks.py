"""Celery entry points for imports and feature snapshots: load by id, call the service."""

from celery import shared_task

from customers.services import features, imports
from custseg_site.jobs.worker import JOB_TASK_OPTIONS, run_locked


@shared_task(
    name="customers.import_file", **JOB_TASK_OPTIONS,
    job_model="customers.ImportJob",
    failure_text="The import stopped with an internal error ({error}). The worker's log has the details.",
)
def import_file(self, job_id: int) -> None:
    run_locked(self, key=f"customers.import:{job_id}", job_id=job_id,
               work=lambda: imports.import_execute(job_id=job_id))


@shared_task(
    name="customers.compute_features", **JOB_TASK_OPTIONS,
    job_model="customers.FeatureSnapshot",
    failure_text="Computing the features stopped with an internal error ({error}). The worker's log has the details.",
)
def compute_features(self, snapshot_id: int) -> None:
    # one feature job at a time, whichever snapshot: two would read and write the same rows
    run_locked(self, key="customers.features", job_id=snapshot_id,
               work=lambda: features.features_execute(snapshot_id=snapshot_id))
