"""Celery entry points for imports: load by id, call the service."""

from celery import Task, shared_task
from django.conf import settings

from custseg_site.jobs import MAX_RETRIES, TRANSIENT_ERRORS, job_lock
from customers.services import features, imports


class ImportTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        job_id = kwargs.get("job_id", args[0] if args else None)
        if job_id is not None:
            imports.import_mark_failed(
                job_id=job_id,
                error=f"The import stopped with an internal error ({type(exc).__name__}). "
                "The worker's log has the details.",
            )


@shared_task(
    name="customers.import_file",
    base=ImportTask,
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT_ERRORS,
    max_retries=MAX_RETRIES,
    retry_backoff=5,
    retry_jitter=True,
)
def import_file(self, job_id: int) -> None:
    lock = job_lock(
        f"customers.import:{job_id}", owner=self.request.id or f"local-{job_id}",
        timeout=settings.CELERY_TASK_TIME_LIMIT,
    )
    with lock as acquired:
        if acquired:
            imports.import_execute(job_id=job_id)


class FeaturesTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        snapshot_id = kwargs.get("snapshot_id", args[0] if args else None)
        if snapshot_id is not None:
            features.features_mark_failed(
                snapshot_id=snapshot_id,
                error=f"Computing the features stopped with an internal error ({type(exc).__name__}). "
                "The worker's log has the details.",
            )


@shared_task(
    name="customers.compute_features",
    base=FeaturesTask,
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT_ERRORS,
    max_retries=MAX_RETRIES,
    retry_backoff=5,
    retry_jitter=True,
)
def compute_features(self, snapshot_id: int) -> None:
    lock = job_lock(
        # one feature job at a time, whichever snapshot: two would read and write the same rows
        "customers.features", owner=self.request.id or f"local-{snapshot_id}",
        timeout=settings.CELERY_TASK_TIME_LIMIT,
    )
    with lock as acquired:
        if acquired:
            features.features_execute(snapshot_id=snapshot_id)
