"""Writes for segmentation runs: create, execute (the job body), cancel, publish."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict

import pandas as pd
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from custseg_site.bulk import insert_frame
from customers.features import categorical_features
from customers.selectors import (
    feature_catalogue,
    customer_count_estimate,
    customer_count_up_to,
    customer_external_ids,
    customer_feature_frame,
    has_transactions,
)
from segments import ml
from segments.models import Membership, Segment, SegmentationRun

logger = logging.getLogger(__name__)


class RunCancelled(Exception):
    """The run was cancelled while it was being computed."""


MAX_SEED = 2**32 - 1  # numpy's and scikit-learn's bound for a random seed


def run_validate(*, features: list[str], k: int, algorithm: str = "kmeans", seed: int = 0) -> dict:
    """Check a run's options against the data; return the config to store.

    Raises ValidationError with a message per field, meant for the person who asked.
    """
    errors: dict[str, list[str]] = {}
    features = [name.strip() for name in features if name and name.strip()]
    if not features:
        errors.setdefault("features", []).append("Choose at least one feature.")
    catalogue = feature_catalogue()
    unknown = [name for name in features if name not in catalogue]
    if unknown:
        errors.setdefault("features", []).append(
            f"Unknown feature(s): {', '.join(unknown)}. Available: {', '.join(catalogue)}."
        )
    # Until the engine takes SegmentationConfig.categorical (issue 5), k-means gets numbers
    # only: say so here rather than fail the run on "could not convert string to float".
    categorical = categorical_features(features, catalogue)
    if categorical:
        errors.setdefault("features", []).append(
            f"{', '.join(catalogue[name].label for name in categorical)}: categorical features are not "
            "supported by this segmentation engine yet. Choose numeric features."
        )
    if len(set(features)) != len(features):
        errors.setdefault("features", []).append("Each feature can be chosen only once.")
    if algorithm not in ml.ALGORITHMS:
        errors.setdefault("algorithm", []).append(
            f"Unknown algorithm {algorithm!r}. Available: {', '.join(ml.ALGORITHMS)}."
        )
    if k < ml.MIN_K:
        errors.setdefault("k", []).append(f"k must be at least {ml.MIN_K}; got {k}.")
    elif k > ml.MAX_K:
        errors.setdefault("k", []).append(f"k must be at most {ml.MAX_K}; got {k}.")
    if not 0 <= seed <= MAX_SEED:
        errors.setdefault("seed", []).append(f"The seed must be between 0 and {MAX_SEED}.")
    if not errors:
        # Counting stops at k: no COUNT(*) over a million customers for this check.
        customers = customer_count_up_to(k)
        if customers == 0:
            errors.setdefault("__all__", []).append(
                "There are no customers yet. Import customers or load demo data "
                "(python manage.py demo_data) first."
            )
        elif k >= customers:
            errors.setdefault("k", []).append(
                f"k = {k} is more than the {customers:,} customers there are."
                if k > customers else
                f"k = {k} would put each of the {customers:,} customers in a segment of its own."
            )
        needs_purchases = [name for name in features if catalogue[name].needs_transactions]
        if customers and needs_purchases and not has_transactions():
            errors.setdefault("features", []).append(
                f"{', '.join(needs_purchases)} need purchase history, and there are no "
                "transactions yet. Import transactions, or choose age or annual income."
            )
    if errors:
        raise ValidationError(errors)
    return {"algorithm": algorithm, "features": features, "k": k, "seed": seed}


@transaction.atomic
def run_create(
    *,
    features: list[str],
    k: int,
    algorithm: str = "kmeans",
    seed: int = 0,
    name: str = "",
    created_by=None,
) -> SegmentationRun:
    """Validate, store a pending run and enqueue its job once the row is committed."""
    config = run_validate(features=features, k=k, algorithm=algorithm, seed=seed)
    run = SegmentationRun.objects.create(
        name=name.strip() or _default_name(config),
        config=config,
        created_by=created_by if created_by and created_by.is_authenticated else None,
        stage="Waiting for a worker",
    )
    transaction.on_commit(lambda: _enqueue(run.pk))
    logger.info("segments.run_created run_id=%s config=%s", run.pk, config)
    return run


def _default_name(config: dict) -> str:
    catalogue = feature_catalogue()
    labels = [catalogue[name].label if name in catalogue else name for name in config["features"]]
    return f"{config['algorithm']} k={config['k']} on {', '.join(labels)}"[:200]


def _enqueue(run_id: int) -> None:
    from kombu.exceptions import OperationalError as BrokerError

    from segments.tasks import run_segmentation

    try:
        run_segmentation.delay(run_id)
    except BrokerError:
        # The row is committed but no job will come: say so on the run, not with a 500.
        logger.exception("segments.run_enqueue_failed run_id=%s", run_id)
        run_mark_failed(
            run_id=run_id,
            error="The job queue (Redis) could not be reached, so the run was not started. "
            "Check that Redis and a worker are running, then start the run again.",
        )


def _set_progress(run_id: int, percent: int, stage: str) -> None:
    """Record progress; raise RunCancelled when the run is no longer running."""
    updated = SegmentationRun.objects.filter(
        pk=run_id, status=SegmentationRun.Status.RUNNING
    ).update(progress=max(0, min(100, percent)), stage=stage[:200])
    if not updated:
        raise RunCancelled


# A run whose worker died this many times is failed instead of being tried again:
# the same data would most likely kill the next worker too.
MAX_ATTEMPTS = 3


def _claim(run_id: int) -> SegmentationRun | None:
    with transaction.atomic():
        run = SegmentationRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status not in SegmentationRun.ACTIVE_STATUSES:
            # Redelivered or cancelled: the work is done or not wanted.
            return None
        if run.attempts >= MAX_ATTEMPTS:
            run.status, run.stage = SegmentationRun.Status.FAILED, "Failed"
            run.error = (
                f"The worker stopped {run.attempts} times while computing this run "
                "(out of memory, or killed). Try fewer customers or features, or a "
                "worker with more memory."
            )
            run.finished_at = timezone.now()
            run.save(update_fields=["status", "stage", "error", "finished_at"])
            logger.warning("segments.run_failed run_id=%s error=%s", run_id, run.error)
            return None
        run.status = SegmentationRun.Status.RUNNING
        run.started_at = run.started_at or timezone.now()
        run.attempts += 1
        run.progress, run.stage, run.error = 1, "Starting", ""
        run.save(update_fields=["status", "started_at", "attempts", "progress", "stage", "error"])
        return run


def run_execute(*, run_id: int) -> None:
    """The job: load features, segment, write segments and memberships in one transaction.

    Safe to call twice: a run that is already finished is left alone. Errors that are
    about the data end the run as failed with a readable message; database and broker
    outages propagate so the task can retry.
    """
    from celery.exceptions import SoftTimeLimitExceeded

    run = _claim(run_id)
    if run is None:
        logger.info("segments.run_skipped run_id=%s", run_id)
        return
    started = time.monotonic()
    logger.info("segments.run_started run_id=%s attempt=%s", run_id, run.attempts)
    try:
        config = ml.SegmentationConfig(
            features=tuple(run.config["features"]),
            k=int(run.config["k"]),
            algorithm=run.config.get("algorithm", "kmeans"),
            seed=int(run.config.get("seed", 0)),
            silhouette_sample=settings.SEGMENTS_SILHOUETTE_SAMPLE,
            scatter_sample=settings.SEGMENTS_SCATTER_SAMPLE,
        )
        _set_progress(run_id, 2, "Loading customer features")
        total = max(customer_count_estimate(), 1)

        def loading(rows: int) -> None:
            # loading is the first 2-10 % of the job; checks for cancel as it goes
            _set_progress(run_id, 2 + 8 * min(rows, total) // total, f"Loading customer features: {rows:,} of {total:,}")

        frame = customer_feature_frame(features=config.features, progress=loading)
        loaded = time.monotonic()

        def report(percent: int, stage: str) -> None:
            # the engine's 0-100 maps onto 10-85 of the whole job
            _set_progress(run_id, 10 + percent * 75 // 100, stage)

        result = ml.segment(frame, config, progress=report)
        fitted = time.monotonic()
        _set_progress(run_id, 88, f"Writing {len(frame):,} memberships")
        _persist(run_id, frame.index, result, timings={
            "load_seconds": round(loaded - started, 3),
            "segment_seconds": round(fitted - loaded, 3),
        }, started=started)
    except RunCancelled:
        logger.info("segments.run_cancelled run_id=%s", run_id)
    except (ml.SegmentationError, KeyError, ValueError) as exc:
        run_mark_failed(run_id=run_id, error=str(exc))
    except IntegrityError:
        logger.exception("segments.run_integrity_error run_id=%s", run_id)
        run_mark_failed(
            run_id=run_id,
            error="Customers were deleted while this run was computed. Start it again.",
        )
    except SoftTimeLimitExceeded:
        run_mark_failed(run_id=run_id, error="The run took longer than its time limit.")


def _persist(run_id, customer_ids: pd.Index, result: ml.SegmentationResult, *, timings, started):
    """Write segments, memberships and the result in one transaction.

    The run's row is locked only at the end, after the bulk insert and its foreign-key
    checks, so a cancel request does not wait behind a million-row write.
    """
    with transaction.atomic():
        segments = Segment.objects.bulk_create(
            [
                Segment(
                    run_id=run_id,
                    index=profile.index,
                    size=profile.size,
                    label=profile.label,
                    profile={
                        "share": profile.share,
                        "centroid": profile.centroid,
                        "mean": profile.mean,
                        "median": profile.median,
                        "zscore": profile.zscore,
                    },
                )
                for profile in result.segments
            ]
        )
        segment_ids = pd.Series([s.pk for s in segments], index=[s.index for s in segments])
        if segment_ids.isna().any():  # a backend that does not return ids from bulk inserts
            segment_ids = pd.Series(
                dict(Segment.objects.filter(run_id=run_id).values_list("index", "pk"))
            )
        memberships = pd.DataFrame(
            {
                "run_id": run_id,
                "segment_id": segment_ids.reindex(result.labels).to_numpy(),
                "customer_id": customer_ids.to_numpy(),
            }
        )
        write_started = time.monotonic()
        insert_frame(Membership, memberships)
        if connection.vendor == "postgresql":
            # Check the deferred foreign keys now rather than at commit, while the run's
            # row is not locked yet: a customer deleted meanwhile fails here. (SQLite
            # checks them at commit cheaply, and serialises writers anyway.)
            connection.check_constraints()
        write_seconds = time.monotonic() - write_started

        projection = asdict(result.projection)
        # The scatter's hover shows who each point is: look up the sampled customers' ids
        # now, so the page never has to.
        sampled = customer_ids.to_numpy()[projection.pop("row")]
        external_ids = customer_external_ids(ids=sampled.tolist())
        projection["external_id"] = [external_ids.get(int(pk), "") for pk in sampled]

        run = SegmentationRun.objects.select_for_update().get(pk=run_id)
        if run.status != SegmentationRun.Status.RUNNING:
            raise RunCancelled  # rolls the writes back
        run.projection = projection
        run.metrics = {
            **result.metrics,
            "timings": {
                **timings,
                "write_seconds": round(write_seconds, 3),
                "total_seconds": round(time.monotonic() - started, 3),
            },
            "sizes": [profile.size for profile in result.segments],
        }
        run.status = SegmentationRun.Status.SUCCEEDED
        run.progress, run.stage = 100, "Done"
        run.finished_at = timezone.now()
        run.save()
    logger.info("segments.run_succeeded run_id=%s sizes=%s", run_id, run.metrics["sizes"])


def run_mark_failed(*, run_id: int, error: str) -> None:
    """End a run as failed with a message; a finished run keeps its state."""
    updated = SegmentationRun.objects.filter(
        pk=run_id, status__in=SegmentationRun.ACTIVE_STATUSES
    ).update(
        status=SegmentationRun.Status.FAILED,
        error=error[:2000],
        stage="Failed",
        finished_at=timezone.now(),
    )
    if updated:
        logger.warning("segments.run_failed run_id=%s error=%s", run_id, error)


def run_cancel(*, run: SegmentationRun) -> bool:
    """Cancel a pending or running run; the worker stops at its next progress report."""
    updated = SegmentationRun.objects.filter(
        pk=run.pk, status__in=SegmentationRun.ACTIVE_STATUSES
    ).update(
        status=SegmentationRun.Status.CANCELLED,
        stage="Cancelled",
        finished_at=timezone.now(),
    )
    return bool(updated)


class PublishError(Exception):
    pass


# Any fixed number: the key of the PostgreSQL advisory lock that serialises publishing.
PUBLISH_LOCK_KEY = 7_301_001


@transaction.atomic
def run_publish(*, run: SegmentationRun) -> SegmentationRun:
    """Make `run` the published run: dashboards and membership reads use it from now on."""
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
    SegmentationRun.objects.filter(published=True).update(published=False)
    run.published, run.published_at = True, timezone.now()
    run.save(update_fields=["published", "published_at"])
    logger.info("segments.run_published run_id=%s", run.pk)
    return run
