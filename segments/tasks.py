"""Celery entry points for segmentation: load by id, call the service."""

from celery import shared_task
from django.conf import settings

from custseg_site.jobs.worker import JOB_TASK_OPTIONS, MAX_RETRIES, TRANSIENT_ERRORS, run_locked
from segments import services


@shared_task(name="segments.run_segmentation", job_model="segments.SegmentationRun", **JOB_TASK_OPTIONS)
def run_segmentation(self, run_id: int) -> None:
    run_locked(self, key=f"segments.run:{run_id}", job_id=run_id, work=lambda: services.run_execute(run_id=run_id))


class WebhookDeliveryFailed(Exception):
    """The receiver did not answer 2xx in time: the one error a delivery retries on."""


@shared_task(name="segments.webhooks_publish", acks_late=True, reject_on_worker_lost=True,
             autoretry_for=TRANSIENT_ERRORS, max_retries=MAX_RETRIES, retry_backoff=5,
             soft_time_limit=600, time_limit=660)
def webhooks_publish(run_id: int, previous_run_id: int) -> None:
    """After a publish: write the deliveries (idempotent) and enqueue each."""
    from segments import webhooks

    for delivery in webhooks.publish_notifications(run_id=run_id, previous_run_id=previous_run_id):
        webhook_deliver.delay(delivery.pk)


@shared_task(name="segments.webhook_deliver", bind=True, acks_late=True, reject_on_worker_lost=True,
             # the row counts attempts and stops at WEBHOOK_MAX_ATTEMPTS; this bound only backs it up
             max_retries=settings.WEBHOOK_MAX_ATTEMPTS, soft_time_limit=60, time_limit=90)
def webhook_deliver(self, delivery_id: int) -> None:
    from segments import webhooks

    attempt = webhooks.webhook_deliver(delivery_id=delivery_id)
    if attempt.retry_in is not None:
        raise self.retry(countdown=attempt.retry_in, exc=WebhookDeliveryFailed(attempt.error))
