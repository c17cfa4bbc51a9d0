"""Celery entry points of the project glue."""

from celery import shared_task

from custseg_site.jobs.worker import MAX_RETRIES, TRANSIENT_ERRORS


# Only reads, and a repeat finds everything cached: a duplicate or redelivered message is
# harmless, so no lock. 30 minutes covers a million customers' aggregates many times over.
@shared_task(name="custseg_site.warm_page_caches", acks_late=True, reject_on_worker_lost=True,
             autoretry_for=TRANSIENT_ERRORS, max_retries=MAX_RETRIES, retry_backoff=5,
             soft_time_limit=1800, time_limit=1860)
def warm_page_caches() -> None:
    from custseg_site import warm

    warm.page_caches_warm()
