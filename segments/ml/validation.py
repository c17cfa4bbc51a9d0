"""Checks of a segmentation config that hold on any data: said before a run starts (the
service calls them when the run is created) and again by the engine."""

from __future__ import annotations

from segments.ml.types import (
    ALGORITHMS,
    GMM_COVARIANCES,
    K_ALGORITHMS,
    K_RULES,
    LINKAGES,
    MAX_K,
    MIN_K,
    MISSING_STRATEGIES,
    SCALINGS,
    SegmentationConfig,
    SegmentationError,
)

RFM_COLUMNS = ("recency", "frequency", "monetary")


def validate_config(config: SegmentationConfig) -> None:
    """Raise SegmentationError, in words for the user, for a config that cannot run on any data."""
    def choose(value, allowed, what):
        if value not in allowed:
            raise SegmentationError(f"Unknown {what} {value!r}; choose one of {', '.join(allowed)}.")

    choose(config.algorithm, ALGORITHMS, "algorithm")
    choose(config.scaling, SCALINGS, "scaling")
    choose(config.missing, MISSING_STRATEGIES, "missing-value strategy")
    choose(config.gmm_covariance, GMM_COVARIANCES, "covariance type")
    choose(config.linkage, LINKAGES, "linkage")
    if not config.features:
        raise SegmentationError("Choose at least one feature.")
    if len(set(config.features)) != len(config.features):
        raise SegmentationError("Each feature can be chosen only once.")
    stray = [name for name in config.categorical if name not in config.features]
    if stray:
        raise SegmentationError(f"Categorical feature(s) {', '.join(stray)} are not among the chosen features.")
    takes_k = config.algorithm in K_ALGORITHMS
    if takes_k and config.k is not None and not MIN_K <= config.k <= MAX_K:
        raise SegmentationError(f"k must be between {MIN_K} and {MAX_K}; got {config.k}.")
    if takes_k and config.k is None:
        if not MIN_K <= config.k_min <= config.k_max <= MAX_K:
            raise SegmentationError(
                f"The range of k to try must lie within {MIN_K}-{MAX_K} with the smallest first; "
                f"got {config.k_min}-{config.k_max}."
            )
        choose(config.k_rule, K_RULES, "rule for choosing k")
        if config.k_rule in ("bic", "aic") and config.algorithm != "gmm":
            raise SegmentationError(
                f"Choosing k by {config.k_rule.upper()} needs a likelihood, which only the Gaussian "
                f"mixture (gmm) has; choose gmm or another rule (silhouette, elbow, ...)."
            )
    if config.algorithm == "kprototypes":
        if not config.categorical:
            raise SegmentationError(
                "k-prototypes is for a mix of numeric and categorical features; no categorical feature "
                "is chosen. Use k-means for numeric features only."
            )
        if len(config.categorical) == len(config.features):
            raise SegmentationError("k-prototypes needs at least one numeric feature besides the categorical ones.")
    if config.algorithm == "rfm":
        absent = [name for name in RFM_COLUMNS if name not in config.features]
        if absent:
            raise SegmentationError(
                f"RFM segments need recency, frequency and monetary among the features; missing: {', '.join(absent)}."
            )
    if isinstance(config.log_features, str) and config.log_features != "auto":
        raise SegmentationError('log features must be a list of features or "auto".')
    if config.clip_quantiles is not None:
        low, high = config.clip_quantiles
        if not 0 <= low < high <= 1:
            raise SegmentationError(f"Clipping quantiles must satisfy 0 <= low < high <= 1; got {low}, {high}.")
    if config.eps is not None and config.eps <= 0:
        raise SegmentationError("eps must be greater than 0.")
    if config.min_samples < 1:
        raise SegmentationError("min_samples must be at least 1.")
    if config.min_cluster_size is not None and config.min_cluster_size < 2:
        raise SegmentationError("The smallest segment size (min_cluster_size) must be at least 2.")
    if config.stability_resamples < 0:
        raise SegmentationError("The number of stability resamples cannot be negative.")
    if config.silhouette_sample < 2 or config.scatter_sample < 1:
        raise SegmentationError("The silhouette sample needs at least 2 customers and the scatter sample at least 1.")
