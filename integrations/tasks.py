"""Celery entry points of webhooks: load by id, call the service or the transport. The
services send them by name (integrations.services.webhooks.PUBLISH_TASK, DELIVER_TASK)."""

from celery import shared_task
from django.conf import settings

from custseg_site.jobs.worker import MAX_RETRIES, TRANSIENT_ERRORS
from integrations import transport
from integrations.services import webhooks


class WebhookDeliveryFailed(Exception):
    """The receiver did not answer 2xx in time: the one error a delivery retries on."""


@shared_task(name=webhooks.PUBLISH_TASK, acks_late=True, reject_on_worker_lost=True,
             autoretry_for=TRANSIENT_ERRORS, max_retries=MAX_RETRIES, retry_backoff=5,
             soft_time_limit=600, time_limit=660)
def webhooks_publish(run_id: int, previous_run_id: int) -> None:
    """After a publish: write the deliveries (idempotent) and enqueue each."""
    for delivery in webhooks.publish_notifications(run_id=run_id, previous_run_id=previous_run_id):
        webhook_deliver.delay(delivery.pk)


@shared_task(name=webhooks.DELIVER_TASK, bind=True, acks_late=True, reject_on_worker_lost=True,
             # the row counts attempts and stops at WEBHOOK_MAX_ATTEMPTS; this bound only backs it up
             max_retries=settings.WEBHOOK_MAX_ATTEMPTS, soft_time_limit=60, time_limit=90)
def webhook_deliver(self, delivery_id: int) -> None:
    attempt = transport.webhook_deliver(delivery_id=delivery_id)
    if attempt.retry_in is not None:
        raise self.retry(countdown=attempt.retry_in, exc=WebhookDeliveryFailed(attempt.error))
