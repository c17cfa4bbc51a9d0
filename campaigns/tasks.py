"""Celery entry points for campaigns: load by id, call the service."""

from celery import Task, shared_task
from django.conf import settings

from campaigns.services import outcomes
from custseg_site.jobs import MAX_RETRIES, TRANSIENT_ERRORS, job_lock


class OutcomeImportTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        import_id = kwargs.get("import_id", args[0] if args else None)
        if import_id is not None:
            outcomes.outcome_import_mark_failed(
                import_id=import_id,
                error=f"The import stopped with an internal error ({type(exc).__name__}). "
                "The worker's log has the details. Nothing from it was kept.",
            )


@shared_task(
    name="campaigns.import_outcomes",
    base=OutcomeImportTask,
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT_ERRORS,
    max_retries=MAX_RETRIES,
    retry_backoff=5,
    retry_jitter=True,
)
def import_outcomes(self, import_id: int) -> None:
    lock = job_lock(
        f"campaigns.import_outcomes:{import_id}", owner=self.request.id or f"local-{import_id}",
        timeout=settings.CELERY_TASK_TIME_LIMIT,
    )
    with lock as acquired:
        if acquired:
            outcomes.outcome_import_execute(import_id=import_id)
