"""Celery entry points for campaigns: load by id, call the service."""

from celery import shared_task

from campaigns.services import outcome_imports
from custseg_site.jobs.worker import JOB_TASK_OPTIONS, run_locked


@shared_task(
    name="campaigns.import_outcomes", **JOB_TASK_OPTIONS,
    job_model="campaigns.OutcomeImport",
    failure_text="The import stopped with an internal error ({error}). The worker's log has the details. "
                 "Nothing from it was kept.",
)
def import_outcomes(self, import_id: int) -> None:
    run_locked(self, key=f"campaigns.import_outcomes:{import_id}", job_id=import_id,
               work=lambda: outcome_imports.outcome_import_execute(import_id=import_id))
