"""Writes for segmentation runs before and after their job: validate, create, cancel."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from customers.features import categorical_features
from customers.selectors import (
    clv_reliability,
    customer_count_up_to,
    feature_catalogue,
    feature_snapshot_current,
    has_transactions,
)
from custseg_site.jobs.lifecycle import job_cancel, job_enqueue
from segments import ml
from segments.models import SegmentationRun
from segments.options import describe, engine_config, parse_options

logger = logging.getLogger(__name__)


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
    if "p_alive" in features:
        reliability = clv_reliability(snapshot=feature_snapshot_current())
        if reliability is not None and not reliability["p_alive_reliable"]:
            # the snapshot has no chance still active for anyone: said here, not by the engine
            errors.setdefault("features", []).append(
                "Chance still active is not reliable for this data, so no customer has one (the "
                "Features page says why): choose other features."
            )
    config["features"] = features
    categorical = categorical_features(features, catalogue)
    # Each check runs when the options it reads parsed, whatever the others' errors: one
    # answer names every problem instead of one more on each try.
    _check_options(config, categorical, errors)
    if _parsed(config, "algorithm", "k", "k_min", "k_max") and not errors.keys() & {"k", "k_min", "k_max"}:
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
        needs_purchases = [name for name in features if name in catalogue and catalogue[name].needs_transactions]
        if customers and needs_purchases and "features" not in errors and not has_transactions():
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


def _parsed(config: dict, *names: str) -> bool:
    """Whether these options parsed (parse_options leaves out those that did not)."""
    return all(name in config for name in names)


def _check_options(config: dict, categorical: tuple[str, ...], errors: dict) -> None:
    """Checks that need several options together, each when its options parsed; the engine
    repeats them on the data."""
    algorithm, features = config.get("algorithm"), config["features"]
    # checks of the chosen features only once the features themselves are fine
    if "features" in errors:
        algorithm, log = None, None
    else:
        log = config.get("log_features")
    if _parsed(config, "k_min", "k_max") and config["k_min"] > config["k_max"]:
        errors.setdefault("k_max", []).append(
            f"The largest k ({config['k_max']}) is below the smallest ({config['k_min']})."
        )
    if _parsed(config, "k_rule", "algorithm", "k") and config["k_rule"] in ("bic", "aic") \
            and config["algorithm"] != "gmm" and config["k"] == "auto":
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
    job_enqueue(run)
    logger.info("segments.run_created run_id=%s config=%s", run.pk, config)
    return run


def _default_name(config: dict) -> str:
    catalogue = feature_catalogue()
    labels = [catalogue[name].label if name in catalogue else name for name in config["features"]]
    return f"{describe(config)} on {', '.join(labels)}"[:200]


def run_cancel(*, run: SegmentationRun) -> bool:
    """Cancel a pending or running run; the worker stops at its next progress report."""
    return job_cancel(run)
