"""The job of a segmentation run: load features, segment, keep the fitted model, write
segments and memberships with the run's success in one transaction."""

from __future__ import annotations

import io
import logging
import time
from dataclasses import asdict

import joblib
import numpy as np
import pandas as pd
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, transaction

from customers.features import categorical_features
from customers.selectors import (
    customer_count_estimate,
    customer_external_ids,
    customer_feature_frame,
    feature_catalogue,
    has_transactions,
)
from custseg_site.bulk import insert_frame, refresh_statistics
from custseg_site.jobs.lifecycle import job_boundary, job_claim, job_progress, job_succeed
from custseg_site.json_safe import json_safe
from segments import ml
from segments.models import Membership, Segment, SegmentationRun
from segments.options import engine_config

logger = logging.getLogger(__name__)

# What a run that ran out of claims says (custseg_site.jobs.lifecycle.MAX_ATTEMPTS).
GAVE_UP = ("The run was started {attempts} times without finishing: its worker stopped (out of memory, or killed) "
           "or the database or Redis could not be reached. Try fewer customers or features, or a worker with more "
           "memory.")


class RunDataChanged(Exception):
    """The customers changed under the run (deleted while it computed): start it again."""


# Revenue per segment (share of revenue on the run page) is the customers' net spend.
REVENUE_FEATURE = "monetary"
# Purchase occasions: a customer with none has no purchase to measure recency and the
# other purchase features from, and is left out of runs on those features.
PURCHASES_FEATURE = "frequency"


def purchases_column(features: list[str], catalogue: dict) -> str | None:
    """The column that tells buyers from customers who never bought, for a run on `features`;
    None when no chosen feature comes from purchases (age, income, ...: everyone counts)."""
    if PURCHASES_FEATURE not in catalogue:
        return None
    if any(catalogue[name].needs_transactions for name in features if name in catalogue):
        return PURCHASES_FEATURE
    return None


def run_execute(*, run_id: int) -> None:
    """The job: load features, segment, write segments and memberships in one transaction.

    Safe to call twice: a run that is already finished is left alone. Errors that are
    about the data end the run as failed with a readable message; database and broker
    outages propagate so the task can retry (custseg_site.jobs.lifecycle.job_boundary).
    """
    run = job_claim(SegmentationRun, run_id, gave_up=GAVE_UP)
    if run is None:
        logger.info("segments.run_skipped run_id=%s", run_id)
        return
    logger.info("segments.run_started run_id=%s attempt=%s", run_id, run.attempts)
    with job_boundary(run, user_errors=(ml.SegmentationError, RunDataChanged)):
        _compute(run)


def _compute(run: SegmentationRun) -> None:
    started = time.monotonic()
    catalogue = feature_catalogue()
    features = list(run.config["features"])
    categorical = categorical_features(features, catalogue)
    revenue = REVENUE_FEATURE if REVENUE_FEATURE in catalogue and has_transactions() else None
    purchases = purchases_column(features, catalogue)
    config = engine_config(
        run.config, categorical=categorical, revenue=revenue, purchases=purchases,
        feature_labels={name: definition.label for name, definition in catalogue.items()},
        silhouette_sample=settings.SEGMENTS_SILHOUETTE_SAMPLE,
        scatter_sample=settings.SEGMENTS_SCATTER_SAMPLE,
    )
    job_progress(run, 2, "Loading customer features")
    total = max(customer_count_estimate(), 1)

    def loading(rows: int) -> None:
        # loading is the first 2-10 % of the job; checks for cancel as it goes
        job_progress(run, 2 + 8 * min(rows, total) // total, f"Loading customer features: {rows:,} of {total:,}")

    columns = features + [name for name in dict.fromkeys((revenue, purchases)) if name and name not in features]
    frame = customer_feature_frame(features=columns, progress=loading)
    loaded = time.monotonic()

    def report(percent: int, stage: str) -> None:
        # the engine's 0-100 maps onto 10-85 of the whole job
        job_progress(run, 10 + percent * 75 // 100, stage)

    result = ml.segment(frame, config, progress=report)
    fitted = time.monotonic()
    job_progress(run, 86, "Saving the fitted model")
    model_name = _save_model(run.pk, result.model)
    job_progress(run, 88, f"Writing {int((result.labels >= 0).sum()):,} memberships")
    try:
        _persist(run.pk, frame.index, result, model_name=model_name, timings={
            "load_seconds": round(loaded - started, 3),
            "segment_seconds": round(fitted - loaded, 3),
        }, started=started)
    except IntegrityError as error:
        logger.exception("segments.run_integrity_error run_id=%s", run.pk)
        raise RunDataChanged("Customers were deleted while this run was computed. Start it again.") from error


def _model_path(run_id: int) -> str:
    return f"segmentation-models/run-{run_id}.joblib"


def _save_model(run_id: int, model) -> str:
    """Store the fitted preprocessing and model with the run (media storage), for assigning
    new customers later. A redelivered job overwrites the file of its earlier attempt."""
    if model is None:
        return ""
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    name = _model_path(run_id)
    if default_storage.exists(name):
        default_storage.delete(name)
    return default_storage.save(name, ContentFile(buffer.getvalue()))


def _segment_row(run_id: int, profile) -> Segment:
    return Segment(
        run_id=run_id,
        index=profile.index,
        size=profile.size,
        label=profile.label,
        is_noise=profile.is_noise,
        stability=profile.stability,
        revenue_share=profile.revenue_share,
        rules=[asdict(rule) for rule in profile.rules],
        profile={
            "share": profile.share,
            "centroid": profile.centroid,
            "mean": profile.mean,
            "median": profile.median,
            "zscore": profile.zscore,
            "categories": profile.categories,
            "top_features": [[name, z] for name, z in profile.top_features],
        },
    )


def _persist(run_id, customer_ids: pd.Index, result, *, model_name: str, timings, started):
    """Write segments, memberships and the result in one transaction.

    The run's row is locked only at the end, after the bulk insert and its foreign-key
    checks, so a cancel request does not wait behind a million-row write.
    """
    with transaction.atomic():
        segments = Segment.objects.bulk_create([_segment_row(run_id, p) for p in result.segments])
        segment_ids = pd.Series([s.pk for s in segments], index=[s.index for s in segments])
        if segment_ids.isna().any():  # a backend that does not return ids from bulk inserts
            segment_ids = pd.Series(
                dict(Segment.objects.filter(run_id=run_id).values_list("index", "pk"))
            )
        labels = np.asarray(result.labels)
        kept = labels >= 0  # customers left out for missing values have no membership
        distance = np.asarray(result.distance, dtype="float64")[kept]
        nearest = np.asarray(result.nearest_other)[kept]
        memberships = pd.DataFrame(
            {
                "run_id": run_id,
                "segment_id": segment_ids.reindex(labels[kept]).to_numpy(),
                "customer_id": customer_ids.to_numpy()[kept],
                "distance": np.where(np.isfinite(distance), np.round(distance, 4), np.nan),
                "nearest_segment_index": pd.array(np.where(nearest >= 0, nearest, -1), dtype="Int64"),
            }
        )
        memberships.loc[memberships["nearest_segment_index"] < 0, "nearest_segment_index"] = pd.NA
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

        run = job_succeed(
            SegmentationRun, pk=run_id,  # raises JobCancelled, rolling the writes back, when cancelled
            projection=projection,
            selection=json_safe(asdict(result.selection)) if result.selection else {},
            stability=json_safe(asdict(result.stability)) if result.stability else {},
            preprocessing=json_safe(result.preprocessing or {}),
            notes=list(result.notes),
            model_file=model_name,
            model_info=json_safe(getattr(result.model, "versions", {}) or {}),
            metrics=json_safe({
                **result.metrics,
                "timings": {
                    **timings,
                    "write_seconds": round(write_seconds, 3),
                    "total_seconds": round(time.monotonic() - started, 3),
                },
                "sizes": [profile.size for profile in result.segments],
            }),
        )
    # fresh statistics and visibility for the table that just grew by a run's customers:
    # the persona card's join and the membership API's index-only page reads
    refresh_statistics(Membership, vacuum=True)
    logger.info("segments.run_succeeded run_id=%s sizes=%s", run_id, run.metrics["sizes"])


