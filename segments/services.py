"""Writes for segmentation runs: create, execute (the job body), cancel, publish."""

from __future__ import annotations

import functools
import io
import logging
import time
from dataclasses import asdict

import joblib
import numpy as np
import pandas as pd
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from customers.features import categorical_features
from customers.selectors import (
    customer_count_estimate,
    customer_count_up_to,
    customer_external_ids,
    customer_feature_frame,
    customer_ids_by_external_id,
    feature_catalogue,
    has_transactions,
)
from custseg_site.bulk import insert_frame, refresh_statistics
from custseg_site.job_rows import MAX_ATTEMPTS as JOB_MAX_ATTEMPTS
from custseg_site.jobs import enqueue_or_fail
from custseg_site.json_safe import json_safe
from custseg_site.tasks import warm_page_caches_enqueue
from integrations.services import webhooks
from segments import ml
from segments.models import Membership, Segment, SegmentationRun
from segments.options import describe, engine_config, parse_options
from segments.personas.services import personas_relink, run_publication_record

logger = logging.getLogger(__name__)


class RunCancelled(Exception):
    """The run was cancelled while it was being computed."""


def run_validate(*, features: list[str], **options) -> dict:
    """Check a run's options against the data; return the config to store.

    `options` are the run options of segments.options (algorithm, k, k_min, ...), raw or
    typed; missing ones take their defaults. Raises ValidationError with a message per
    field, meant for the person who asked.
    """
    config, errors = parse_options(options)
    if isinstance(features, str):
        features = features.split(",")
    features = [str(name).strip() for name in features if name and str(name).strip()]
    if not features:
        errors.setdefault("features", []).append("Choose at least one feature.")
    catalogue = feature_catalogue()
    unknown = [name for name in features if name not in catalogue]
    if unknown:
        errors.setdefault("features", []).append(
            f"Unknown feature(s): {', '.join(unknown)}. Available: {', '.join(catalogue)}."
        )
    if len(set(features)) != len(features):
        errors.setdefault("features", []).append("Each feature can be chosen only once.")
    config["features"] = features
    categorical = categorical_features(features, catalogue)
    if not errors:
        _check_options(config, categorical, errors)
    if not errors:
        k = config["k"] if config["algorithm"] in ml.K_ALGORITHMS else None
        smallest = (config["k_min"] if k == "auto" else k) or ml.MIN_K
        # Counting stops just past k: no COUNT(*) over a million customers for this check.
        customers = customer_count_up_to(max(smallest, config["k_max"] if k == "auto" else smallest))
        if customers == 0:
            errors.setdefault("__all__", []).append(
                "There are no customers yet. Import customers or load demo data "
                "(python manage.py demo_data) first."
            )
        elif k is not None and smallest >= customers:
            errors.setdefault("k", []).append(
                f"k = {smallest} is more than the {customers:,} customers there are."
                if smallest > customers else
                f"k = {smallest} would put each of the {customers:,} customers in a segment of its own."
            )
        needs_purchases = [name for name in features if catalogue[name].needs_transactions]
        if customers and needs_purchases and not has_transactions():
            errors.setdefault("features", []).append(
                f"{', '.join(needs_purchases)} need purchase history, and there are no "
                "transactions yet. Import transactions, or choose age or annual income."
            )
    if errors:
        raise ValidationError(errors)
    if config["algorithm"] not in ml.K_ALGORITHMS:
        config["k"] = None
    return config


RFM_FEATURES = ("recency", "frequency", "monetary")


def _check_options(config: dict, categorical: tuple[str, ...], errors: dict) -> None:
    """Checks that need several options together; the engine repeats them on the data."""
    algorithm, features = config["algorithm"], config["features"]
    if config["k_min"] > config["k_max"]:
        errors.setdefault("k_max", []).append(
            f"The largest k ({config['k_max']}) is below the smallest ({config['k_min']})."
        )
    if config["k_rule"] in ("bic", "aic") and algorithm != "gmm" and config["k"] == "auto":
        errors.setdefault("k_rule", []).append(
            f"{config['k_rule'].upper()} needs a likelihood: choose the Gaussian mixture algorithm, "
            "or another rule."
        )
    if algorithm == "kprototypes" and not categorical:
        errors.setdefault("features", []).append(
            "k-prototypes mixes numbers with categories: choose at least one categorical "
            "feature (such as country or gender), or use k-means."
        )
    if algorithm == "kprototypes" and len(categorical) == len(features):
        errors.setdefault("features", []).append(
            "k-prototypes needs at least one number feature besides the categories."
        )
    if algorithm == "rfm":
        missing = [name for name in RFM_FEATURES if name not in features]
        if missing:
            errors.setdefault("features", []).append(
                f"RFM rules score recency, frequency and monetary: add {', '.join(missing)}."
            )
    log = config["log_features"]
    if isinstance(log, list):
        stray = [name for name in log if name not in features or name in categorical]
        if stray:
            errors.setdefault("log_features", []).append(
                f"Only chosen number features can be log-transformed: {', '.join(stray)}."
            )
    if errors:
        return  # the checks above name the field; the engine's would repeat them without
    try:
        # everything else the engine refuses on any data (eps = 0, ...), said before the run
        ml.validate_config(engine_config(
            config, categorical=categorical, silhouette_sample=settings.SEGMENTS_SILHOUETTE_SAMPLE,
            scatter_sample=settings.SEGMENTS_SCATTER_SAMPLE,
        ))
    except ml.SegmentationError as exc:
        errors.setdefault("__all__", []).append(str(exc))


@transaction.atomic
def run_create(*, features: list[str], name: str = "", created_by=None, **options) -> SegmentationRun:
    """Validate, store a pending run and enqueue its job once the row is committed."""
    config = run_validate(features=features, **options)
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
    return f"{describe(config)} on {', '.join(labels)}"[:200]


def _enqueue(run_id: int) -> None:
    from segments.tasks import run_segmentation

    enqueue_or_fail(run_segmentation, run_id, event="segments.run_enqueue_failed",
                    mark_failed=lambda pk, error: run_mark_failed(run_id=pk, error=error),
                    error="The job queue (Redis) could not be reached, so the run was not started. Check that "
                          "Redis and a worker are running, then start the run again.")


def _set_progress(run_id: int, percent: int, stage: str) -> None:
    """Record progress; raise RunCancelled when the run is no longer running."""
    updated = SegmentationRun.objects.filter(
        pk=run_id, status=SegmentationRun.Status.RUNNING
    ).update(progress=max(0, min(100, percent)), stage=stage[:200])
    if not updated:
        raise RunCancelled


# Claims of a run before it is failed instead of tried again: see custseg_site.job_rows.
MAX_ATTEMPTS = JOB_MAX_ATTEMPTS


def _claim(run_id: int) -> SegmentationRun | None:
    with transaction.atomic():
        run = SegmentationRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status not in SegmentationRun.ACTIVE_STATUSES:
            # Redelivered or cancelled: the work is done or not wanted.
            return None
        if run.attempts >= MAX_ATTEMPTS:
            run.status, run.stage = SegmentationRun.Status.FAILED, "Failed"
            run.error = (
                f"The run was started {run.attempts} times without finishing: its worker stopped "
                "(out of memory, or killed) or the database or Redis could not be reached. Try fewer "
                "customers or features, or a worker with more memory."
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


# Revenue per segment (share of revenue on the run page) is the customers' net spend.
REVENUE_FEATURE = "monetary"


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
        catalogue = feature_catalogue()
        features = list(run.config["features"])
        categorical = categorical_features(features, catalogue)
        revenue = REVENUE_FEATURE if REVENUE_FEATURE in catalogue and has_transactions() else None
        config = engine_config(
            run.config, categorical=categorical, revenue=revenue,
            feature_labels={name: definition.label for name, definition in catalogue.items()},
            silhouette_sample=settings.SEGMENTS_SILHOUETTE_SAMPLE,
            scatter_sample=settings.SEGMENTS_SCATTER_SAMPLE,
        )
        _set_progress(run_id, 2, "Loading customer features")
        total = max(customer_count_estimate(), 1)

        def loading(rows: int) -> None:
            # loading is the first 2-10 % of the job; checks for cancel as it goes
            _set_progress(run_id, 2 + 8 * min(rows, total) // total, f"Loading customer features: {rows:,} of {total:,}")

        columns = features + ([revenue] if revenue and revenue not in features else [])
        frame = customer_feature_frame(features=columns, progress=loading)
        loaded = time.monotonic()

        def report(percent: int, stage: str) -> None:
            # the engine's 0-100 maps onto 10-85 of the whole job
            _set_progress(run_id, 10 + percent * 75 // 100, stage)

        result = ml.segment(frame, config, progress=report)
        fitted = time.monotonic()
        _set_progress(run_id, 86, "Saving the fitted model")
        model_name = _save_model(run_id, result.model)
        _set_progress(run_id, 88, f"Writing {int((result.labels >= 0).sum()):,} memberships")
        _persist(run_id, frame.index, result, model_name=model_name, timings={
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

        run = SegmentationRun.objects.select_for_update().get(pk=run_id)
        if run.status != SegmentationRun.Status.RUNNING:
            raise RunCancelled  # rolls the writes back
        run.projection = projection
        run.selection = json_safe(asdict(result.selection)) if result.selection else {}
        run.stability = json_safe(asdict(result.stability)) if result.stability else {}
        run.preprocessing = json_safe(result.preprocessing or {})
        run.notes = list(result.notes)
        run.model_file = model_name
        run.model_info = json_safe(getattr(result.model, "versions", {}) or {})
        run.metrics = json_safe({
            **result.metrics,
            "timings": {
                **timings,
                "write_seconds": round(write_seconds, 3),
                "total_seconds": round(time.monotonic() - started, 3),
            },
            "sizes": [profile.size for profile in result.segments],
        })
        run.status = SegmentationRun.Status.SUCCEEDED
        run.progress, run.stage = 100, "Done"
        run.finished_at = timezone.now()
        run.save()
    # fresh statistics and visibility for the table that just grew by a run's customers:
    # the persona card's join and the membership API's index-only page reads
    refresh_statistics(Membership, vacuum=True)
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
    transaction.on_commit(warm_page_caches_enqueue)
    logger.info("segments.run_published run_id=%s", run.pk)
    return run


class AssignError(Exception):
    """Customers cannot be assigned; the message is meant for the caller."""


# One request assigns at most this many customers: a batch for an integration, small
# enough that the request never holds more than a few MB.
MAX_ASSIGN_BATCH = 1000


@functools.lru_cache(maxsize=4)
def _load_model(run_id: int, name: str):
    with default_storage.open(name, "rb") as handle:
        return joblib.load(handle)


def _library_mismatch(model_info: dict) -> str:
    import sklearn

    current = {"scikit-learn": sklearn.__version__, "numpy": np.__version__, "pandas": pd.__version__}
    stored = {key.replace("sklearn", "scikit-learn"): value for key, value in (model_info or {}).items()}
    differing = [f"{lib} {stored[lib]} (this server has {version})" for lib, version in current.items()
                 if lib in stored and stored[lib] != version]
    return ", ".join(differing)


def customers_assign(*, run: SegmentationRun, external_ids: list[str] | None = None,
                     rows: list[dict] | None = None) -> list[dict]:
    """Assign customers to the segments of `run` with its stored preprocessing and model.

    `external_ids` are existing customers (their current features are read); `rows` are
    feature values of customers not imported yet ({"recency": 12, "monetary": 340, ...};
    a feature left out counts as missing and is filled the way the run filled gaps).
    """
    if run.status != SegmentationRun.Status.SUCCEEDED:
        raise AssignError(f"Run #{run.pk} is {run.status}; only a finished run can assign customers.")
    if not run.model_file:
        raise AssignError(f"Run #{run.pk} has no stored model (it was made before models were kept). "
                          "Start a new run to assign customers.")
    if bool(external_ids) == bool(rows):
        raise AssignError("Give either external_ids or rows (feature values), not both and not neither.")
    batch = external_ids or rows
    if len(batch) > MAX_ASSIGN_BATCH:
        raise AssignError(f"At most {MAX_ASSIGN_BATCH:,} customers per request; got {len(batch):,}.")
    mismatch = _library_mismatch(run.model_info)
    if mismatch:
        raise AssignError(f"Run #{run.pk}'s model was made with {mismatch}. Start a new run on this server.")
    features = list(run.config["features"])
    if external_ids:
        ids = customer_ids_by_external_id(external_ids=external_ids)
        unknown = [external_id for external_id in external_ids if external_id not in ids]
        if unknown:
            raise AssignError(f"No customer with external id {', '.join(map(str, unknown[:10]))}"
                              f"{' and others' if len(unknown) > 10 else ''}.")
        frame = customer_feature_frame(features=features, customer_ids=[ids[e] for e in external_ids])
        keys = [{"external_id": external_id} for external_id in external_ids]
    else:
        stray = sorted({name for row in rows if isinstance(row, dict) for name in row} - set(features))
        if any(not isinstance(row, dict) for row in rows):
            raise AssignError("Each row must be an object of feature values.")
        if stray:
            raise AssignError(f"Run #{run.pk} was made on {', '.join(features)}; unknown: {', '.join(stray)}.")
        frame = _rows_frame(rows, features)
        keys = [{"row": position} for position in range(len(rows))]
    model = _load_model(run.pk, run.model_file.name)
    try:
        assigned = model.assign(frame)
    except ml.SegmentationError as exc:
        raise AssignError(str(exc)) from exc
    segments = {s.index: s for s in run.segments.all()}
    results = []
    for key, label, distance, nearest in zip(keys, assigned.labels, assigned.distance, assigned.nearest_other):
        segment = segments.get(int(label))
        other = segments.get(int(nearest)) if nearest is not None and int(nearest) >= 0 else None
        results.append({
            **key,
            "segment": {"id": segment.pk, "index": segment.index, "name": segment.display_name} if segment else None,
            "distance": float(distance) if distance is not None and np.isfinite(distance) else None,
            "nearest_other": {"id": other.pk, "index": other.index, "name": other.display_name} if other else None,
        })
    return results


def _rows_frame(rows: list[dict], features: list[str]) -> pd.DataFrame:
    catalogue = feature_catalogue()
    frame = pd.DataFrame.from_records(rows, columns=features)
    for name in features:
        if name in catalogue and catalogue[name].categorical:
            frame[name] = frame[name].astype("object").where(frame[name].notna(), None).astype("category")
        else:
            numbers = pd.to_numeric(frame[name], errors="coerce")
            bad = frame[name].notna() & numbers.isna()
            if bad.any():
                raise AssignError(f"{name} must be a number; got {frame[name][bad].iloc[0]!r}.")
            frame[name] = numbers.astype("float64")
    return frame
