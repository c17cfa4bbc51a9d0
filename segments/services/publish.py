"""Publishing a finished run: dashboards and the membership API read it from then on."""

from __future__ import annotations

import functools
import logging

from django.db import connection, transaction
from django.utils import timezone

from custseg_site.warm import page_caches_warm_enqueue
from integrations.services import webhooks
from segments.models import SegmentationRun
from segments.personas.services import personas_relink, run_publication_record

logger = logging.getLogger(__name__)


class PublishError(Exception):
    pass


# Any fixed number: the key of the PostgreSQL advisory lock that serialises publishing.
PUBLISH_LOCK_KEY = 7_301_001


@transaction.atomic
def run_publish(*, run: SegmentationRun, by=None) -> SegmentationRun:
    """Make `run` the published run: dashboards and membership reads use it from now on.
    Records the publication period and re-links personas to the new segments, in the
    same transaction."""
    if connection.vendor == "postgresql":
        # Two publishes at once would each clear the old flag and set their own; one at a
        # time. (SQLite serialises write transactions by itself.)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [PUBLISH_LOCK_KEY])
    run = SegmentationRun.objects.select_for_update().get(pk=run.pk)
    if run.status != SegmentationRun.Status.SUCCEEDED:
        raise PublishError(f"Only a finished run can be published; this one is {run.status}.")
    if run.published:
        return run
    previous_run_id = SegmentationRun.objects.filter(published=True).values_list("pk", flat=True).first()
    SegmentationRun.objects.filter(published=True).update(published=False)
    run.published, run.published_at = True, timezone.now()
    run.save(update_fields=["published", "published_at"])
    run_publication_record(run=run, by=by, at=run.published_at)
    personas_relink(run=run, by=by)
    # integrations' webhooks: which personas' members changed, worked out by a job
    transaction.on_commit(functools.partial(webhooks.publish_enqueue, run_id=run.pk, previous_run_id=previous_run_id))
    # the persona cards and Sankeys of the new links, computed before the first visitor
    transaction.on_commit(page_caches_warm_enqueue)
    logger.info("segments.run_published run_id=%s", run.pk)
    return run


